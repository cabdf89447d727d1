import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import spacy
from spacy.language import Language

from nlp.abbreviations import (
    DEFAULT_TABLE,
    AbbreviationTableError,
    AbbreviationUse,
    abbreviation_uses,
    load_table,
)


@pytest.fixture(scope="module")
def nlp() -> Language:
    pipeline = spacy.blank("en")
    pipeline.add_pipe("sentencizer")
    pipeline.add_pipe("medcode_abbreviations")
    return pipeline


def uses(nlp: Language, text: str) -> list[AbbreviationUse]:
    return abbreviation_uses(nlp(text))


def expansions(nlp: Language, text: str) -> dict[str, list[str]]:
    """Abbreviation as written -> what each occurrence, in order, was read as."""
    found: dict[str, list[str]] = {}
    for use in uses(nlp, text):
        found.setdefault(use.short, []).append(use.expansion)
    return found


def expansion_of(nlp: Language, text: str, short: str) -> str | None:
    """What the only occurrence of `short` in text stands for; None if it was not expanded."""
    assert text.count(short) == 1
    found = [u.expansion for u in uses(nlp, text) if text[u.start : u.end] == short]
    return found[0] if found else None


# --- defined in the note ----------------------------------------------------------------


def test_a_definition_in_the_note_expands_every_later_mention(nlp: Language) -> None:
    text = "Admitted with acute kidney injury (AKI). AKI resolved with fluids. Recheck AKI."
    found = uses(nlp, text)
    assert [(text[u.start : u.end], u.expansion, u.source) for u in found] == [
        ("AKI", "acute kidney injury", "defined")
    ] * 3


def test_the_note_s_definition_overrides_the_table(nlp: Language) -> None:
    text = "Visual acuity was 0.6 in the left eye (LE). LE edema was absent. MS of the AML: none."
    assert expansions(nlp, text)["LE"] == ["left eye", "left eye"]
    text = "He had myeloid sarcoma (MS). Relapsing MS was excluded; MS grew."
    assert expansions(nlp, text)["MS"] == ["myeloid sarcoma"] * 3


def test_a_definition_with_the_short_form_first(nlp: Language) -> None:
    text = "MRI showed PRES (posterior reversible encephalopathy syndrome); PRES resolved."
    assert expansions(nlp, text)["PRES"] == ["posterior reversible encephalopathy syndrome"] * 2


def test_a_long_form_may_start_with_in(nlp: Language) -> None:
    text = "After in vitro fertilization treatment (IVF). IVF failed."
    assert expansions(nlp, text)["IVF"] == ["in vitro fertilization treatment"] * 2


def test_parentheses_that_define_nothing_are_not_definitions(nlp: Language) -> None:
    text = "Dose of 5 mg/kg (mg) in series (series). Buenos Aires.\nFluorescence angiography (FFA)."
    assert uses(nlp, text) == []


def test_an_unaligned_definition_blocks_a_table_sense_it_contradicts(nlp: Language) -> None:
    # A translated note: "AO" (ambos ojos) became "OA", which the table reads as osteoarthritis.
    assert "OA" not in expansions(nlp, "Diameters of 12 mm in both eyes (OA). OA was normal.")
    assert expansions(nlp, "Positive for Cytomegalo (CMV). CMV treated.")["CMV"] == [
        "cytomegalovirus",
        "cytomegalovirus",
    ]
    assert expansions(nlp, "Hand pain from osteoarthritis of the hand (OA). OA worse.")["OA"] == [
        "osteoarthritis",
        "osteoarthritis",
    ]


# --- the table ----------------------------------------------------------------------------


def test_table_abbreviations_are_expanded(nlp: Language) -> None:
    text = "PMH: HTN, T2DM, CHF, COPD, CKD stage 3, s/p CABG. Hx of NSTEMI. TURP in 2019."
    assert {k: v[0] for k, v in expansions(nlp, text).items()} == {
        "HTN": "hypertension",
        "T2DM": "type 2 diabetes mellitus",
        "CHF": "congestive heart failure",
        "COPD": "chronic obstructive pulmonary disease",
        "CKD": "chronic kidney disease",
        "CABG": "coronary artery bypass graft",
        "NSTEMI": "non-ST elevation myocardial infarction",
        "TURP": "transurethral resection of prostate",
    }


def test_multi_token_forms_are_expanded(nlp: Language) -> None:
    text = "Paroxysmal A-fib. C. diff colitis. N/V for 2 days. H. pylori positive."
    assert {k: v[0] for k, v in expansions(nlp, text).items()} == {
        "A-fib": "atrial fibrillation",
        "C. diff": "Clostridium difficile infection",
        "N/V": "nausea and vomiting",
        "H. pylori": "Helicobacter pylori",
    }


def test_the_longest_form_wins_over_one_inside_it(nlp: Language) -> None:
    text = "Known DM-2 on metformin."
    assert [(u.short, u.expansion) for u in uses(nlp, text)] == [
        ("DM-2", "type 2 diabetes mellitus")
    ]


def test_abbreviations_inside_names_of_tracers_and_regimens_are_not_expanded(
    nlp: Language,
) -> None:
    text = "123I-MI scintigraphy, then FLAG-IDA. Post-MI angina."
    assert [(u.short, u.start) for u in uses(nlp, text)] == [("MI", text.index("Post-MI") + 5)]


# --- case --------------------------------------------------------------------------------


def test_safe_abbreviations_match_in_any_case(nlp: Language) -> None:
    assert expansions(nlp, "hx of htn and copd.") == {
        "htn": ["hypertension"],
        "copd": ["chronic obstructive pulmonary disease"],
    }


@pytest.mark.parametrize(
    "text",
    [
        "We checked all of them in the leukemia ward.",
        "As noted, she was as well as before; the aortic valve is fine.",
        "The pt had 2 ms of delay with relapsing symptoms.",
        "Mild cad of a man; pad the dressing.",
        "Doses of 5 mm twice with myeloma drugs.",
    ],
)
def test_lower_case_english_words_are_not_abbreviations(nlp: Language, text: str) -> None:
    assert uses(nlp, text) == []


def test_words_that_are_abbreviations_in_capitals_are_expanded_in_capitals(nlp: Language) -> None:
    assert expansion_of(nlp, "History of CAD with stents.", "CAD") == "coronary artery disease"
    assert expansion_of(nlp, "Pre-B ALL in first remission.", "ALL") == (
        "acute lymphoblastic leukemia"
    )


def test_a_line_written_in_capitals_tells_nothing_by_case(nlp: Language) -> None:
    assert uses(nlp, "PATIENT HAS ALL THE SAME COMPLAINTS AND THE CAD WAS OK.") == []
    # A list of abbreviations is no shouted sentence.
    assert expansions(nlp, "PMH: HTN, CAD, COPD")["CAD"] == ["coronary artery disease"]


# --- ambiguous abbreviations -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "short", "expected"),
    [
        # PE
        ("CTA showed a PE in the right lower lobe; started heparin.", "PE", "pulmonary embolism"),
        ("Admitted to rule out PE today.", "PE", "pulmonary embolism"),
        ("Elevated D-dimer, concern for PE.", "PE", "pulmonary embolism"),
        ("PE: normal vital signs, lungs clear.", "PE", "physical examination"),
        ("Cough.\n  PE:\nGeneral: well.", "PE", "physical examination"),
        ("PE unremarkable.", "PE", "physical examination"),
        ("Murmur heard on PE today.", "PE", "physical examination"),
        ("Large PE drained by thoracentesis.", "PE", "pleural effusion"),
        ("History notable for PE.", "PE", None),
        ("CTA chest negative for PE: normal study.", "PE", "pulmonary embolism"),
        ("Chest tube placed; PE and a new DVT.", "PE", None),
        # MS
        ("Relapsing-remitting MS on natalizumab.", "MS", "multiple sclerosis"),
        ("Severe MS with a mitral valve area of 1 cm2.", "MS", "mitral stenosis"),
        ("MS 4 mg IV every 4 hours.", "MS", "morphine sulfate"),
        ("Altered MS overnight.", "MS", "mental status"),
        ("MS was discussed.", "MS", None),
        # RA
        ("Seropositive RA on methotrexate.", "RA", "rheumatoid arthritis"),
        ("Echo showed a dilated RA.", "RA", "right atrium"),
        ("Saturating 96% on RA.", "RA", "room air"),
        ("RA was noted.", "RA", None),
        # ALL
        ("ALL in remission after induction chemotherapy.", "ALL", "acute lymphoblastic leukemia"),
        ("ALL were negative.", "ALL", None),
        # CA
        ("Breast CA diagnosed in 2015.", "CA", "cancer"),
        ("Serum Ca 9.8 mg/dL, phosphorus normal.", "Ca", "calcium"),
        ("CA 19-9 of 300 U/mL.", "CA", "cancer antigen"),
        ("CA is pending.", "CA", None),
        # PT
        ("PT 14.2 s, INR 1.3.", "PT", "prothrombin time"),
        ("Continue PT for gait training.", "PT", "physical therapy"),
        ("PT called the ward.", "PT", None),
        # DM
        ("DM type 2 on insulin.", "DM", "diabetes mellitus"),
        ("PMH: HTN, DM, dyslipidemia.", "DM", "diabetes mellitus"),
        ("DM with heliotrope rash and raised creatine kinase.", "DM", "dermatomyositis"),
        ("DM was mentioned.", "DM", None),
        # MR
        ("Moderate MR on echo.", "MR", "mitral regurgitation"),
        ("MR angiography of the head.", "MR", "magnetic resonance"),
        ("MR was seen in clinic.", "MR", None),
        # AS
        ("Severe AS, referred for TAVR.", "AS", "aortic stenosis"),
        ("AS with sacroiliitis and HLA-B27 positive.", "AS", "ankylosing spondylitis"),
        ("AS above.", "AS", None),
        # AR
        ("Mild AR without LV dilation.", "AR", "aortic regurgitation"),
        ("Seasonal AR treated with cetirizine.", "AR", "allergic rhinitis"),
        ("AR pattern of inheritance.", "AR", "autosomal recessive"),
        ("AR reviewed.", "AR", None),
        # LE
        ("Bilateral LE edema.", "LE", "lower extremity"),
        ("Intraocular pressure was 18 mmHg in the LE.", "LE", "left eye"),
        ("Discoid LE of the scalp.", "LE", "lupus erythematosus"),
        ("LE reviewed.", "LE", None),
        # others
        ("Known MM on lenalidomide.", "MM", "multiple myeloma"),
        ("Lesion of 5 MM.", "MM", None),
        ("On HD three times a week via AV fistula.", "HD", "hemodialysis"),
        ("Presented to the ED with fever.", "ED", "emergency department"),
        ("ED treated with sildenafil.", "ED", "erectile dysfunction"),
        ("Denies SI or HI.", "SI", "suicidal ideation"),
        ("SI joint injection.", "SI", "sacroiliac"),
        ("PD with tremor on levodopa.", "PD", "Parkinson disease"),
        ("PD catheter exit site infection.", "PD", "peritoneal dialysis"),
    ],
)
def test_an_ambiguous_abbreviation_is_expanded_only_when_its_context_is_clear(
    nlp: Language, text: str, short: str, expected: str | None
) -> None:
    assert expansion_of(nlp, text, short) == expected


def test_one_note_can_use_an_ambiguous_abbreviation_in_two_senses(nlp: Language) -> None:
    text = "PE: lungs clear, no edema.\nCTA chest showed a saddle PE; heparin started."
    assert expansions(nlp, text)["PE"] == ["physical examination", "pulmonary embolism"]


def test_cues_are_read_in_the_sentence_only(nlp: Language) -> None:
    text = "Started warfarin last year. RA was noted."
    assert expansion_of(nlp, text, "RA") is None


def test_without_sentences_cues_are_read_in_the_line() -> None:
    pipeline = spacy.blank("en")
    pipeline.add_pipe("medcode_abbreviations")
    text = "Seropositive RA. On methotrexate.\nRA: see above."
    found = abbreviation_uses(pipeline(text))
    assert [(u.start, u.expansion) for u in found] == [(13, "rheumatoid arthritis")]


# --- offsets, empty input, determinism ------------------------------------------------------


def test_offsets_index_the_original_text_with_unicode_and_crlf(nlp: Language) -> None:
    text = (
        "Café patient — naïve 😀.\r\nDx: acute kidney injury (AKI)\r\n\r\nHTN; AKI\u00a0resolved."
    )
    found = uses(nlp, text)
    assert [(text[u.start : u.end], u.short, u.source) for u in found] == [
        ("AKI", "AKI", "defined"),
        ("HTN", "HTN", "table"),
        ("AKI", "AKI", "defined"),
    ]
    assert [u.start for u in found] == sorted(u.start for u in found)


def test_an_empty_or_blank_doc_has_no_abbreviations(nlp: Language) -> None:
    assert uses(nlp, "") == []
    assert uses(nlp, "  \r\n\n ") == []


def test_reading_is_deterministic_and_keeps_no_state_between_docs(nlp: Language) -> None:
    first = "Acute kidney injury (AKI) on CKD. PE: normal. HTN."
    second = "AKI again. The LE was swollen with edema."
    before = uses(nlp, first), uses(nlp, second)
    for _ in range(3):
        assert (uses(nlp, first), uses(nlp, second)) == before
    assert [u.source for u in before[1]] == ["table", "table"]
    assert [d.text for d in nlp.pipe([first, second])] == [first, second]


def test_one_pipeline_serves_concurrent_requests(nlp: Language) -> None:
    texts = [
        "Acute kidney injury (AKI). AKI better.",
        "Left eye (LE) pressure 18. LE fine.",
        "Bilateral LE edema, HTN.",
        "PE: normal. Saddle PE on CTA.",
    ] * 25
    expected = [uses(nlp, t) for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(lambda t: uses(nlp, t), texts)) == expected


def test_a_doc_not_read_by_the_component_has_none(nlp: Language) -> None:
    assert abbreviation_uses(spacy.blank("en")("HTN")) == []


# --- the table file -------------------------------------------------------------------------


def test_the_shipped_table_loads_with_clear_ambiguity_rules() -> None:
    entries = load_table(DEFAULT_TABLE)
    assert len(entries) >= 150
    ambiguous = {form for e in entries if e.senses for form in e.forms}
    assert {"PE", "MS", "RA", "ALL", "CA", "PT", "DM", "MR", "AS", "AR", "LE"} <= ambiguous
    assert not any(e.ignore_case for e in entries if e.senses)


def test_the_component_config_is_json(nlp: Language) -> None:
    config = nlp.config["components"]["medcode_abbreviations"]
    assert json.loads(json.dumps(dict(config))) == {
        "factory": "medcode_abbreviations",
        "detect_defined": True,
        "table_path": None,
    }


def test_a_custom_table_and_no_definitions(tmp_path: Path) -> None:
    table = tmp_path / "table.json"
    table.write_text(json.dumps({"entries": [{"forms": ["XYZ"], "expansion": "xylophone"}]}))
    pipeline = spacy.blank("en")
    pipeline.add_pipe(
        "medcode_abbreviations", config={"table_path": str(table), "detect_defined": False}
    )
    found = abbreviation_uses(pipeline("Played the xylo (XY). XYZ and HTN."))
    assert [(u.short, u.expansion) for u in found] == [("XYZ", "xylophone")]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([{"forms": ["A1"]}], "either an expansion or senses"),
        ([{"forms": ["A1"], "expansion": "x", "senses": []}], "either an expansion or senses"),
        ([{"forms": ["A1"], "expansion": "x", "colour": "red"}], "unknown keys"),
        ([{"forms": ["A1"], "senses": [{"expansion": "x"}]}], "has no rule"),
        (
            [{"forms": ["A1"], "ignore_case": True, "senses": [{"expansion": "x", "cues": ["y"]}]}],
            "own case",
        ),
        ([{"forms": ["A1"], "senses": [{"expansion": "x", "cues": ["y*z"]}]}], "bad phrase"),
        ([{"forms": ["A1"], "expansion": "x"}, {"forms": ["A1"], "expansion": "y"}], "also in"),
        (
            [
                {"forms": ["Ab"], "expansion": "x"},
                {"forms": ["AB"], "expansion": "y", "ignore_case": True},
            ],
            "also in",
        ),
    ],
)
def test_a_malformed_table_is_refused_with_a_clear_error(
    tmp_path: Path, entries: list[dict[str, object]], message: str
) -> None:
    table = tmp_path / "table.json"
    table.write_text(json.dumps({"entries": entries}))
    with pytest.raises(AbbreviationTableError, match=message):
        load_table(table)

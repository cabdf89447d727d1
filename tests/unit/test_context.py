import random

import pytest
from medspacy.common.medspacy_matcher import MedspacyMatcher
from medspacy.common.util import prune_overlapping_matches
from medspacy.context import ConTextGraph, ConTextModifier
from spacy.language import Language
from spacy.tokens import Doc, Span

from nlp.context import (
    MENTIONS_KEY,
    _Cue,
    _edges,
    _limit_scopes,
    _scope,
    assertion_of,
    load_context_rules,
    set_mentions,
)
from nlp.match_pruning import prune_overlaps
from nlp.mentions import Assertion
from nlp.sections import section_of
from tests.unit.pipelines import assertion_pipeline


@pytest.fixture(scope="module")
def pipeline() -> Language:
    return assertion_pipeline()


def annotate(pipeline: Language, text: str, *mentions: str) -> Doc:
    """Run the pipeline with the first occurrence of each phrase as a mention."""
    doc = pipeline.make_doc(text)
    for name, component in pipeline.pipeline:
        if name == "medcode_context":
            set_mentions(doc, [(text.index(m), text.index(m) + len(m)) for m in mentions])
        doc = component(doc)
    return doc


def assertions(pipeline: Language, text: str, *mentions: str) -> list[Assertion]:
    return [assertion_of(s) for s in annotate(pipeline, text, *mentions).spans[MENTIONS_KEY]]


@pytest.mark.parametrize(
    ("text", "mention", "expected"),
    [
        ("The patient presents with acute appendicitis.", "appendicitis", Assertion.PRESENT),
        ("She denies chest pain or palpitations.", "palpitations", Assertion.NEGATED),
        ("No evidence of pulmonary embolism.", "pulmonary embolism", Assertion.NEGATED),
        ("Suspected community-acquired pneumonia.", "pneumonia", Assertion.POSSIBLE),
        ("R/O acute coronary syndrome.", "acute coronary syndrome", Assertion.POSSIBLE),
        ("Pneumonia versus atelectasis.", "atelectasis", Assertion.POSSIBLE),
        ("CXR: ? left lower lobe pneumonia.", "pneumonia", Assertion.POSSIBLE),
        (
            "History of myocardial infarction in 2015.",
            "myocardial infarction",
            Assertion.HISTORICAL,
        ),
        ("S/p appendectomy as a child.", "appendectomy", Assertion.HISTORICAL),
        ("Her mother had breast cancer.", "breast cancer", Assertion.FAMILY),
        ("Breast cancer in her mother.", "Breast cancer", Assertion.FAMILY),
        ("Return to the ED if chest pain recurs.", "chest pain", Assertion.HYPOTHETICAL),
        ("Should he develop bleeding, stop warfarin.", "bleeding", Assertion.HYPOTHETICAL),
    ],
)
def test_each_assertion_from_its_cue(
    pipeline: Language, text: str, mention: str, expected: Assertion
) -> None:
    assert assertions(pipeline, text, mention) == [expected]


@pytest.mark.parametrize(
    ("text", "mention", "expected"),
    [
        ("Pneumonia was ruled out.", "Pneumonia", Assertion.NEGATED),
        ("Fracture is not seen on the films.", "Fracture", Assertion.NEGATED),
        ("A mass was not identified.", "mass", Assertion.NEGATED),
        # The finding not identified is the one in its own clause, not the diagnosis.
        ("Community-acquired pneumonia, organism not identified.", "pneumonia", Assertion.PRESENT),
        ("Sepsis, source not found.", "Sepsis", Assertion.PRESENT),
        ("Malignancy is unlikely.", "Malignancy", Assertion.NEGATED),
        ("HIV and hepatitis C were negative.", "HIV", Assertion.NEGATED),
        ("Malignancy could not be excluded.", "Malignancy", Assertion.POSSIBLE),
        ("Cellulitis is likely.", "Cellulitis", Assertion.POSSIBLE),
    ],
)
def test_cues_after_the_mention(
    pipeline: Language, text: str, mention: str, expected: Assertion
) -> None:
    assert assertions(pipeline, text, mention) == [expected]


def test_scope_ends_at_the_sentence_end(pipeline: Language) -> None:
    text = "No fever. Cough productive of sputum.\nDenies nausea\nVomiting since noon."
    assert assertions(pipeline, text, "fever", "Cough", "Vomiting") == [
        Assertion.NEGATED,
        Assertion.PRESENT,
        Assertion.PRESENT,
    ]


@pytest.mark.parametrize(
    "text",
    [
        "No fever but productive cough.",
        "No fever; productive cough.",
        "No fever, however productive cough.",
        "She denies fever, although she has productive cough.",
        "Denies medical problems aside from productive cough.",
        "No chest pain, presents with productive cough.",
    ],
)
def test_scope_ends_at_terminators(pipeline: Language, text: str) -> None:
    assert assertions(pipeline, text, "cough") == [Assertion.PRESENT]


def test_a_negative_result_reaches_back_to_the_previous_comma_only(pipeline: Language) -> None:
    text = "Chest pain, troponin negative."
    assert assertions(pipeline, text, "Chest pain", "troponin") == [
        Assertion.PRESENT,
        Assertion.NEGATED,
    ]


@pytest.mark.parametrize(
    ("text", "mention"),
    [
        ("Gram negative rods grew from the blood cultures.", "rods"),
        ("Gram-negative bacteremia treated with cefepime.", "bacteremia"),
        ("No increase in the known renal cyst.", "renal cyst"),
        ("No change in her chronic dementia.", "chronic dementia"),
        ("Not only acute kidney injury but also sepsis.", "acute kidney injury"),
        ("She walks without difficulty despite osteoarthritis.", "osteoarthritis"),
        ("History of present illness: 3 days of dysuria.", "dysuria"),
        ("Prior to admission she had worsening fatigue.", "fatigue"),
        ("He has a 3-day history of cough.", "cough"),
        ("She was brought in by her mother for abdominal pain.", "abdominal pain"),
        ("A man with no relevant medical history of interest and hematuria.", "hematuria"),
    ],
)
def test_pseudo_cues_assert_nothing(pipeline: Language, text: str, mention: str) -> None:
    assert assertions(pipeline, text, mention) == [Assertion.PRESENT]


def test_precedence_between_cues(pipeline: Language) -> None:
    assert assertions(pipeline, "No family history of colon cancer.", "colon cancer") == [
        Assertion.NEGATED
    ]
    assert assertions(pipeline, "Mother had a history of stroke.", "stroke") == [Assertion.FAMILY]
    assert assertions(pipeline, "History of possible TIA.", "TIA") == [Assertion.POSSIBLE]
    # The nearest cue wins: the negation ends where the uncertainty starts.
    assert assertions(pipeline, "No fever, possible pneumonia.", "fever", "pneumonia") == [
        Assertion.NEGATED,
        Assertion.POSSIBLE,
    ]


def test_sections_make_mentions_family_or_historical(pipeline: Language) -> None:
    text = (
        "FAMILY HISTORY:\nColon cancer.\nNo diabetes.\n"
        "PAST SURGICAL HISTORY:\nCholecystectomy.\n"
        "ASSESSMENT:\nPneumonia."
    )
    doc = annotate(pipeline, text, "Colon cancer", "diabetes", "Cholecystectomy", "Pneumonia")
    mentions = list(doc.spans[MENTIONS_KEY])
    assert [section_of(s) for s in mentions] == [
        "family_history",
        "family_history",
        "past_surgical_history",
        "assessment_and_plan",
    ]
    assert [assertion_of(s) for s in mentions] == [
        Assertion.FAMILY,
        Assertion.NEGATED,
        Assertion.HISTORICAL,
        Assertion.PRESENT,
    ]


def test_a_cue_inside_a_mention_does_not_modify_it(pipeline: Language) -> None:
    text = "Type 2 diabetes mellitus without complications."
    assert assertions(pipeline, text, text[:-1]) == [Assertion.PRESENT]


def test_a_doc_without_mentions_passes_through(pipeline: Language) -> None:
    doc = pipeline("No fever. Possible pneumonia.")
    assert MENTIONS_KEY not in doc.spans or len(doc.spans[MENTIONS_KEY]) == 0


def test_set_mentions_widens_to_whole_tokens_and_rejects_blanks(pipeline: Language) -> None:
    doc = pipeline.make_doc("Acute pancreatitis.  ")
    set_mentions(doc, [(2, 9)])
    assert doc.spans[MENTIONS_KEY][0].text == "Acute pancreatitis"
    with pytest.raises(ValueError, match="no tokens"):
        set_mentions(doc, [(19, 20)])


def test_the_rules_file_loads_from_the_package(pipeline: Language) -> None:
    rules, terminating = load_context_rules(pipeline)
    categories = {r.category for r in rules}
    assert {"NEGATED_EXISTENCE", "POSSIBLE_EXISTENCE", "HISTORICAL", "FAMILY"} <= categories
    assert {"HYPOTHETICAL", "TERMINATE", "PSEUDO"} <= categories
    assert "POSSIBLE_EXISTENCE" in terminating["NEGATED_EXISTENCE"]


@pytest.mark.parametrize(
    ("text", "mentions", "expected"),
    [
        # "excluded" negates what follows in the active voice, what precedes at a clause end.
        (
            "Radiographs excluded a fracture.",
            ("Radiographs", "fracture"),
            [Assertion.PRESENT, Assertion.NEGATED],
        ),
        ("A fracture was excluded.", ("fracture",), [Assertion.NEGATED]),
        ("Fracture excluded.", ("Fracture",), [Assertion.NEGATED]),
        (
            "Pulmonary embolism excluded by CT angiography.",
            ("Pulmonary embolism", "CT angiography"),
            [Assertion.NEGATED, Assertion.PRESENT],
        ),
        # Machine-translated Spanish case reports say "discarded" for "ruled out".
        ("Infection was discarded.", ("Infection",), [Assertion.NEGATED]),
        ("Infection discarded.", ("Infection",), [Assertion.NEGATED]),
        ("The biopsy discarded malignancy.", ("malignancy",), [Assertion.NEGATED]),
        ("Urine culture discarding urinary tract infection.", ("urinary",), [Assertion.NEGATED]),
        ("A neoplastic process is not discarded.", ("neoplastic",), [Assertion.POSSIBLE]),
        ("Pneumonia ruled out.", ("Pneumonia",), [Assertion.NEGATED]),
        (
            "Pneumonia ruled out\nAsthma.",
            ("Pneumonia", "Asthma"),
            [Assertion.NEGATED, Assertion.PRESENT],
        ),
        (
            "Echocardiography ruled out endocarditis.",
            ("Echocardiography", "endocarditis"),
            [Assertion.PRESENT, Assertion.NEGATED],
        ),
        (
            "Endocarditis ruled out by echocardiography.",
            ("Endocarditis", "echocardiography"),
            [Assertion.NEGATED, Assertion.PRESENT],
        ),
        ("Pneumonia not ruled out.", ("Pneumonia",), [Assertion.POSSIBLE]),
    ],
)
def test_ruled_out_excluded_and_discarded_in_both_directions(
    pipeline: Language, text: str, mentions: tuple[str, ...], expected: list[Assertion]
) -> None:
    assert assertions(pipeline, text, *mentions) == expected


@pytest.mark.parametrize(
    ("text", "mentions", "expected"),
    [
        ("Tonsillectomy as a child.", ("Tonsillectomy",), [Assertion.HISTORICAL]),
        ("Rheumatic fever in childhood.", ("Rheumatic fever",), [Assertion.HISTORICAL]),
        ("She had a stroke 5 years ago.", ("stroke",), [Assertion.HISTORICAL]),
        ("Appendectomy twenty years ago.", ("Appendectomy",), [Assertion.HISTORICAL]),
        ("Cholecystectomy a few years ago.", ("Cholecystectomy",), [Assertion.HISTORICAL]),
        ("Tonsillectomy at age 12.", ("Tonsillectomy",), [Assertion.HISTORICAL]),
        ("Fracture of the wrist at the age of 8.", ("Fracture",), [Assertion.HISTORICAL]),
        (
            "Nephrectomy 10 years earlier for renal cell carcinoma.",
            ("Nephrectomy", "renal cell carcinoma"),
            [Assertion.HISTORICAL, Assertion.HISTORICAL],
        ),
        ("Five years ago, she had a stroke.", ("stroke",), [Assertion.HISTORICAL]),
        ("As a child, he had asthma.", ("asthma",), [Assertion.HISTORICAL]),
        # The time dates its own clause: a comma ends it, and so does the sentence.
        (
            "Hypertension, diabetes, stroke 5 years ago, chronic kidney disease.",
            ("Hypertension", "diabetes", "stroke", "chronic kidney disease"),
            [Assertion.PRESENT, Assertion.PRESENT, Assertion.HISTORICAL, Assertion.PRESENT],
        ),
        (
            "She has diabetes, hypertension and kidney disease, and had a stroke 5 years ago.",
            ("diabetes", "hypertension", "kidney disease", "stroke"),
            [Assertion.PRESENT, Assertion.PRESENT, Assertion.PRESENT, Assertion.HISTORICAL],
        ),
        # A condition known since then is still there.
        ("Diabetes diagnosed 10 years ago.", ("Diabetes",), [Assertion.PRESENT]),
        (
            "She was diagnosed with psoriasis 13 years earlier.",
            ("psoriasis",),
            [Assertion.PRESENT],
        ),
        ("Hypertension since 10 years ago.", ("Hypertension",), [Assertion.PRESENT]),
        ("Asthma since childhood.", ("Asthma",), [Assertion.PRESENT]),
        ("Chest pain that started 2 days ago.", ("Chest pain",), [Assertion.PRESENT]),
        ("Three episodes of gout over the last year.", ("gout",), [Assertion.PRESENT]),
    ],
)
def test_a_time_in_the_past_makes_a_mention_historical(
    pipeline: Language, text: str, mentions: tuple[str, ...], expected: list[Assertion]
) -> None:
    assert assertions(pipeline, text, *mentions) == expected


@pytest.mark.parametrize(
    ("text", "mentions", "expected"),
    [
        ("Pneumonia?", ("Pneumonia",), [Assertion.POSSIBLE]),
        ("Pneumonia? Atelectasis?", ("Pneumonia", "Atelectasis"), [Assertion.POSSIBLE] * 2),
        ("CXR: left lower lobe pneumonia?", ("left lower lobe pneumonia",), [Assertion.POSSIBLE]),
        (
            "Fever and cough. Pneumonia?",
            ("Fever", "cough", "Pneumonia"),
            [Assertion.PRESENT, Assertion.PRESENT, Assertion.POSSIBLE],
        ),
    ],
)
def test_a_question_mark_after_a_finding_makes_it_possible(
    pipeline: Language, text: str, mentions: tuple[str, ...], expected: list[Assertion]
) -> None:
    assert assertions(pipeline, text, *mentions) == expected


def test_every_occurrence_gets_its_own_assertion(pipeline: Language) -> None:
    text = "No pneumonia on admission; pneumonia developed on day 3."
    start = text.rindex("pneumonia")
    doc = pipeline.make_doc(text)
    for name, component in pipeline.pipeline:
        if name == "medcode_context":
            set_mentions(doc, [(3, 12), (start, start + len("pneumonia"))])
        doc = component(doc)
    assert [assertion_of(s) for s in doc.spans[MENTIONS_KEY]] == [
        Assertion.NEGATED,
        Assertion.PRESENT,
    ]


def test_a_run_on_sentence_of_cues_keeps_each_assertion(pipeline: Language) -> None:
    """Thousands of cues in one sentence: each scope still ends at the next cue."""
    text = " ".join(["no fever but cough"] * 2000) + " and possible pneumonia"
    doc = pipeline.make_doc(text)
    fevers = [i for i, t in enumerate(doc) if t.text == "fever"]
    coughs = [i for i, t in enumerate(doc) if t.text == "cough"]
    for name, component in pipeline.pipeline:
        if name == "medcode_context":
            doc.spans[MENTIONS_KEY] = [doc[i : i + 1] for i in sorted(fevers + coughs)] + [
                doc[len(doc) - 1 : len(doc)]
            ]
        doc = component(doc)
    found = {s.start: assertion_of(s) for s in doc.spans[MENTIONS_KEY]}
    assert {found[i] for i in fevers} == {Assertion.NEGATED}
    assert {found[i] for i in coughs} == {Assertion.PRESENT}
    assert found[len(doc) - 1] is Assertion.POSSIBLE


SCOPE_SENTENCES = [
    "No fever, no chills, possible pneumonia versus atelectasis; history of stroke 5 years ago.",
    "Her mother had breast cancer at age 45 and no diabetes, but her father had a stroke.",
    "Negative cytology for malignancy and negative bronchial aspirates for tuberculosis.",
    "Pneumonia was ruled out, cannot exclude early sepsis, denies chest pain or dyspnea.",
    "Prior cholecystectomy, no history of pancreatitis, if pain recurs return for evaluation.",
]


def edges_of(edges: list[tuple[Span, ConTextModifier]]) -> list[tuple[object, ...]]:
    return sorted(((t.start, t.end), c.modifier_span, c.category) for t, c in edges)


@pytest.mark.parametrize("text", SCOPE_SENTENCES)
def test_scopes_and_marks_are_medspacys(pipeline: Language, text: str) -> None:
    """The per-sentence ConText gives the scopes and marks of medspaCy's graph, which
    compares every pair of cues and every cue with every mention."""
    context = pipeline.get_pipe("medcode_context")
    doc = pipeline(text)
    mentions = [doc[i : i + 1] for i, t in enumerate(doc) if t.is_alpha and len(t) > 6]
    found = context.cues(doc)

    reference = [_Cue(rule, start, end, doc) for rule, start, end in found]
    graph = ConTextGraph(targets=mentions, modifiers=reference)
    graph.update_scopes()
    graph.apply_modifiers()
    bounds = (0, len(doc))
    ours = [
        _Cue(rule, start, end, doc, *_scope(rule, start, end, *bounds))
        for rule, start, end in found
    ]
    _limit_scopes(ours)
    assert [c.scope_span for c in ours] == [c.scope_span for c in reference]
    assert edges_of(_edges(ours, mentions)) == edges_of(graph.edges)
    assert len(graph.edges) > 0


# Cues are matched as medspaCy matches them, overlapping ones pruned to the longest in
# linear time (nlp/match_pruning.py) where medspaCy's pruning is quadratic.


def random_matches(rng: random.Random) -> list[tuple[int, int, int]]:
    """Matches (rule id, start, end) as crowded as cues get, empty ones included."""
    span = rng.choice([5, 15, 40, 100])
    lengths = [0, 1, 1, 1, 2, 2, 3, 4, 6, 10, 30]
    matches = []
    for _ in range(rng.randint(0, 30)):
        start = rng.randint(0, span)
        matches.append((rng.randint(0, 3), start, start + rng.choice(lengths)))
    return matches


def test_overlapping_matches_are_pruned_as_medspacy_prunes_them() -> None:
    rng = random.Random(0)
    for _ in range(3000):
        matches = random_matches(rng)
        assert prune_overlaps(matches) == list(prune_overlapping_matches(list(matches)))


def test_one_long_match_over_many_short_ones_is_kept_alone() -> None:
    """medspaCy needs a pass, and a recursive call, per short match: 1,000 of them raise
    RecursionError."""
    long_one = (1, 0, 3000)
    short_ones = [(2, 2 * i + 1, 2 * i + 2) for i in range(1000)]
    assert prune_overlaps([long_one, *short_ones]) == [long_one]


@pytest.mark.parametrize(
    "text",
    [
        *SCOPE_SENTENCES,
        "No known prior past medical history of diabetes; denies any prior history of asthma.",
        "Gram-negative rods, no further evidence of pneumonia, not only sepsis but shock.",
        "Her mother reports no significant past medical history, no history of interest.",
    ],
)
def test_cues_are_medspacys_pruned_matches(pipeline: Language, text: str) -> None:
    rules, _ = load_context_rules(pipeline)
    reference = MedspacyMatcher(pipeline, name="reference", prune=True)
    reference.add(rules)
    doc = pipeline(text)
    expected = sorted(
        (start, end, reference.rule_map[doc.vocab[i].text].category)
        for i, start, end in reference(doc)
    )
    context = pipeline.get_pipe("medcode_context")
    found = [(start, end, rule.category) for rule, start, end in context.cues(doc)]
    assert found == expected
    assert found


def test_a_long_cue_over_many_short_ones_is_one_cue(pipeline: Language) -> None:
    """ "no prior prior ... history of" is one negation however many "prior"s it holds."""
    text = "No " + "prior " * 3000 + "history of pneumonia, no fever, and possible sepsis."
    assert assertions(pipeline, text, "pneumonia", "fever", "sepsis") == [
        Assertion.NEGATED,
        Assertion.NEGATED,
        Assertion.POSSIBLE,
    ]


def test_a_run_on_sentence_of_commas_keeps_each_assertion(pipeline: Language) -> None:
    """Thousands of comma cues after one negation: it reaches all of them (commas do not
    end a negation), and a possibility later in the sentence ends it."""
    text = "No fever, " + "cough, " * 3000 + "rash, possible pneumonia, sepsis."
    assert assertions(pipeline, text, "fever", "rash", "pneumonia", "sepsis") == [
        Assertion.NEGATED,
        Assertion.NEGATED,
        Assertion.POSSIBLE,
        Assertion.POSSIBLE,
    ]

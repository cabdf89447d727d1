import pytest
import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span

import nlp.sentences  # noqa: F401  (registers medcode_sentences)
from nlp.sections import in_named_header, load_section_rules, section_of

NOTE = """Patient seen in clinic today.
CHIEF COMPLAINT: chest pain
HISTORY OF PRESENT ILLNESS:
65 yo man with 2 days of chest pain.
Past Medical History (PMH): hypertension, diabetes
PSH: appendectomy
FH: father with MI.
He does not smoke.
Medications:
aspirin
ALLERGIES: NKDA
ROS: negative for fever
Physical Exam:
lungs clear
Labs: troponin 0.9
Imaging:
CXR clear
A/P: NSTEMI
Procedures:
cardiac catheterization
Hospital Course:
uneventful
Discharge Diagnoses:
NSTEMI
DISPOSITION:
home
Code Status:
full code
"""


@pytest.fixture(scope="module")
def sectioner() -> Language:
    pipeline = spacy.blank("en")
    pipeline.add_pipe("medcode_sentences")
    pipeline.add_pipe("medcode_sections")
    return pipeline


def section_at(doc: Doc, phrase: str) -> str | None:
    start = doc.text.index(phrase)
    span = doc.char_span(start, start + len(phrase), alignment_mode="expand")
    assert span is not None
    return section_of(span)


def test_common_headers_name_their_sections(sectioner: Language) -> None:
    doc = sectioner(NOTE)
    expected = {
        "chest pain\n": "chief_complaint",
        "65 yo man": "history_of_present_illness",
        "hypertension, diabetes": "past_medical_history",
        "appendectomy": "past_surgical_history",
        "father with MI": "family_history",
        "aspirin": "medications",
        "NKDA": "allergies",
        "negative for fever": "review_of_systems",
        "lungs clear": "physical_exam",
        "troponin 0.9": "labs",
        "CXR clear": "imaging",
        "NSTEMI\nProcedures": "assessment_and_plan",
        "cardiac catheterization": "procedures",
        "uneventful": "hospital_course",
        "NSTEMI\nDISPOSITION": "discharge_diagnoses",
    }
    assert {phrase: section_at(doc, phrase) for phrase in expected} == expected


def test_no_section_before_the_first_header_or_under_an_unknown_one(
    sectioner: Language,
) -> None:
    doc = sectioner(NOTE)
    assert section_at(doc, "Patient seen") is None
    assert section_at(doc, "home") is None  # "DISPOSITION:" is a header we do not name
    assert section_at(doc, "full code") is None  # a header line we do not know at all
    assert section_of(sectioner("No headers here. Pneumonia.")[-2:]) is None


def test_header_variants(sectioner: Language) -> None:
    for header, category in [
        ("Assessment and Plan:", "assessment_and_plan"),
        ("IMPRESSION:", "assessment_and_plan"),
        ("Brief Hospital Course:", "hospital_course"),
        ("Discharge Medications:", "medications"),
        ("Review of Systems", "review_of_systems"),
        ("- Family History:", "family_history"),
        ("Personal history:", "past_medical_history"),
    ]:
        doc = sectioner(f"{header}\nsepsis\n")
        assert section_at(doc, "sepsis") == category, header


def test_a_header_phrase_inside_a_sentence_is_not_a_header(sectioner: Language) -> None:
    doc = sectioner("HPI: cough.\nFamily history is significant for colon cancer.\nNo plan yet")
    assert section_at(doc, "colon cancer") == "history_of_present_illness"
    assert section_at(doc, "yet") == "history_of_present_illness"


def test_an_inline_family_or_past_history_ends_with_its_line(sectioner: Language) -> None:
    doc = sectioner("Family history: mother with diabetes.\nShe now has pneumonia.")
    assert section_at(doc, "diabetes") == "family_history"
    assert section_at(doc, "pneumonia") is None
    doc = sectioner("PMH: asthma.\nShe presents with wheezing.")
    assert section_at(doc, "wheezing") is None


def test_other_inline_sections_end_with_their_paragraph(sectioner: Language) -> None:
    text = "HPI: cough for a week.\nNow with fever.\n1.\nThe chest film was clear."
    doc = sectioner(text)
    assert section_at(doc, "fever") == "history_of_present_illness"
    assert section_at(doc, "chest film") is None


def test_a_header_is_a_sentence_of_its_own(sectioner: Language) -> None:
    doc = sectioner("Seen today. Assessment: no pneumonia.")
    assert [s.text.strip() for s in doc.sents] == ["Seen today.", "Assessment:", "no pneumonia."]
    assert section_at(doc, "pneumonia") == "assessment_and_plan"


def test_a_named_header_holds_no_mention_an_unknown_one_does(sectioner: Language) -> None:
    doc = sectioner(
        "HISTORY OF PRESENT ILLNESS: cough.\n\n"
        "Assessment and plan:\nType 2 diabetes:\n- metformin\n"
    )

    def span(phrase: str) -> Span:
        start = doc.text.index(phrase)
        found = doc.char_span(start, start + len(phrase))
        assert found is not None
        return found

    assert in_named_header(span("ILLNESS"))
    assert in_named_header(span("plan"))
    assert not in_named_header(span("cough"))
    # A problem-oriented plan's problem line is a header we do not know: a diagnosis.
    assert not in_named_header(span("Type 2 diabetes"))


def test_the_rules_file_loads_from_the_package() -> None:
    rules = load_section_rules()
    assert "past_medical_history" in rules.phrases
    assert "pmh" in rules.phrases["past_medical_history"]
    assert "family_history" in rules.line_scoped


# Headers are placed from line and paragraph ends found once per note (nlp/sections.py,
# `_Lines`) rather than by scanning from each header; these notes pin down the places
# where the two could part: other line breaks, bullets, many headers on one line, runs of
# repeated headers.


def sections_in(sectioner: Language, text: str) -> list[tuple[str | None, str, str]]:
    """(category, header, body) of each section, each line break read as a space."""
    doc = sectioner(text)
    return [
        (
            s.category,
            doc[s.title_start : s.title_end].text.strip(),
            " ".join(doc[s.body_start : s.body_end].text.split()),
        )
        for s in doc._.sections
    ]


LF_NOTE = (
    "CHIEF COMPLAINT: chest pain\nHPI: cough for a week.\nfever since monday\n\n"
    "FH: father with MI.\nhe smokes\nMedications:\naspirin\n1.\nafter the list\n"
)


@pytest.mark.parametrize("line_break", ["\r\n", "\r"])
def test_other_line_breaks_give_the_same_sections(sectioner: Language, line_break: str) -> None:
    expected = [
        ("chief_complaint", "CHIEF COMPLAINT:", "chest pain"),
        ("history_of_present_illness", "HPI:", "cough for a week. fever since monday"),
        (None, "", ""),  # the inline HPI section ends at the blank line
        ("family_history", "FH:", "father with MI."),
        (None, "", "he smokes"),  # an inline family history ends with its line
        ("medications", "Medications:", "aspirin 1. after the list"),
    ]
    assert sections_in(sectioner, LF_NOTE) == expected
    assert sections_in(sectioner, LF_NOTE.replace("\n", line_break)) == expected


def test_many_headers_on_one_line(sectioner: Language) -> None:
    text = (
        "Seen today. HPI: cough for a week. Assessment: pneumonia. Plan: antibiotics. FH: asthma."
    )
    assert sections_in(sectioner, text) == [
        (None, "", "Seen today."),
        ("history_of_present_illness", "HPI:", "cough for a week."),
        ("assessment_and_plan", "Assessment:", "pneumonia."),
        ("assessment_and_plan", "Plan:", "antibiotics."),
        ("family_history", "FH:", "asthma."),
    ]


def test_bullets_and_modifiers_before_headers(sectioner: Language) -> None:
    doc = sectioner(
        "- Discharge Medications: aspirin\n* Admission Diagnosis: sepsis\n  - PMH: diabetes\n"
        "Discharge Home Medications: none\nPatient Discharge Follow Plan: rest\n"
    )
    assert section_at(doc, "aspirin") == "medications"
    assert section_at(doc, "sepsis") == "diagnoses"
    assert section_at(doc, "diabetes") == "past_medical_history"
    assert section_at(doc, "none") == "medications"
    # Three words before "Plan" are no header's modifiers: no header, the section goes on.
    assert section_at(doc, "rest") == "medications"


def test_unknown_header_lines_beside_known_ones(sectioner: Language) -> None:
    text = "Disposition:\nhome\nVital Signs:\nstable\nAssessment: ok\nCode Status:\nfull\n"
    assert sections_in(sectioner, text) == [
        (None, "Disposition:", "home"),
        (None, "Vital Signs:", "stable"),
        ("assessment_and_plan", "Assessment:", "ok"),
        (None, "Code Status:", "full"),
    ]


def test_a_long_run_of_inline_headers_gives_one_section_each(sectioner: Language) -> None:
    doc = sectioner("HPI: x\n" * 5000)
    named = [s for s in doc._.sections if s.category is not None]
    assert len(named) == 5000
    assert {s.category for s in named} == {"history_of_present_illness"}
    assert {doc[s.body_start : s.body_end].text.strip() for s in named} == {"x"}
    assert sum(1 for s in doc.sents if s.text.strip() == "HPI:") == 5000

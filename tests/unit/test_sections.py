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

import pytest
from spacy.language import Language
from spacy.tokens import Doc

from nlp.context import MENTIONS_KEY, assertion_of, load_context_rules, set_mentions
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

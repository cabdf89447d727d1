import pytest

from nlp.assertions import assert_mention
from nlp.mentions import Assertion
from nlp.tokens import tokenize


@pytest.mark.parametrize(
    ("sentence", "mention", "expected"),
    [
        ("Patient has pneumonia.", "pneumonia", Assertion.PRESENT),
        ("Patient denies chest pain.", "chest pain", Assertion.NEGATED),
        ("No evidence of pneumonia.", "pneumonia", Assertion.NEGATED),
        ("Negative for influenza.", "influenza", Assertion.NEGATED),
        ("Suspected appendicitis.", "appendicitis", Assertion.POSSIBLE),
        ("Rule out pulmonary embolism.", "pulmonary embolism", Assertion.POSSIBLE),
        ("History of myocardial infarction.", "myocardial infarction", Assertion.HISTORICAL),
        ("Mother had breast cancer.", "breast cancer", Assertion.FAMILY),
        ("Return if fever develops.", "fever", Assertion.HYPOTHETICAL),
        ("No fever but cough persists.", "cough", Assertion.PRESENT),
        ("No fever; cough persists.", "cough", Assertion.PRESENT),
    ],
)
def test_cues_before_a_mention_set_its_assertion(
    sentence: str, mention: str, expected: Assertion
) -> None:
    assert assert_mention(tokenize(sentence), sentence.index(mention)) is expected

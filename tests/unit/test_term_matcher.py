from codes.systems import CodeSystem
from nlp.term_matcher import TermMatcher, lexicon_term
from nlp.tokens import split_sentences

CM = CodeSystem.ICD10CM
MATCHER = TermMatcher(
    [
        lexicon_term(CM, "S72.90", "Fracture of femur"),
        lexicon_term(CM, "I10", "Essential (primary) hypertension"),
        lexicon_term(CM, "J18.9", "Pneumonia, unspecified organism"),
        lexicon_term(CM, "N39.0", "Urinary tract infection, site not specified"),
    ]
)


def found(text: str) -> list[tuple[str, str]]:
    return [
        (m.term.code, text[m.start : m.end])
        for sentence in split_sentences(text)
        for m in MATCHER.match(sentence)
    ]


def test_word_order_and_plurals_do_not_matter() -> None:
    assert found("Left femur fractures were seen.") == [("S72.90", "femur fractures")]
    assert found("A fracture of the left femur.") == [("S72.90", "fracture of the left femur")]


def test_nonessential_modifiers_and_boilerplate_need_not_appear() -> None:
    assert found("History of essential hypertension.") == [("I10", "essential hypertension")]
    assert found("Pneumonia.") == [("J18.9", "Pneumonia")]
    assert found("urinary tract infection") == [("N39.0", "urinary tract infection")]


def test_words_must_share_a_sentence_and_stay_close() -> None:
    assert found("The femur was intact. A rib fracture.") == []
    assert found("Fracture of the rib after a fall from a ladder onto the femur.") == []


def test_evidence_is_the_smallest_window_holding_every_word() -> None:
    text = "Femur pain; later a fracture of the femur."
    assert found(text) == [("S72.90", "fracture of the femur")]

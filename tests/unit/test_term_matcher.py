import re

from codes.systems import CodeSystem
from nlp.aliases import Alias
from nlp.term_matcher import TermMatcher
from nlp.tokens import tokenize

CM = CodeSystem.ICD10CM
MATCHER = TermMatcher.from_aliases(
    [
        Alias(CM, "S72.90", "Fracture of femur", "description"),
        Alias(CM, "S72.90", "femur fracture", "cm_index"),
        Alias(CM, "I10", "Essential (primary) hypertension", "description"),
        Alias(CM, "J18.9", "Pneumonia, unspecified organism", "description"),
        Alias(CM, "N39.0", "Urinary tract infection, site not specified", "description"),
        Alias(CM, "N17.9", "acute kidney injury", "cm_index"),
    ]
)


def found(text: str, extra: list[tuple[int, str]] | None = None) -> list[tuple[str, str]]:
    hits = []
    for sentence in re.finditer(r"[^.]+\.?", text):  # the tests' sentences end at a full stop
        tokens = tokenize(text, sentence.start(), sentence.end())
        for m in MATCHER.match(tokens, extra or []):
            span = text[tokens[m.first].start : tokens[m.last].end]
            hits.extend((a.code, span) for a in m.phrase.aliases)
    return sorted(set(hits))


def test_aliases_with_the_same_words_form_one_phrase() -> None:
    assert MATCHER.phrase_count == 5 and MATCHER.alias_count == 6


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


def test_extra_stems_let_an_abbreviation_stand_for_its_expansion() -> None:
    text = "Admitted with AKI."
    at = 2  # the token "AKI"
    extra = [(at, "acute"), (at, "kidney"), (at, "injury")]
    assert found(text, extra) == [("N17.9", "AKI")]
    assert found(text) == []


def test_adjectives_and_spelling_variants_meet_the_official_words() -> None:
    assert found("Acute renal injury.") == [("N17.9", "Acute renal injury")]
    assert found("Femoral fracture.") == [("S72.90", "Femoral fracture")]
    imaging = TermMatcher.from_aliases(
        [Alias(CodeSystem.ICD10PCS, "BW40ZZZ", "Ultrasonography of Abdomen", "description")]
    )
    text = "Abdominal ultrasound showed a mass."
    matches = list(imaging.match(tokenize(text, 0, len(text)), []))
    assert [m.phrase.aliases[0].code for m in matches] == ["BW40ZZZ"]

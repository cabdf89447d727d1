import re

from codes.systems import CodeSystem
from nlp.aliases import Alias
from nlp.term_matcher import Cue, TermMatcher
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


def test_every_occurrence_of_a_one_word_phrase_is_a_match() -> None:
    text = "No pneumonia on admission; pneumonia developed on day 3."
    tokens = tokenize(text)
    spans = [text[tokens[m.first].start : tokens[m.last].end] for m in MATCHER.match(tokens)]
    firsts = sorted(tokens[m.first].start for m in MATCHER.match(tokens))
    assert spans == ["pneumonia", "pneumonia"]
    assert firsts == [text.index("pneumonia"), text.rindex("pneumonia")]


def windows(matcher: TermMatcher, text: str, cues: list[Cue] | None = None) -> list[str]:
    """The evidence of each match in one sentence, in text order."""
    tokens = tokenize(text)
    found = sorted((m.first, m.last) for m in matcher.match(tokens, [], cues or []))
    return [text[tokens[first].start : tokens[last].end] for first, last in found]


def test_every_compact_occurrence_of_a_phrase_is_a_match() -> None:
    femur = TermMatcher.from_aliases([Alias(CM, "S72.90", "femur fracture", "cm_index")])
    text = "Femur fracture on the left and a fracture of the right femur"
    assert windows(femur, text) == ["Femur fracture", "fracture of the right femur"]
    # One "fracture" serves one occurrence only: the tighter window keeps it.
    assert windows(femur, "femur fracture femur") == ["femur fracture"]


def test_occurrences_of_a_long_run_on_sentence_are_all_found() -> None:
    femur = TermMatcher.from_aliases([Alias(CM, "S72.90", "femur fracture", "cm_index")])
    text = " ".join(["femur", "fracture", "of", "the"] * 3000)
    assert windows(femur, text) == ["femur fracture"] * 3000


def cue(text: str, word: str, occurrence: int = 1) -> Cue:
    """A one-token cue at the `occurrence`-th token spelled `word`."""
    at = [i for i, t in enumerate(tokenize(text)) if t.norm == word][occurrence - 1]
    return Cue(at, at, (word,))


PAIR = TermMatcher.from_aliases(
    [
        Alias(CM, "E11.59", "Diabetes with hypertension", "description"),
        Alias(CM, "E11.9", "Type 2 diabetes mellitus without complications", "description"),
    ]
)


def test_a_window_never_holds_a_terminator_or_a_negation() -> None:
    text = "Hypertension but no diabetes"
    assert windows(PAIR, text) == ["Hypertension but no diabetes"]  # without cues
    assert windows(PAIR, text, [cue(text, "but"), cue(text, "no")]) == []
    assert windows(PAIR, text, [cue(text, "no")]) == []
    text = "Diabetes; hypertension on lisinopril"
    assert windows(PAIR, text, [cue(text, ";")]) == []


def test_a_later_occurrence_matches_when_an_earlier_window_holds_a_cue() -> None:
    text = "Diabetes; hypertension and diabetes"
    assert windows(PAIR, text, [cue(text, ";")]) == ["hypertension and diabetes"]


def test_a_cue_that_is_one_of_the_phrases_own_words_stays() -> None:
    text = "Type 2 diabetes mellitus without complications"
    assert windows(PAIR, text, [cue(text, "without")]) == [text]
    negation_of_another_word = "Type 2 diabetes mellitus, no complications"
    assert windows(PAIR, negation_of_another_word, [cue(negation_of_another_word, "no")]) == []

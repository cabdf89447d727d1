"""`medcode_mentions` on spacy.blank("en"), and the whole note reader on a small lexicon."""

import spacy

from codes.systems import CodeSystem
from nlp import abbreviations, sentences  # noqa: F401  (registers the factories)
from nlp.aliases import Alias
from nlp.mention_matcher import CANDIDATES_ATTR, MENTIONS_KEY, MentionMatcher
from nlp.mentions import Assertion
from nlp.pipeline import NoteReader, build_language
from nlp.term_matcher import group_phrases

CM = CodeSystem.ICD10CM
ALIASES = [
    Alias(CM, "I10", "Essential (primary) hypertension", "description"),
    Alias(CM, "I10", "hypertension", "cm_index"),
    Alias(CM, "N17.9", "acute kidney injury", "cm_index"),
    Alias(CM, "J18.9", "pneumonia", "cm_index"),
    Alias(CM, "R07.9", "chest pain", "evidence", weight=0.6),
    Alias(CM, "T14.90XA", "injury", "cm_index"),
]


def blank_with_matcher() -> spacy.language.Language:
    nlp = spacy.blank("en")
    nlp.add_pipe("medcode_sentences")
    nlp.add_pipe("medcode_abbreviations")
    matcher = nlp.add_pipe("medcode_mentions")
    assert isinstance(matcher, MentionMatcher)
    matcher.use_phrases(group_phrases(ALIASES))
    return nlp


def test_mentions_are_spans_with_candidates() -> None:
    doc = blank_with_matcher()("Known essential hypertension.\nChest pain since Monday.")
    found = {(s.text, c.code) for s in doc.spans[MENTIONS_KEY] for c in s._.get(CANDIDATES_ATTR)}
    assert ("essential hypertension", "I10") in found
    assert ("Chest pain", "R07.9") in found


def test_a_weaker_alias_scores_lower() -> None:
    doc = blank_with_matcher()("Chest pain. Hypertension.")
    best = {s.text: s._.get(CANDIDATES_ATTR)[0].similarity for s in doc.spans[MENTIONS_KEY]}
    assert best["Chest pain"] < best["Hypertension"] * 2  # 0.6 * 2/3 against 1 * 1/2


def test_an_abbreviation_is_matched_through_its_expansion() -> None:
    doc = blank_with_matcher()("Labs showed AKI.")
    spans = list(doc.spans[MENTIONS_KEY])
    assert [(s.text, s._.get(CANDIDATES_ATTR)[0].code) for s in spans] == [("AKI", "N17.9")]


def test_an_abbreviation_alone_names_all_it_stands_for() -> None:
    doc = blank_with_matcher()("Labs showed AKI. A knee injury.")
    found = {(s.text, c.code) for s in doc.spans[MENTIONS_KEY] for c in s._.get(CANDIDATES_ATTR)}
    assert found == {("AKI", "N17.9"), ("injury", "T14.90XA")}


def test_words_in_different_sentences_do_not_match() -> None:
    doc = blank_with_matcher()("Chest x-ray clear.\nPain in the knee.")
    assert not any(s.text.lower() == "chest pain" for s in doc.spans[MENTIONS_KEY])


def test_the_reader_gives_sections_assertions_and_exact_offsets() -> None:
    reader = NoteReader(build_language(group_phrases(ALIASES)))
    note = (
        "HPI:\r\n\tDenies chest pain.\r\n"
        "Family history: mother with hypertension.\r\nPneumonia 😀 suspected."
    )
    mentions = {m.text: m for m in reader.read(note)}
    for m in mentions.values():
        assert note[m.start : m.end] == m.text
    assert mentions["chest pain"].assertion is Assertion.NEGATED
    assert mentions["chest pain"].section == "history_of_present_illness"
    assert mentions["hypertension"].assertion is Assertion.FAMILY
    assert mentions["Pneumonia"].assertion is Assertion.POSSIBLE


def test_the_same_note_reads_the_same_twice() -> None:
    reader = NoteReader(build_language(group_phrases(ALIASES)))
    note = "Pneumonia and hypertension; AKI ruled out."
    assert reader.read(note) == reader.read(note)


def test_every_occurrence_is_a_span_of_its_own() -> None:
    doc = blank_with_matcher()("Pneumonia on admission, and pneumonia again on day 3.")
    assert [(s.start, s.text) for s in doc.spans[MENTIONS_KEY]] == [
        (0, "Pneumonia"),
        (5, "pneumonia"),
    ]


def test_mentions_stop_at_the_cues_the_rules_file_names() -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("medcode_sentences")
    matcher = nlp.add_pipe("medcode_mentions")
    assert isinstance(matcher, MentionMatcher)
    assert {"TERMINATE", "NEGATED_EXISTENCE"} <= matcher.barriers
    pair = [Alias(CM, "E11.59", "Diabetes with hypertension", "description")]
    matcher.use_phrases(group_phrases(pair))

    def mentions(text: str) -> list[str]:
        doc = nlp(text)
        return [s.text for s in doc.spans[MENTIONS_KEY]]

    for text in [
        "Hypertension but diabetes.",
        "Hypertension, no diabetes.",
        "Diabetes; hypertension.",
    ]:
        assert mentions(text) == [], text
    assert mentions("Hypertension and diabetes.") == ["Hypertension and diabetes"]
    # Without the rules' cues, the window would hold the terminator.
    matcher.barriers = frozenset()
    assert mentions("Hypertension but diabetes.") == ["Hypertension but diabetes"]

"""The note reader on a small lexicon: every occurrence of a phrase is a mention with its
own span, section and assertion, and no mention straddles a terminator or a negation."""

import pytest

from codes.systems import CodeSystem
from nlp.aliases import Alias
from nlp.mentions import Assertion, Mention
from nlp.pipeline import NoteReader, build_language
from nlp.term_matcher import group_phrases

CM = CodeSystem.ICD10CM
PCS = CodeSystem.ICD10PCS
ALIASES = [
    Alias(CM, "J18.9", "pneumonia", "cm_index"),
    Alias(CM, "R07.9", "chest pain", "cm_index"),
    Alias(CM, "I10", "hypertension", "cm_index"),
    Alias(CM, "E11.9", "diabetes", "cm_index"),
    Alias(CM, "E11.59", "Diabetes with hypertension", "description"),
    Alias(CM, "E11.9", "Type 2 diabetes mellitus without complications", "description"),
    Alias(CM, "S72.90", "femur fracture", "cm_index"),
    Alias(PCS, "BW03ZZZ", "radiograph", "pcs_index"),
]


@pytest.fixture(scope="module")
def reader() -> NoteReader:
    return NoteReader(build_language(group_phrases(ALIASES)))


def read(reader: NoteReader, note: str) -> list[tuple[str, int, str | None, Assertion]]:
    return [(m.text, m.start, m.section, m.assertion) for m in reader.read(note)]


def codes(mention: Mention) -> set[str]:
    return {c.code for c in mention.candidates}


def test_each_occurrence_is_a_mention_with_its_own_assertion(reader: NoteReader) -> None:
    note = "No pneumonia on admission; pneumonia developed on day 3."
    assert read(reader, note) == [
        ("pneumonia", note.index("pneumonia"), None, Assertion.NEGATED),
        ("pneumonia", note.rindex("pneumonia"), None, Assertion.PRESENT),
    ]


def test_each_occurrence_has_its_own_section(reader: NoteReader) -> None:
    note = "HPI:\nChest pain since Monday.\nFamily history:\nMother with chest pain."
    assert read(reader, note) == [
        ("Chest pain", note.index("Chest pain"), "history_of_present_illness", Assertion.PRESENT),
        ("chest pain", note.index("chest pain"), "family_history", Assertion.FAMILY),
    ]


def test_a_multiword_phrase_is_found_at_each_compact_occurrence(reader: NoteReader) -> None:
    note = "Femur fracture on the left; no fracture of the right femur."
    found = [(m.text, m.assertion) for m in reader.read(note) if "S72.90" in codes(m)]
    assert found == [
        ("Femur fracture", Assertion.PRESENT),
        ("fracture of the right femur", Assertion.NEGATED),
    ]


@pytest.mark.parametrize(
    "note",
    [
        "Hypertension but no diabetes.",
        "Hypertension; diabetes.",
        "Hypertension, however diabetes.",
        "Hypertension without diabetes.",
        "Hypertension, denies diabetes.",
    ],
)
def test_no_mention_straddles_a_terminator_or_a_negation(reader: NoteReader, note: str) -> None:
    mentions = reader.read(note)
    assert [m.text for m in mentions] == ["Hypertension", "diabetes"]
    assert not any("E11.59" in codes(m) for m in mentions)


def test_a_negation_that_is_the_phrases_own_word_stays_inside(reader: NoteReader) -> None:
    note = "Type 2 diabetes mellitus without complications."
    whole = [m for m in reader.read(note) if m.text == note[:-1]]
    assert [m.assertion for m in whole] == [Assertion.PRESENT]
    assert "E11.9" in codes(whole[0])


def test_a_window_with_a_cue_gives_way_to_a_later_occurrence(reader: NoteReader) -> None:
    note = "Diabetes; hypertension and diabetes."
    pairs = [(m.text, m.assertion) for m in reader.read(note) if "E11.59" in codes(m)]
    assert pairs == [("hypertension and diabetes", Assertion.PRESENT)]


def test_new_cues_reach_the_mentions(reader: NoteReader) -> None:
    note = "Radiographs excluded a femur fracture. Pneumonia? Hypertension 5 years ago."
    assert [(m.text, m.assertion) for m in reader.read(note)] == [
        ("Radiographs", Assertion.PRESENT),
        ("femur fracture", Assertion.NEGATED),
        ("Pneumonia", Assertion.POSSIBLE),
        ("Hypertension", Assertion.HISTORICAL),
    ]


def test_a_long_run_on_sentence_keeps_every_occurrence(reader: NoteReader) -> None:
    note = " ".join(["no pneumonia but hypertension"] * 3000)
    mentions = reader.read(note)
    assert len(mentions) == 6000
    assert {m.assertion for m in mentions if m.text == "pneumonia"} == {Assertion.NEGATED}
    assert {m.assertion for m in mentions if m.text == "hypertension"} == {Assertion.PRESENT}

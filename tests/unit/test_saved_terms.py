"""The lexicon's term index, saved at build time and read back as arrays, matches a note as
the matcher built from the same phrases in memory does."""

import json
import re
from pathlib import Path

import pytest

from codes.systems import CodeSystem
from nlp.aliases import Alias
from nlp.lexicon import (
    LINKER_FOLDER,
    TERMS_FILE,
    LexiconError,
    load_lexicon,
    load_terms,
    save_lexicon,
)
from nlp.linker import ApproximateLinker
from nlp.packed_strings import PackedStrings
from nlp.pcs_composer import PcsComposer
from nlp.pipeline import NoteReader, build_language
from nlp.term_matcher import PhraseMatch, TermMatcher, group_phrases
from nlp.tokens import tokenize

CM, PCS = CodeSystem.ICD10CM, CodeSystem.ICD10PCS
ALIASES = [
    Alias(CM, "S72.90", "Fracture of femur", "description"),
    Alias(CM, "S72.90", "femur fracture", "cm_index"),
    Alias(CM, "I10", "Essential (primary) hypertension", "description"),
    Alias(CM, "I10", "hypertension", "cm_index", 0.5),
    Alias(CM, "J18.9", "Pneumonia, unspecified organism", "description"),
    Alias(CM, "N17.9", "acute kidney injury", "cm_index"),
    Alias(CM, "N17.9", "kidney injury acute", "cm_index", 0.25),
    Alias(CM, "E11.9", "Type 2 diabetes mellitus without complications", "description"),
    Alias(PCS, "0DTJ4ZZ", "Résection de l'appendice", "pcs_index"),
]
NOTE = (
    "Acute kidney injury and pneumonia. Hypertension but no femur fracture. "
    "Type 2 diabetes mellitus without complications; fracture of the left femur. "
    "Résection de l'appendice."
)


def matches(matcher: TermMatcher, text: str) -> list[PhraseMatch]:
    found = []
    for sentence in re.finditer(r"[^.]+\.?", text):
        found += matcher.match(tokenize(text, sentence.start(), sentence.end()))
    return found


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    save_lexicon(tmp_path, ALIASES, {"source": "test"})
    return tmp_path


def test_the_saved_index_matches_as_the_one_built_in_memory(saved: Path) -> None:
    loaded, provenance = load_terms(saved)
    built = TermMatcher.from_aliases(ALIASES)
    assert provenance == {"source": "test"}
    assert (loaded.phrase_count, loaded.alias_count) == (built.phrase_count, built.alias_count)
    assert matches(loaded, NOTE) == matches(built, NOTE)  # same phrases, windows and order
    assert len(matches(loaded, NOTE)) >= 6


def test_the_saved_phrases_are_those_load_lexicon_reads(saved: Path) -> None:
    loaded, _ = load_terms(saved)
    phrases, _ = load_lexicon(saved)
    found = {m.phrase for m in matches(loaded, NOTE)}
    assert found <= set(phrases)
    assert {a.weight for p in found for a in p.aliases} >= {0.25, 0.5, 1.0}


def test_a_phrase_is_made_once_and_reused(saved: Path) -> None:
    loaded, _ = load_terms(saved)
    first, again = matches(loaded, NOTE), matches(loaded, NOTE)
    assert all(a.phrase is b.phrase for a, b in zip(first, again, strict=True))


def test_a_folder_without_the_index_asks_for_a_rebuild(saved: Path) -> None:
    (saved / TERMS_FILE).unlink()
    with pytest.raises(LexiconError, match="medcode codes import"):
        load_terms(saved)


def test_an_index_of_another_format_asks_for_a_rebuild(saved: Path) -> None:
    manifest = json.loads((saved / TERMS_FILE).read_text(encoding="utf-8"))
    (saved / TERMS_FILE).write_text(json.dumps(manifest | {"format": 0}), encoding="utf-8")
    with pytest.raises(LexiconError, match="medcode codes import"):
        load_terms(saved)


def test_a_damaged_index_asks_for_a_rebuild(saved: Path) -> None:
    (saved / "terms.npz").write_bytes(b"not a zip file")
    with pytest.raises(LexiconError, match="medcode codes import"):
        load_terms(saved)


def test_packed_strings_read_back_every_string() -> None:
    strings = ["", "femur", "Résection de l'appendice", "", "ü"]
    packed = PackedStrings.pack(strings)
    again = PackedStrings.from_arrays(*packed.arrays())
    assert [again[i] for i in range(len(again))] == strings
    assert len(PackedStrings.pack([])) == 0


def test_the_loaded_reader_reads_as_the_one_built_from_phrases(reader_dir: Path) -> None:
    note = (
        "History of essential hypertension and type 2 diabetes mellitus. "
        "Admitted with acute kidney injury; no pneumonia. Atrial fibrilation noted."
    )
    phrases, _ = load_lexicon(reader_dir)
    composer = PcsComposer.find(reader_dir)
    linker = ApproximateLinker.load(reader_dir / LINKER_FOLDER)
    built = NoteReader(build_language(phrases, composer), linker, composer=composer)
    mentions = NoteReader.load(reader_dir).read(note)
    assert len(mentions) >= 3 and mentions == built.read(note)


def test_aliases_read_back_group_as_before_without_computing_stems_again(saved: Path) -> None:
    phrases, _ = load_lexicon(saved)
    read = [a for p in phrases for a in p.aliases]
    assert all(a.stems is not None for a in read)
    assert read == [Alias(a.system, a.code, a.text, a.source, a.weight) for a in read]
    assert group_phrases(read) == group_phrases(ALIASES) == phrases

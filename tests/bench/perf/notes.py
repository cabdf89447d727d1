"""The notes the benchmarks send: the CodiEsp dev notes of the data folder, the one of
median length, and longer notes made by joining them."""

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

WORD = re.compile(r"\S+")
# Between two joined notes, as between paragraphs.
SEPARATOR = "\n\n"


@dataclass(frozen=True)
class Note:
    name: str
    text: str

    @property
    def words(self) -> int:
        return len(self.text.split())


def dev_notes(data_dir: Path) -> list[Note]:
    """The 250 CodiEsp dev notes (English), in file-name order."""
    paths = sorted((data_dir / "codiesp" / "dev" / "text_files_en").glob("*.txt"))
    if not paths:
        pytest.skip("no CodiEsp dev notes")
    return [Note(p.stem, p.read_text(encoding="utf-8")) for p in paths]


def dev_texts(data_dir: Path) -> list[str]:
    return [note.text for note in dev_notes(data_dir)]


def median_note(notes: list[Note]) -> Note:
    """The note of median word count (the lower middle of an even count; ties by name)."""
    ordered = sorted(notes, key=lambda note: (note.words, note.name))
    return ordered[(len(ordered) - 1) // 2]


def joined_note(notes: list[Note], words: int, max_chars: int) -> Note:
    """The first `words` words of the notes joined in order (starting over if they run
    out), cut after a word, and no longer than `max_chars` characters: a long note of real
    text may hold fewer words than asked (its `words` says how many)."""
    parts: list[str] = []
    count = 0
    while count < words:
        for note in notes:
            parts.append(note.text)
            count += note.words
            if count >= words:
                break
    joined = SEPARATOR.join(parts)
    end = 0
    for number, match in enumerate(WORD.finditer(joined), 1):
        if match.end() > max_chars:
            break
        end = match.end()
        if number == words:
            break
    return Note(f"{words} words of dev notes", joined[:end])

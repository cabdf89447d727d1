"""Words and sentences with character offsets into the original text."""

import re
from dataclasses import dataclass

from codes.text import fold

_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)?|[^\w\s]", re.UNICODE)
# A sentence ends at . ! ? followed by space and a capital, digit or bracket, or at a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?])[ \t]+(?=[\"'(\[]?[A-Z0-9])|\r\n|\r|\n")
# Words after which a full stop does not end a sentence ("mg. daily", "Dr. Smith").
_NO_BREAK_AFTER = frozenset(
    "dr drs mr mrs ms mg mcg kg g ml cm mm approx vs etc e.g i.e no nr fig st jr sr".split()
)


@dataclass(frozen=True, slots=True)
class Token:
    start: int
    end: int
    text: str
    norm: str  # folded: lower case, no accents


@dataclass(frozen=True, slots=True)
class Sentence:
    start: int
    end: int
    tokens: tuple[Token, ...]


def tokenize(text: str, start: int = 0, end: int | None = None) -> list[Token]:
    end = len(text) if end is None else end
    return [
        Token(m.start(), m.end(), m.group(), fold(m.group()))
        for m in _TOKEN.finditer(text, start, end)
    ]


def split_sentences(text: str) -> list[Sentence]:
    """Sentences of `text`; offsets index `text` itself. Blank stretches are dropped."""
    sentences = []
    start = 0
    for boundary in _SENTENCE_END.finditer(text):
        if boundary.group().strip(" \t") == "" and _ends_with_abbreviation(text, boundary.start()):
            continue
        sentences.append(_sentence(text, start, boundary.start()))
        start = boundary.end()
    sentences.append(_sentence(text, start, len(text)))
    return [s for s in sentences if s.tokens]


def _ends_with_abbreviation(text: str, at: int) -> bool:
    before = text[max(0, at - 12) : at].rstrip(".")
    word = re.split(r"[\s(]", before)[-1].lower()
    return word in _NO_BREAK_AFTER or (len(word) == 1 and word.isalpha())


def _sentence(text: str, start: int, end: int) -> Sentence:
    return Sentence(start, end, tuple(tokenize(text, start, end)))

"""Words with character offsets into the original text, as the phrase matcher sees them."""

import re
from dataclasses import dataclass

from codes.text import fold

_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)?|[^\w\s]", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Token:
    start: int
    end: int
    text: str
    norm: str  # folded: lower case, no accents


def tokenize(text: str, start: int = 0, end: int | None = None) -> list[Token]:
    """Regex tokens of text[start:end]; offsets index `text` itself."""
    end = len(text) if end is None else end
    return [
        Token(m.start(), m.end(), m.group(), fold(m.group()))
        for m in _TOKEN.finditer(text, start, end)
    ]

"""Words with character offsets into the original text, as the phrase matcher sees them."""

import re
from typing import NamedTuple

from spacy.tokens import Doc

from codes.text import fold

_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)?|[^\w\s]", re.UNICODE)
# doc.user_data keys: the note's text (when the reader knows it) and its Tokens.
TEXT_KEY = "medcode_text"
_TOKENS_KEY = "medcode_tokens"


class Token(NamedTuple):
    """Immutable; a NamedTuple because a note makes one per word and a frozen dataclass
    costs twice as much to create."""

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


def note_text(doc: Doc) -> str:
    """The Doc's text: the one the reader handed in, as doc.text joins every token anew on
    each access."""
    text: str | None = doc.user_data.get(TEXT_KEY)
    return doc.text if text is None else text


def doc_tokens(doc: Doc) -> list[Token]:
    """The Doc's tokens as Tokens, in order, made once per Doc (kept in doc.user_data).

    The mention matcher, the PCS statements and the reader all read every token, and
    spaCy makes a new Token object at each access: plain values are read for a fraction
    of that, and a token's text never changes once the Doc is made.
    """
    tokens: list[Token] | None = doc.user_data.get(_TOKENS_KEY)
    if tokens is None:
        text = note_text(doc)
        tokens = []
        for start, length in doc.to_array(["IDX", "LENGTH"]).tolist():
            word = text[start : start + length]
            tokens.append(Token(start, start + length, word, fold(word)))
        doc.user_data[_TOKENS_KEY] = tokens
    return tokens

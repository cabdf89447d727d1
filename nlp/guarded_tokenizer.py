"""spaCy's tokenizer with a guard against quadratic input.

spaCy splits prefixes and suffixes off a whitespace-free chunk one at a time, which is
quadratic in the chunk's length: 5,000 "(" take seconds, 200,000 would take hours. Text
holding such a chunk is tokenized with a plain regular expression instead. Real notes
never trip the guard, so their tokens are spaCy's.
"""

import re
from collections.abc import Callable

from spacy.tokens import Doc
from spacy.vocab import Vocab

_LONG_CHUNK = re.compile(r"\S{200,}")
_PIECE = re.compile(r"\s+|[^\W_]+|_|[^\w\s]")


class GuardedTokenizer:
    def __init__(self, inner: Callable[[str], Doc]) -> None:
        self.inner = inner
        self.vocab: Vocab = inner.vocab  # type: ignore[attr-defined]  # spaCy's Tokenizer

    def __call__(self, text: str) -> Doc:
        if _LONG_CHUNK.search(text) is None:
            return self.inner(text)
        return regex_doc(self.vocab, text)


def regex_doc(vocab: Vocab, text: str) -> Doc:
    """Words and punctuation as tokens, whitespace as spaCy keeps it: one trailing space
    belongs to the token before it, any other whitespace is a token of its own."""
    words: list[str] = []
    spaces: list[bool] = []
    for piece in _PIECE.findall(text):
        if not piece.isspace():
            words.append(piece)
            spaces.append(False)
            continue
        if words and not spaces[-1] and not words[-1].isspace() and piece.startswith(" "):
            spaces[-1] = True
            piece = piece[1:]
        if piece:
            words.append(piece)
            spaces.append(False)
    return Doc(vocab, words=words, spaces=spaces)

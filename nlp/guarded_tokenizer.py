"""spaCy's tokenizer with a guard against quadratic input, and its cache put back to work.

spaCy splits prefixes and suffixes off a whitespace-free chunk one at a time, which is
quadratic in the chunk's length: 5,000 "(" take seconds, 200,000 would take hours. Text
holding such a chunk is tokenized with a plain regular expression instead. Real notes
never trip the guard, so their tokens are spaCy's.

spaCy caches the tokens of each chunk it splits, but not in a Doc past the first special
case it meets (spaCy issue #1250), and its English rules make a lone line break and a lone
tab special cases of themselves. So every word after a note's first line break was split
afresh, note after note: most of the tokenizer's time. Those two rules go: split as any
chunk, a line break or a tab is the same one token (tests/unit/test_guarded_tokenizer.py
compares every token attribute with spaCy's), and the words after it are cached.
"""

import re
from collections.abc import Callable

from spacy.tokens import Doc
from spacy.vocab import Vocab

_LONG_CHUNK = re.compile(r"\S{200,}")
_PIECE = re.compile(r"\s+|[^\W_]+|_|[^\w\s]")
# Special cases that give what plain splitting gives, and stop the cache (see above).
_SELF_SPECIALS = ("\n", "\t")


class GuardedTokenizer:
    def __init__(self, inner: Callable[[str], Doc]) -> None:
        """`inner`: spaCy's tokenizer, which loses the rules for a lone line break and tab."""
        self.inner = inner
        self.vocab: Vocab = inner.vocab  # type: ignore[attr-defined]  # spaCy's Tokenizer
        rules = getattr(inner, "rules", None)
        if rules and any(_plain(s, rules.get(s)) for s in _SELF_SPECIALS):
            inner.rules = {  # type: ignore[attr-defined]
                text: tokens
                for text, tokens in rules.items()
                if not (text in _SELF_SPECIALS and _plain(text, tokens))
            }

    def __call__(self, text: str) -> Doc:
        if _LONG_CHUNK.search(text) is None:
            return self.inner(text)
        return regex_doc(self.vocab, text)


def _plain(text: str, tokens: object) -> bool:
    """Whether a special case makes `text` one token with no attribute but its text (its
    ORTH, which every special case token has)."""
    return (
        isinstance(tokens, list)
        and len(tokens) == 1
        and isinstance(tokens[0], dict)
        and list(tokens[0].values()) == [text]
    )


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

"""Assertion of a mention from cue phrases before it in its sentence.

A cue's scope runs from the cue to the end of the sentence, cut short by a terminator
("but", "however"). The nearest cue in scope wins.
"""

from collections.abc import Sequence

from nlp.mentions import Assertion
from nlp.tokens import Token

# Cue phrases (folded words) that open a scope.
_CUES: dict[Assertion, tuple[tuple[str, ...], ...]] = {
    Assertion.NEGATED: (
        ("no",),
        ("denies",),
        ("denied",),
        ("without",),
        ("negative", "for"),
        ("ruled", "out"),
        ("absence", "of"),
        ("not",),
        ("free", "of"),
        ("no", "evidence", "of"),
        ("excluded",),
    ),
    Assertion.POSSIBLE: (
        ("possible",),
        ("possibly",),
        ("probable",),
        ("suspected",),
        ("suspicion", "of"),
        ("rule", "out"),
        ("r", "/", "o"),
        ("cannot", "exclude"),
        ("likely",),
        ("questionable",),
        ("?",),
    ),
    Assertion.HISTORICAL: (("history", "of"), ("s", "/", "p"), ("previous",), ("prior",)),
    Assertion.FAMILY: (
        ("family", "history"),
        ("mother",),
        ("father",),
        ("sister",),
        ("brother",),
        ("grandmother",),
        ("grandfather",),
    ),
    Assertion.HYPOTHETICAL: (("if",), ("return", "if"), ("in", "case", "of"), ("should",)),
}
_TERMINATORS = frozenset({"but", "however", "although", "except", "which", ";"})


def assert_mention(sentence_tokens: Sequence[Token], mention_start: int) -> Assertion:
    """The assertion of a mention starting at character `mention_start` in this sentence."""
    before = [t.norm for t in sentence_tokens if t.end <= mention_start]
    nearest: tuple[int, Assertion] | None = None
    for assertion, cues in _CUES.items():
        for cue in cues:
            at = _last_index(before, cue)
            if at is None or any(w in _TERMINATORS for w in before[at + len(cue) :]):
                continue
            if nearest is None or at > nearest[0]:
                nearest = (at, assertion)
    return Assertion.PRESENT if nearest is None else nearest[1]


def _last_index(words: Sequence[str], cue: tuple[str, ...]) -> int | None:
    for i in range(len(words) - len(cue), -1, -1):
        if tuple(words[i : i + len(cue)]) == cue:
            return i
    return None

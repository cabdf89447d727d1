"""Sentence boundaries for clinical notes: the `medcode_sentences` spaCy component.

A sentence ends at a line break (notes put one sentence or header per line; a header line
such as "Assessment:" is a sentence of its own), and at . ! or ? that close a word and are
followed by white space and a capital, digit or opening bracket, except after abbreviations
("mg.", "Dr.", "e.g.", "vs."), initials ("J. Smith") and list numbers ("1. Hypertension").
Decimals ("2.5") never split: no white space follows their point.

Rules over the raw text, then one vectorised write of the boundaries into the Doc. A full
stop's rules read at most the 60 characters before it, so the work is linear in the note
however long its lines.
"""

import re
from typing import cast

import numpy as np
from spacy.language import Language
from spacy.tokens import Doc
from thinc.types import Ints2d

from nlp import budget
from nlp.tokens import note_text

# Everything from a line break to the first visible character of the next line.
_LINE_BREAK = re.compile(r"(?:\r\n|\r|\n)[ \t\r\n\f\v]*")
# Sentence-final punctuation right after a word, optional closing quotes or brackets, blanks,
# then something that can open a sentence.
_FULL_STOP = re.compile(r"(?<=\S)([.!?]+)[\"')\]]*[ \t]+(?=[\"'(\[]?[A-Z0-9])")
# Characters before a full stop that decide whether it ends a sentence.
_LOOK_BACK = 60
# Words (lower case, without the final full stop) after which a full stop does not end the
# sentence: titles, dose units, Latin abbreviations. Not size units: "a 2 cm. The ..." is
# how case reports end a sentence.
_ABBREVIATIONS = frozenset(
    """dr drs mr mrs ms prof st jr sr mg mcg approx vs v e.g i.e eg ie cf fig figs resp
    dept""".split()
)
# Lower-case dotted abbreviations: b.i.d, p.o, a.m (the final full stop is not part of it).
_DOTTED = re.compile(r"(?:[a-z]\.)+[a-z]")
# Words that commonly precede a name: "and J. Doe", "by J. Doe".
_BEFORE_NAMES = frozenset("and or by with to from per for of cc attn".split())


@Language.factory("medcode_sentences", assigns=["token.is_sent_start"])
def make_sentence_splitter(nlp: Language, name: str) -> "SentenceSplitter":
    return SentenceSplitter()


class SentenceSplitter:
    """Marks every token's `is_sent_start` from the rules in this module's docstring."""

    def __call__(self, doc: Doc) -> Doc:
        budget.check()
        if len(doc) == 0:
            return doc
        starts = doc.to_array("IDX").astype(np.int64)
        boundaries = np.asarray(sentence_starts(note_text(doc)), dtype=np.int64)
        first_tokens = np.searchsorted(starts, boundaries)
        flags = np.full(len(doc), -1, dtype=np.int64)
        flags[0] = 1
        flags[first_tokens[first_tokens < len(doc)]] = 1
        doc.from_array(["SENT_START"], cast(Ints2d, flags.astype(np.uint64).reshape(-1, 1)))
        return doc


def sentence_starts(text: str) -> list[int]:
    """Character offsets where a sentence other than the first one starts, in order."""
    found = {m.end() for m in _LINE_BREAK.finditer(text) if m.end() < len(text)}
    for m in budget.checked(_FULL_STOP.finditer(text)):
        if m.group(1) != "." or _full_stop_ends_sentence(text, m.start(1)):
            found.add(m.end())
    return sorted(found)


def _full_stop_ends_sentence(text: str, at: int) -> bool:
    """Whether the single full stop at `at` ends a sentence (it is known to close a word)."""
    # The line's start matters only within the look-back: searching further back for it
    # made a long line of full stops quadratic.
    window = max(at - _LOOK_BACK, 0)
    line_start = max(text.rfind("\n", window, at), text.rfind("\r", window, at)) + 1
    if line_start == 0:
        line_start = window  # no line break in the look-back: the line starts before it
    words = text[max(line_start, at - _LOOK_BACK) : at].split()
    if not words:
        return True
    word = words[-1].lstrip("\"'([")
    lower = word.lower()
    if lower in _ABBREVIATIONS or _DOTTED.fullmatch(lower):
        return False
    first_on_line = len(words) == 1 and at - _LOOK_BACK < line_start
    if first_on_line and (word.isdigit() or len(word) == 1):
        return False  # a list item number or letter: "1. Hypertension", "a. Fever"
    if word.isdigit() and len(word) <= 2 and len(words) > 1 and words[-2][-1] in ".:;!?":
        return False  # a list number after a sentence: "1. Pneumonia. 2. Sepsis."
    if len(word) == 1 and word.isalpha():
        # An initial unless it closes a lower-case word: "hepatitis B. Serology negative."
        before = words[-2] if len(words) > 1 else ""
        return before.isalpha() and before.islower() and before not in _BEFORE_NAMES
    return True


def sentence_ranges(doc: Doc) -> list[tuple[int, int]]:
    """(first token, end token) of each sentence in order: doc.sents as plain numbers, for
    loops that would otherwise build spaCy objects per sentence and token."""
    return [(sentence.start, sentence.end) for sentence in doc.sents]

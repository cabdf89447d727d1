"""Note sections: the `medcode_sections` spaCy component, built on medspaCy's Sectionizer.

Header phrases come from rules/sections.json, by category ("past_medical_history", ...).
We do not load medspaCy's default header rules: they match anywhere in a line ("consult",
"history:"), file past surgical history and PSH under other categories, and name categories
differently from ours; the coder-facing names here are ours to keep stable.

A header phrase counts only where notes put headers:
- at the start of a line (or after at most two of the rules' `header_modifiers`, as
  "Discharge" in "Discharge Medications:", when a colon follows), or at the start of a
  sentence when a colon follows, and
- followed by a colon (an optional "(PMH)" in between) or by the end of its line.
A line holding only a short "Some Words:" is a header we do not know: it ends the running
section and starts one without a name, as do the rules' `other_headers` ("Disposition:").

A section runs to the next header, except one whose text starts on the header's own line
("HPI: cough for a week."): that one ends with its paragraph (before a blank line or a line
without letters, such as the "1." lines of machine-translated case reports), and the text
after it has no section. For the rules' `line_scoped` categories (family, past medical and
past surgical history: the ones that change a mention's assertion) it ends with its line,
because case reports go on with the present illness right after "Personal history: ...".
Text before the first header has no section either.

Each header is made a sentence of its own, so a cue in a header never reaches the text
after it.

The work is linear in the note: line and paragraph ends are found once per note (`_Lines`)
and each header looks its own up by bisection, where scanning from every header to its
line's start or paragraph's end took 14 s on 56,000 characters of "HPI: x" lines.
"""

import json
import re
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from importlib import resources
from itertools import islice
from typing import Any, cast

import numpy as np
from medspacy.section_detection import Section, Sectionizer, SectionRule
from spacy.language import Language
from spacy.tokens import Doc, Span
from thinc.types import Ints2d

from nlp import budget
from nlp.match_pruning import PruningMatcher
from nlp.tokens import note_text

RULES_FILE = "sections.json"
# The category of headers without a name; section_of() reports None for it.
_UNNAMED = "unnamed_section"

_LINE_BREAK_CHAR = re.compile(r"[\r\n]")
_NEXT_LINE = re.compile(r"(?:\r\n|\r|\n)([^\r\n]*)")
_LETTER = re.compile(r"[^\W\d_]")
# What may follow a header phrase on its line: "(PMH)", then a colon or nothing.
_AFTER_HEADER = re.compile(r"[ \t]*(?:\([^()\r\n]{0,40}\))?[ \t]*(:|$)")
_BULLET = re.compile(r"[ \t]*(?:[-*•][ \t]*)?")
_WORD = re.compile(r"\S+")  # a word as str.split() cuts them
_VISIBLE = re.compile(r"\S")
# A line holding only a short header: "Disposition:", "VITAL SIGNS:".
_HEADER_LINE = re.compile(
    r"^[ \t]*([^\W\d_][^\s:]*(?:[ \t]+[^\s:]+){0,4})[ \t]*:[ \t]*\r?$", re.MULTILINE
)

Match = tuple[int, int, int]


@Language.factory(
    "medcode_sections",
    assigns=["doc._.sections", "token._.section", "token.is_sent_start"],
    requires=["token.is_sent_start"],
    default_config={"rules_file": RULES_FILE},
)
def make_section_detector(nlp: Language, name: str, rules_file: str) -> "SectionDetector":
    return SectionDetector(nlp, name, load_section_rules(rules_file))


def section_of(span: Span) -> str | None:
    """The section category of a span (its first token), None outside any named section."""
    return category_of(span[0]._.section if len(span) else None)


def in_named_header(span: Span) -> bool:
    """Whether the span lies in the header of a named section ("History of present
    illness:", "Family history:"): a section's name says nothing about the patient.
    Headers we do not know keep their mentions: a problem-oriented plan's "Type 2
    diabetes:" line is a header and a diagnosis."""
    section = span[0]._.section if len(span) else None
    return in_header(section, span.start, span.end)


def category_of(section: Section | None) -> str | None:
    return None if section is None else section.category


def in_header(section: Section | None, start: int, end: int) -> bool:
    """Whether tokens start..end - 1, which start in `section`, lie in its header, if it
    is a named one (see in_named_header)."""
    return (
        section is not None
        and section.category is not None
        and start < section.title_end
        and section.title_start < end
    )


def token_sections(doc: Doc) -> list[Section | None]:
    """The section of each token, as one list: the reader looks up every mention's, and
    spaCy makes a Token and its `_` per look. As `token._.section`, but that a note
    without headers has its one section, without a name, where `token._.section` is None:
    category_of and in_header answer the same for both."""
    owners: list[Section | None] = [None] * len(doc)
    sections = doc._.sections if Doc.has_extension("sections") else []
    for section in sections:  # as the Sectionizer gives them: a later one wins
        start, end = section.section_span
        start, end = max(start, 0), min(end, len(doc))
        if start < end:
            owners[start:end] = [section] * (end - start)
    return owners


class SectionRules:
    """Header phrases by category, as read from the rules file."""

    def __init__(
        self,
        phrases: dict[str, Sequence[str]],
        other_headers: Sequence[str],
        header_modifiers: Iterable[str],
        line_scoped: Iterable[str],
    ) -> None:
        self.phrases = phrases
        self.other_headers = other_headers
        self.header_modifiers = frozenset(w.lower() for w in header_modifiers)
        self.line_scoped = frozenset(line_scoped)

    def section_rules(self) -> list[SectionRule]:
        named = [
            SectionRule(literal=p, category=category)
            for category, phrases in self.phrases.items()
            for p in phrases
        ]
        return named + [SectionRule(literal=p, category=_UNNAMED) for p in self.other_headers]


def load_section_rules(name: str = RULES_FILE) -> SectionRules:
    data = json.loads(resources.files("nlp.rules").joinpath(name).read_text("utf-8"))
    return SectionRules(
        data["sections"], data["other_headers"], data["header_modifiers"], data["line_scoped"]
    )


class SectionDetector(Sectionizer):  # type: ignore[misc]  # medspaCy is untyped
    """medspaCy's Sectionizer, choosing among its header matches by where they stand.

    The Sectionizer calls `filter_start_lines` with its header matches before it builds the
    sections (when `require_start_line` is set); that is where our placement rules go.
    """

    def __init__(self, nlp: Language, name: str, rules: SectionRules) -> None:
        super().__init__(
            nlp,
            name=name,
            rules=None,
            span_attrs=None,
            require_start_line=True,
            apply_sentence_boundary=False,
        )
        # medspaCy's matcher prunes overlapping matches in quadratic time
        # (nlp/match_pruning.py); this one gives the same matches in linear time. It
        # replaces the Sectionizer's own, still empty, under the private name the
        # Sectionizer reads it by: medspaCy is pinned and tests cover this.
        self._Sectionizer__matcher = PruningMatcher(nlp, name=name)
        self._line_scoped = rules.line_scoped
        self._modifiers = rules.header_modifiers
        self.add(rules.section_rules())
        # The rule of the unnamed section we start where an inline section ends. Its pattern
        # matches no token; it also keeps spaCy from warning that the Sectionizer's token
        # Matcher is empty.
        never = [{"ORTH": "<medcode paragraph end>"}]
        break_rule = SectionRule(literal="<paragraph end>", category=_UNNAMED, pattern=never)
        self.add([break_rule])
        strings = nlp.vocab.strings
        # The Sectionizer's matcher names each rule `_rule_id`; matches carry its hash.
        self._rules_by_id = {strings.add(r._rule_id): r for r in self.rules}
        self._break_id = strings.add(break_rule._rule_id)
        self._unnamed_id = next(i for i, r in self._rules_by_id.items() if r.category == _UNNAMED)

    def __call__(self, doc: Doc) -> Doc:
        budget.check()
        doc = super().__call__(doc)
        for section in doc._.sections:
            if section.category == _UNNAMED:
                section.category = None
        return doc

    def filter_start_lines(self, doc: Doc, matches: list[Match]) -> list[Match]:
        """The header matches that stand where headers do, plus unknown header lines and
        the ends of inline sections. Also makes each header a sentence of its own."""
        text = note_text(doc)
        lines = _Lines(text)
        starts = doc.to_array("IDX").astype(np.int64)
        headers: list[tuple[Match, bool]] = []  # (match, text follows on the header's line)
        header_lines: set[int] = set()
        for match_id, start, end in budget.checked(sorted(matches, key=lambda m: m[1])):
            placed = self._place_header(doc, lines, starts, start, end)
            if placed is None or (headers and placed[0] < headers[-1][0][2]):
                continue
            title_start, title_end, inline, line_start = placed
            headers.append(((match_id, title_start, title_end), inline))
            header_lines.add(line_start)
        # The headers placed so far are in text order and do not overlap: an unknown
        # header line overlaps one only if it overlaps the first that ends after its start.
        # (Unknown header lines are each on a line of their own, so they never overlap
        # each other.)
        placed_ends = [e for (_, _, e), _ in headers]
        placed_starts = [s for (_, s, _), _ in headers]
        for m in budget.checked(_HEADER_LINE.finditer(text)):
            if m.start() in header_lines:
                continue
            start, end = _token_range(starts, m.start(1), text.index(":", m.end(1)) + 1)
            first_after = bisect_left(placed_ends, start + 1)
            overlaps = first_after < len(placed_starts) and placed_starts[first_after] < end
            if start < end and not overlaps:
                headers.append(((self._unnamed_id, start, end), False))
        headers.sort(key=lambda h: h[0][1])
        _start_sentences(doc, [(start, end) for (_, start, end), _ in headers])
        return self._with_section_ends(doc, lines, starts, headers)

    def _place_header(
        self, doc: Doc, lines: "_Lines", starts: Any, start: int, end: int
    ) -> tuple[int, int, bool, int] | None:
        """(title start, title end, text follows on the line, line start), or None."""
        text = lines.text
        start_char, end_char = doc[start].idx, doc[end - 1].idx + len(doc[end - 1])
        line_start = lines.start(start_char)
        line_end = lines.end(end_char)
        after = _AFTER_HEADER.match(text, end_char, line_end)
        if after is None:
            return None
        has_colon = after.group(1) == ":"
        bullet_end, words = lines.opening(line_start, start_char)
        if bullet_end == start_char:
            title_start = start
        elif has_colon and self._are_modifiers(words):
            title_start = int(np.searchsorted(starts, bullet_end))
        elif has_colon and doc[start].is_sent_start:
            title_start = start
        else:
            return None
        title_end = max(int(np.searchsorted(starts, after.end())), end) if has_colon else end
        inline = _VISIBLE.search(text, after.end(), line_end) is not None
        return title_start, title_end, inline, line_start

    def _are_modifiers(self, words: list[str]) -> bool:
        return 0 < len(words) <= 2 and all(w.lower() in self._modifiers for w in words)

    def _with_section_ends(
        self, doc: Doc, lines: "_Lines", starts: Any, headers: list[tuple[Match, bool]]
    ) -> list[Match]:
        """The header matches, plus an unnamed section after each inline section's end."""
        result: list[Match] = []
        for i, ((match_id, start, end), inline) in enumerate(budget.checked(headers)):
            result.append((match_id, start, end))
            if not inline:
                continue
            category = self._category(match_id)
            header_char = doc[end - 1].idx if end > start else doc[start].idx
            if category in self._line_scoped:
                stop_char = lines.end(header_char)
            else:
                stop_char = lines.paragraph_end(header_char)
            stop = int(np.searchsorted(starts, stop_char))
            next_start = headers[i + 1][0][1] if i + 1 < len(headers) else len(doc)
            if end <= stop < next_start:
                result.append((self._break_id, stop, stop + 1))
        return result

    def _category(self, match_id: int) -> str:
        return self._rules_by_id[match_id].category  # type: ignore[no-any-return]


def _token_range(starts: Any, start_char: int, end_char: int) -> tuple[int, int]:
    first = int(np.searchsorted(starts, start_char, side="right")) - 1
    last = int(np.searchsorted(starts, end_char, side="left"))
    return max(first, 0), last


def _start_sentences(doc: Doc, headers: list[tuple[int, int]]) -> None:
    """Make each header (start, end tokens), and the text after it, start a sentence.

    One write of the whole column: spaCy's `token.is_sent_start = True` checks the whole
    Doc for a parse each time, which made a note of many headers quadratic.
    """
    flags = doc.to_array("SENT_START")
    spaces = doc.to_array("IS_SPACE")
    for start, end in headers:
        flags[start] = 1
        while end < len(doc) and spaces[end]:
            end += 1
        if end < len(doc):
            flags[end] = 1
    doc.from_array(["SENT_START"], cast(Ints2d, flags.reshape(-1, 1)))


class _Lines:
    """The line breaks and paragraph ends of a text, found once, so that each header finds
    its line's start and end and its paragraph's end by bisection."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._breaks = [m.start() for m in _LINE_BREAK_CHAR.finditer(text)]
        # Each line break before a line without letters (a blank line, a "1." line).
        self._paragraph_ends = [
            m.start() for m in _NEXT_LINE.finditer(text) if not _LETTER.search(m.group(1))
        ]
        self._openings: dict[int, tuple[int, list[tuple[int, int]]]] = {}

    def start(self, at: int) -> int:
        """Where the line holding `at` starts: after the last \\r or \\n before `at`."""
        i = bisect_left(self._breaks, at)
        return self._breaks[i - 1] + 1 if i else 0

    def end(self, at: int) -> int:
        """Where the line holding `at` ends: at the first \\r or \\n from `at` on."""
        i = bisect_left(self._breaks, at)
        return self._breaks[i] if i < len(self._breaks) else len(self.text)

    def paragraph_end(self, at: int) -> int:
        """Where the paragraph holding `at` ends: before a blank line or a line without
        letters."""
        i = bisect_left(self._paragraph_ends, at)
        if i and self._paragraph_ends[i - 1] == at - 1 and self.text.startswith("\r\n", at - 1):
            return at  # `at` splits a \r\n: read from `at`, its \n is a line break of its own
        return self._paragraph_ends[i] if i < len(self._paragraph_ends) else len(self.text)

    def opening(self, line_start: int, at: int) -> tuple[int, list[str]]:
        """Where the line's text starts after a bullet ("- ", "* "), but not after `at`,
        and the words between there and `at`, three at most (enough to tell whether a
        header's modifiers are there). Found once per line: headers on one long line
        would otherwise each read it from its start."""
        if line_start not in self._openings:
            bullet = _BULLET.match(self.text, line_start)
            bullet_end = bullet.end() if bullet is not None else line_start  # it always matches
            words = islice(_WORD.finditer(self.text, bullet_end, self.end(line_start)), 3)
            self._openings[line_start] = (bullet_end, [m.span() for m in words])
        bullet_end, spans = self._openings[line_start]
        if at <= bullet_end:
            return at, []
        return bullet_end, [self.text[s : min(e, at)] for s, e in spans if s < at]

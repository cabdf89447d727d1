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
"""

import json
import re
from collections.abc import Iterable, Sequence
from importlib import resources
from typing import Any

import numpy as np
from medspacy.section_detection import Sectionizer, SectionRule
from spacy.language import Language
from spacy.tokens import Doc, Span

RULES_FILE = "sections.json"
# The category of headers without a name; section_of() reports None for it.
_UNNAMED = "unnamed_section"

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_NEXT_LINE = re.compile(r"(?:\r\n|\r|\n)([^\r\n]*)")
_LETTER = re.compile(r"[^\W\d_]")
# What may follow a header phrase on its line: "(PMH)", then a colon or nothing.
_AFTER_HEADER = re.compile(r"[ \t]*(?:\([^()\r\n]{0,40}\))?[ \t]*(:|$)")
_BULLET = re.compile(r"[ \t]*(?:[-*•][ \t]*)?")
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
    section = span[0]._.section if len(span) else None
    return None if section is None else section.category


def in_named_header(span: Span) -> bool:
    """Whether the span lies in the header of a named section ("History of present
    illness:", "Family history:"): a section's name says nothing about the patient.
    Headers we do not know keep their mentions: a problem-oriented plan's "Type 2
    diabetes:" line is a header and a diagnosis."""
    section = span[0]._.section if len(span) else None
    return (
        section is not None
        and section.category is not None
        and span.start < section.title_end
        and section.title_start < span.end
    )


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
        doc = super().__call__(doc)
        for section in doc._.sections:
            if section.category == _UNNAMED:
                section.category = None
        return doc

    def filter_start_lines(self, doc: Doc, matches: list[Match]) -> list[Match]:
        """The header matches that stand where headers do, plus unknown header lines and
        the ends of inline sections. Also makes each header a sentence of its own."""
        text = doc.text
        starts = doc.to_array("IDX").astype(np.int64)
        headers: list[tuple[Match, bool]] = []  # (match, text follows on the header's line)
        header_lines: set[int] = set()
        for match_id, start, end in sorted(matches, key=lambda m: m[1]):
            placed = self._place_header(doc, text, starts, start, end)
            if placed is None or (headers and placed[0] < headers[-1][0][2]):
                continue
            title_start, title_end, inline, line_start = placed
            headers.append(((match_id, title_start, title_end), inline))
            header_lines.add(line_start)
        for m in _HEADER_LINE.finditer(text):
            if m.start() in header_lines:
                continue
            start, end = _token_range(starts, m.start(1), text.index(":", m.end(1)) + 1)
            if start < end and not any(s < end and start < e for (_, s, e), _ in headers):
                headers.append(((self._unnamed_id, start, end), False))
        headers.sort(key=lambda h: h[0][1])
        for (_, start, end), _ in headers:
            doc[start].is_sent_start = True
            while end < len(doc) and doc[end].is_space:
                end += 1
            if end < len(doc):
                doc[end].is_sent_start = True
        return self._with_section_ends(doc, text, starts, headers)

    def _place_header(
        self, doc: Doc, text: str, starts: Any, start: int, end: int
    ) -> tuple[int, int, bool, int] | None:
        """(title start, title end, text follows on the line, line start), or None."""
        start_char, end_char = doc[start].idx, doc[end - 1].idx + len(doc[end - 1])
        line_start = _line_start(text, start_char)
        line_end = _line_end(text, end_char)
        after = _AFTER_HEADER.match(text, end_char, line_end)
        if after is None:
            return None
        has_colon = after.group(1) == ":"
        prefix = text[line_start:start_char]
        bullet_end = line_start + len(prefix) - len(_BULLET.sub("", prefix, count=1))
        if bullet_end == start_char:
            title_start = start
        elif has_colon and self._are_modifiers(text[bullet_end:start_char].split()):
            title_start = int(np.searchsorted(starts, bullet_end))
        elif has_colon and doc[start].is_sent_start:
            title_start = start
        else:
            return None
        title_end = max(int(np.searchsorted(starts, after.end())), end) if has_colon else end
        inline = text[after.end() : line_end].strip() != ""
        return title_start, title_end, inline, line_start

    def _are_modifiers(self, words: list[str]) -> bool:
        return 0 < len(words) <= 2 and all(w.lower() in self._modifiers for w in words)

    def _with_section_ends(
        self, doc: Doc, text: str, starts: Any, headers: list[tuple[Match, bool]]
    ) -> list[Match]:
        """The header matches, plus an unnamed section after each inline section's end."""
        result: list[Match] = []
        for i, ((match_id, start, end), inline) in enumerate(headers):
            result.append((match_id, start, end))
            if not inline:
                continue
            category = self._category(match_id)
            header_char = doc[end - 1].idx if end > start else doc[start].idx
            if category in self._line_scoped:
                stop_char = _line_end(text, header_char)
            else:
                stop_char = _paragraph_end(text, header_char)
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


def _line_start(text: str, at: int) -> int:
    return max(text.rfind("\n", 0, at), text.rfind("\r", 0, at)) + 1


def _line_end(text: str, at: int) -> int:
    m = _LINE_BREAK.search(text, at)
    return len(text) if m is None else m.start()


def _paragraph_end(text: str, at: int) -> int:
    """Where the paragraph holding `at` ends: before a blank line or a line without letters."""
    for m in _NEXT_LINE.finditer(text, at):
        if not _LETTER.search(m.group(1)):
            return m.start()
    return len(text)

"""`medcode_abbreviations`: what each abbreviation in a note stands for.

Two sources, the note first:
- defined in the note: "acute kidney injury (AKI)" makes every "AKI" of that note stand for
  "acute kidney injury" (Schwartz & Hearst 2003, through scispaCy's `find_abbreviation`);
- the curated table nlp/rules/abbreviations.json. Its ambiguous entries ("PE", "MS", "RA") are
  expanded only where their context rules pick exactly one sense; unclear means no expansion.

Every occurrence becomes an `AbbreviationUse` in doc._.medcode_abbreviations, sorted by start.
Offsets index the original text, so the mention matcher can match the expansion while the
evidence stays on the abbreviation's own characters.

The component keeps no per-document state, so one pipeline can serve concurrent requests.
That is also why it calls scispaCy's functions rather than its `AbbreviationDetector`, which
adds and removes rules on a shared matcher inside every call.
"""

import bisect
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scispacy.abbreviation import filter_matches, find_abbreviation
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from nlp.terms import content_stems
from nlp.tokens import note_text

EXTENSION = "medcode_abbreviations"
# doc.user_data: token index -> stems of what the abbreviation there stands for.
_STEMS_KEY = "medcode_abbreviation_stems"
DEFAULT_TABLE = Path(__file__).parent / "rules" / "abbreviations.json"

AbbreviationSource = Literal["defined", "table"]


@dataclass(frozen=True, slots=True)
class AbbreviationUse:
    start: int  # char offset of the abbreviation in the original text
    end: int
    short: str  # as written, e.g. "AKI"
    expansion: str  # e.g. "acute kidney injury"
    source: AbbreviationSource  # "defined" (in the note) or "table"


class AbbreviationTableError(ValueError):
    """The abbreviation table file is malformed."""


@dataclass(frozen=True, slots=True)
class Sense:
    """One meaning of an ambiguous abbreviation and the context that selects it."""

    expansion: str
    before: re.Pattern[str] | None  # words ending right before the abbreviation
    after: re.Pattern[str] | None  # words starting right after it
    cues: re.Pattern[str] | None  # words anywhere in its sentence
    header: bool  # the abbreviation heads its line, followed by a colon: "PE: normal"


@dataclass(frozen=True, slots=True)
class TableEntry:
    forms: tuple[str, ...]
    expansion: str | None  # set for an unambiguous entry
    senses: tuple[Sense, ...]  # set for an ambiguous one
    ignore_case: bool
    english_word: bool


def abbreviation_uses(doc: Doc) -> list[AbbreviationUse]:
    """The abbreviations `medcode_abbreviations` found in doc (typed access to the extension)."""
    if not Doc.has_extension(EXTENSION):
        return []
    uses: list[AbbreviationUse] = doc._.get(EXTENSION)
    return uses


def expansion_stems(doc: Doc) -> dict[int, tuple[str, ...]]:
    """Token index -> stems of what the abbreviation starting at that token stands for
    ("AKI" -> acute, kidney, injury), as the mention matcher and the PCS statements match
    them. Worked out once per Doc: both read it."""
    stems: dict[int, tuple[str, ...]] | None = doc.user_data.get(_STEMS_KEY)
    if stems is None:
        stems = {}
        for use in abbreviation_uses(doc):
            span = doc.char_span(use.start, use.end, alignment_mode="expand")
            if span is not None and len(span):
                stems[span.start] = stems.get(span.start, ()) + content_stems(use.expansion)
        doc.user_data[_STEMS_KEY] = stems
    return stems


@Language.factory(
    "medcode_abbreviations",
    assigns=[f"doc._.{EXTENSION}"],
    requires=["token.is_sent_start"],
    default_config={"table_path": None, "detect_defined": True},
)
def make_abbreviations(
    nlp: Language, name: str, table_path: str | None, detect_defined: bool
) -> "AbbreviationFinder":
    """table_path: a table in the format of nlp/rules/abbreviations.json (default: that file).
    detect_defined: also read definitions written in the note, "acute kidney injury (AKI)"."""
    path = DEFAULT_TABLE if table_path is None else Path(table_path)
    return AbbreviationFinder(nlp, load_table(path), detect_defined=detect_defined)


class AbbreviationFinder:
    def __init__(
        self, nlp: Language, entries: Sequence[TableEntry], *, detect_defined: bool = True
    ) -> None:
        if not Doc.has_extension(EXTENSION):
            Doc.set_extension(EXTENSION, default=[])
        self.entries = tuple(entries)
        self.detect_defined = detect_defined
        self._exact = PhraseMatcher(nlp.vocab, attr="ORTH")
        self._any_case = PhraseMatcher(nlp.vocab, attr="LOWER")
        for index, entry in enumerate(self.entries):
            matcher = self._any_case if entry.ignore_case else self._exact
            matcher.add(str(index), [nlp.make_doc(form) for form in entry.forms])
        self._open = nlp.vocab.strings.add("(")
        self._close = nlp.vocab.strings.add(")")

    def __call__(self, doc: Doc) -> Doc:
        uses: list[AbbreviationUse] = []
        taken: list[tuple[int, int]] = []
        unaligned: dict[str, str] = {}
        if self.detect_defined and len(doc):
            orths = np.asarray(doc.to_array("ORTH"), dtype=np.uint64)
            definitions, unaligned = self._definitions(doc, orths)
            for span, expansion in _defined_uses(doc, orths, definitions):
                uses.append(
                    AbbreviationUse(span.start_char, span.end_char, span.text, expansion, "defined")
                )
                taken.append((span.start, span.end))
        context = _Context(doc)
        ambiguous_left = _MAX_AMBIGUOUS_PER_NOTE
        for span in self._table_spans(doc):
            if any(span.start < end and start < span.end for start, end in taken):
                continue
            entry = self.entries[int(span.label_)]
            if span.text in unaligned and not _agrees(entry, unaligned[span.text]):
                continue
            if _in_a_name(span) or (entry.english_word and context.in_capitals(span)):
                continue
            if not entry.expansion:
                # Each ambiguous use searches its context; a hostile note full of them
                # must not make the search quadratic. Unresolved means not expanded.
                ambiguous_left -= 1
                if ambiguous_left < 0:
                    continue
            meaning = entry.expansion or _pick_sense(entry.senses, span, context)
            if meaning is not None:
                uses.append(
                    AbbreviationUse(span.start_char, span.end_char, span.text, meaning, "table")
                )
        uses.sort(key=lambda u: (u.start, u.end))
        doc._.set(EXTENSION, uses)
        doc.user_data.pop(_STEMS_KEY, None)  # worked out from the uses set just now
        return doc

    def _definitions(
        self, doc: Doc, orths: NDArray[np.uint64]
    ) -> tuple[dict[tuple[int, ...], str], dict[str, str]]:
        """Short form (its tokens) -> long form, for "long form (SF)" and "SF (long form)".

        Also short form -> the words before it, for an "(SF)" with no plausible long form
        there ("both eyes (OA)" in a translated note): the note gives SF a meaning of its own.
        """
        definitions: dict[tuple[int, ...], str] = {}
        unaligned: dict[str, str] = {}
        for long_candidate, short_candidate in filter_matches(self._parentheses(orths), doc):
            short, long = find_abbreviation(long_candidate, short_candidate)
            if long is not None and _plausible(short, long):
                key = tuple(t.orth for t in short)
                definitions.setdefault(key, " ".join(long.text.split()))
            elif short.start > long_candidate.start and any(c.isupper() for c in short.text):
                unaligned.setdefault(short.text, long_candidate.text)
        return definitions, unaligned

    def _parentheses(self, orths: NDArray[np.uint64]) -> list[tuple[int, int, int]]:
        """(0, start, end) of the tokens inside each "(...)" holding no parenthesis itself:
        the matches scispaCy's filter_matches expects."""
        opens = np.flatnonzero(orths == self._open).tolist()
        closes = np.flatnonzero(orths == self._close)
        inner = []
        for index, close_at in enumerate(np.searchsorted(closes, opens).tolist()):
            if close_at == len(closes):
                break
            start, end = opens[index] + 1, int(closes[close_at])
            nested = index + 1 < len(opens) and opens[index + 1] < end
            if end > start and not nested:
                inner.append((0, start, end))
        return inner

    def _table_spans(self, doc: Doc) -> list[Span]:
        matches = list(self._exact(doc))
        if len(self._any_case):
            matches.extend(self._any_case(doc))
        # Overlaps (e.g. "DM-2" and "DM"): the longest wins, then the first.
        return filter_spans([Span(doc, start, end, label=key) for key, start, end in matches])


# --- defined in the note ----------------------------------------------------------------

# A long form never starts with these: "and colloid bodies in both eyes (AO)".
_FUNCTION_WORDS = frozenset("a an and as at by for from is of on or the to was were with".split())
# A long form never runs across these: "... Buenos Aires.\nFluorescence angiography (FFA)".
_BREAKS = frozenset({".", ";", ":", "!", "?", "(", ")", "[", "]"})


def _plausible(short: Span, long: Span) -> bool:
    """Rejects what the character alignment lets through: "(series)", "mg/kg (mg)"."""
    if not any(c.isupper() for c in short.text):
        return False
    if long[0].lower_ in _FUNCTION_WORDS:
        return False
    if any(t.text in _BREAKS or "\n\n" in t.text for t in long):
        return False
    return re.search(rf"(?<!\w){re.escape(short.text)}(?!\w)", long.text, re.IGNORECASE) is None


def _defined_uses(
    doc: Doc, orths: NDArray[np.uint64], definitions: dict[tuple[int, ...], str]
) -> list[tuple[Span, str]]:
    """Every occurrence of each defined short form: the same tokens, in the same case."""
    found: dict[tuple[int, int], str] = {}
    for key, expansion in definitions.items():
        for start in np.flatnonzero(orths == key[0]).tolist():
            if tuple(orths[start : start + len(key)].tolist()) == key:
                found[(start, start + len(key))] = expansion
    spans = filter_spans([doc[start:end] for start, end in found])
    return [(span, found[(span.start, span.end)]) for span in spans]


def _agrees(entry: TableEntry, words_before: str) -> bool:
    """Whether the words before an unaligned "(SF)" share a word with the table's meaning.

    Words agree when one starts the other: "Cytomegalo (CMV)" agrees with cytomegalovirus.
    """
    expansions = [entry.expansion] if entry.expansion else [s.expansion for s in entry.senses]
    before = [w.lower() for w in _LONG_WORD.findall(words_before)]
    meant = [w.lower() for e in expansions for w in _LONG_WORD.findall(e)]
    return any(a.startswith(b) or b.startswith(a) for a in meant for b in before)


_LONG_WORD = re.compile(r"\w{4,}")


# --- context of a table abbreviation ------------------------------------------------------


def _in_a_name(span: Span) -> bool:
    """ "123I-MI", "FLAG-IDA", "25-HCC": part of the name of a tracer, regimen or compound.

    "post-MI" and "non-STEMI" are the abbreviation.
    """
    if span.start < 2:
        return False
    hyphen, before = span.doc[span.start - 1], span.doc[span.start - 2]
    last = before.text[-1]
    return (
        hyphen.text == "-"
        and not hyphen.whitespace_
        and not before.whitespace_
        and (last.isdigit() or last.isupper())
    )


_COLON = re.compile(r"[ \t]*:")
_SHOUTED_WORDS = re.compile(r"\b(?:THE|AND|WITH|WAS|WERE|FOR|HAS|HAD|HAVE|OF|TO|IS|ARE|NOT)\b")


_SCOPE_CHARS = 400
# Far more ambiguous abbreviations than a real note holds (CodiEsp dev: at most a few).
_MAX_AMBIGUOUS_PER_NOTE = 100


class _Context:
    """Where an abbreviation stands in its doc: its sentence (its line without sentences)."""

    def __init__(self, doc: Doc) -> None:
        self.doc = doc
        self._text: str | None = None
        self._sentences: list[tuple[int, int]] | None = None
        self._capital_lines: dict[int, bool] = {}  # line start -> written in capitals

    @property
    def text(self) -> str:
        # Doc.text joins every token: built only for a doc that needs it.
        if self._text is None:
            self._text = note_text(self.doc)
        return self._text

    def scope(self, span: Span) -> tuple[int, int]:
        """Its sentence (or line), cut to _SCOPE_CHARS either side.

        The cut keeps a long run-on "sentence" from making every abbreviation in it scan
        all of it (quadratic on hostile input); real sentences are far shorter.
        """
        if self._sentences is None:
            has_sentences = self.doc.has_annotation("SENT_START")
            self._sentences = (
                [(s.start_char, s.end_char) for s in self.doc.sents] if has_sentences else []
            )
        if self._sentences:
            at = bisect.bisect_right(self._sentences, (span.start_char, len(self.text))) - 1
            start, end = self._sentences[max(at, 0)]
        else:
            start, end = self.line(span)
        return max(start, span.start_char - _SCOPE_CHARS), min(end, span.end_char + _SCOPE_CHARS)

    def line(self, span: Span) -> tuple[int, int]:
        start = self.text.rfind("\n", 0, span.start_char) + 1
        end = self.text.find("\n", span.end_char)
        return start, len(self.text) if end < 0 else end

    def heads_its_line(self, span: Span) -> bool:
        """ "PE: ..." at the start of a line: a section heading."""
        start, _ = self.line(span)
        return (
            not self.text[start : span.start_char].strip()
            and _COLON.match(self.text, span.end_char) is not None
        )

    def in_capitals(self, span: Span) -> bool:
        """A line written all in capitals ("PATIENT HAS ALL THE SAME ..."): case tells nothing.

        A list of abbreviations ("PMH: HTN, CAD, COPD") is no such line: it has no function words.
        """
        start, end = self.line(span)
        if start not in self._capital_lines:  # once per line, however many uses it holds
            line = self.text[start:end]
            self._capital_lines[start] = (
                not any(c.islower() for c in line) and len(_SHOUTED_WORDS.findall(line)) >= 2
            )
        return self._capital_lines[start]


def _pick_sense(senses: Sequence[Sense], span: Span, context: _Context) -> str | None:
    """The one sense the words next to the abbreviation, else its sentence, point to."""
    start, end = context.scope(span)
    text = context.text
    heading = context.heads_its_line(span)
    adjacent = [
        sense
        for sense in senses
        if (sense.header and heading)
        or (sense.before is not None and sense.before.search(text, start, span.start_char))
        or (sense.after is not None and sense.after.match(text, span.end_char, end))
    ]
    if adjacent:
        return adjacent[0].expansion if len(adjacent) == 1 else None
    cued = [s for s in senses if s.cues is not None and s.cues.search(text, start, end)]
    return cued[0].expansion if len(cued) == 1 else None


# --- the table file ----------------------------------------------------------------------

_NUMBER = r"\d+(?:[.,]\d+)?"
_ENTRY_KEYS = frozenset({"forms", "expansion", "senses", "ignore_case", "english_word"})
_SENSE_KEYS = frozenset({"expansion", "before", "after", "cues", "header"})


def load_table(path: Path) -> list[TableEntry]:
    """The entries of an abbreviation table file; AbbreviationTableError if it is malformed."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        raw_entries = data["entries"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise AbbreviationTableError(f"{path}: not an abbreviation table: {error}") from error
    entries: list[TableEntry] = []
    # Lower-cased form -> (entry index, form, whether that entry ignores case).
    seen: dict[str, list[tuple[int, str, bool]]] = {}
    for index, raw in enumerate(raw_entries):
        try:
            entry = _entry(raw)
        except (KeyError, TypeError, ValueError) as error:
            raise AbbreviationTableError(f"{path}: entry {index}: {error}") from error
        for form in entry.forms:
            for other_index, other_form, other_ignores_case in seen.get(form.lower(), []):
                if other_index != index and (
                    form == other_form or entry.ignore_case or other_ignores_case
                ):
                    raise AbbreviationTableError(
                        f"{path}: entry {index}: {form!r} is also in entry {other_index}"
                    )
            seen.setdefault(form.lower(), []).append((index, form, entry.ignore_case))
        entries.append(entry)
    return entries


def _entry(raw: dict[str, Any]) -> TableEntry:
    unknown = set(raw) - _ENTRY_KEYS
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}")
    forms = tuple(_strings(raw["forms"], "forms"))
    if not forms:
        raise ValueError("no forms")
    ignore_case = bool(raw.get("ignore_case", False))
    english_word = bool(raw.get("english_word", False))
    if ("expansion" in raw) == ("senses" in raw):
        raise ValueError("give either an expansion or senses")
    if "expansion" in raw:
        expansion = raw["expansion"]
        if not isinstance(expansion, str) or not expansion.strip():
            raise ValueError("empty expansion")
        return TableEntry(forms, expansion, (), ignore_case, english_word)
    if ignore_case:
        raise ValueError("an ambiguous abbreviation is matched in its own case only")
    senses = tuple(_sense(s) for s in raw["senses"])
    if not senses:
        raise ValueError("no senses")
    return TableEntry(forms, None, senses, ignore_case, english_word)


def _sense(raw: dict[str, Any]) -> Sense:
    unknown = set(raw) - _SENSE_KEYS
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}")
    expansion = raw["expansion"]
    if not isinstance(expansion, str) or not expansion.strip():
        raise ValueError("empty expansion")
    before = _strings(raw.get("before", []), "before")
    after = _strings(raw.get("after", []), "after")
    cues = _strings(raw.get("cues", []), "cues")
    header = raw.get("header", False)
    if not isinstance(header, bool):
        raise ValueError("header must be true or false")
    if not (before or after or cues or header):
        raise ValueError(f"sense {expansion!r} has no rule")
    flags = re.IGNORECASE
    return Sense(
        expansion=expansion,
        before=re.compile(rf"{_alternatives(before)}[\s-]*\Z", flags) if before else None,
        after=re.compile(rf"[\s-]*{_alternatives(after)}", flags) if after else None,
        cues=re.compile(_alternatives(cues), flags) if cues else None,
        header=header,
    )


def _strings(value: object, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"{key} must be a list of non-empty strings")
    return value


def _alternatives(phrases: Sequence[str]) -> str:
    return "(?:" + "|".join(_phrase_pattern(p) for p in phrases) + ")"


def _phrase_pattern(phrase: str) -> str:
    """A phrase at word starts, its words apart by any whitespace; "word*" is a prefix."""
    prefix = phrase.endswith("*")
    words = phrase.removesuffix("*").split()
    if not words or any("*" in w for w in words):
        raise ValueError(f"bad phrase {phrase!r}")
    pattern = r"\s+".join(_NUMBER if w == "<number>" else re.escape(w) for w in words)
    first, last = words[0], words[-1]
    if first == "<number>" or first[0].isalnum():
        pattern = r"(?<!\w)" + pattern
    if not prefix and (last == "<number>" or last[-1].isalnum()):
        pattern += r"(?!\w)"
    return pattern

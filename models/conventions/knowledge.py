"""What the coding conventions ask of the code sets, answered from the catalog and cached.

Everything here is read from the classification itself: descriptions, inclusion terms,
instructional notes (Excludes1, use additional code, code also), 7th characters, the
index's "with" combinations and the history codes' "Conditions classifiable to" notes.
"""

import functools
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from codes.catalog import Catalog, CodeSummary
from codes.cm_conventions import CmConventions, ConditionGroup, HistoryTarget
from codes.cm_index import Combination
from codes.instructions import (
    CODE_ALSO,
    USE_ADDITIONAL,
    CodeRange,
    Instruction,
    covered,
    instructions,
)
from codes.systems import CodeSystem
from nlp.terms import content_stems

CM = CodeSystem.ICD10CM
ASKS_FOR_MORE = frozenset({USE_ADDITIONAL, CODE_ALSO})
# "without perforation or abscess without bleeding": what a code says is absent is not
# something the note has to say.
ABSENT = re.compile(r"\b(?:without|except|not|no)\b[^,;]*", re.IGNORECASE)
# Single words listed with commas and a final "and"/"or": "trachea, bronchus and lung".
_LISTED = re.compile(r"\b(?:[A-Za-z]+,\s+)*[A-Za-z]+\s+(?:and|or)\s+[A-Za-z]+\b")
# What a title leaves open: "unspecified" and the words after it, to a comma or "with".
_OPEN = re.compile(r"\bunspecified\b(?:(?!\bwith\b)[^,])*", re.IGNORECASE)
_RESIDUAL = re.compile(r"\bother\b", re.IGNORECASE)
_CATCH_ALL = re.compile(r"\bunspecified\b|without complications?\b|\buncomplicated\b", re.I)
# Words a more specific code may carry without the note saying them: defaults the index
# and guidelines assign when nothing else is documented (I.A.18: "Gout" is idiopathic
# gout; I.C.19.c.1: a fracture not said to be open or displaced is closed and displaced).
FREE_WORDS = frozenset(
    content_stems("unspecified idiopathic primary essential closed displaced routine NOS")
)
# An official term naming a code at least this plainly (a one-word index term scores 0.5)
# lets a rule add or keep the code on its own.
NAMED_MIN = 0.45
# Categories of at most this many billable codes are searched whole for a more specific
# code; larger ones (injuries: thousands) only beneath the code's own subcategory.
MAX_SCOPE = 400


@dataclass(frozen=True, slots=True)
class PartnerPhrase:
    """A combination's partner as the stems a note or a code title must hold."""

    combination: Combination
    stems: frozenset[str]


class CodingKnowledge:
    def __init__(self, catalog: Catalog, cm: CmConventions) -> None:
        self.catalog = catalog
        self.cm = cm

    # ---- codes -------------------------------------------------------------------------

    def summary(self, system: CodeSystem, code: str) -> CodeSummary | None:
        return self.catalog.get(system, code)

    def billable(self, system: CodeSystem, code: str) -> bool:
        summary = self.catalog.get(system, code)
        return summary is not None and summary.billable

    def is_code(self, system: CodeSystem, code: str) -> bool:
        return self.catalog.get(system, code) is not None

    @functools.lru_cache(maxsize=50_000)  # noqa: B019 (one instance per service, lives as long)
    def title_stems(self, code: str) -> frozenset[str]:
        """The words an ICD-10-CM title asserts (not what it says is absent). A code with a
        7th character is read from its 6-character parent: the extension says the
        encounter, which `encounter` decides separately."""
        summary = self.catalog.get(CM, self._base(code))
        if summary is None:
            return frozenset()
        return frozenset(content_stems(ABSENT.sub(" ", summary.description)))

    @functools.lru_cache(maxsize=50_000)  # noqa: B019
    def meaning_stems(self, code: str) -> frozenset[str]:
        """The words of a code's title and of the headings above it in its category: what
        the code means ("Left lower quadrant pain" is also "abdominal pain", from R10)."""
        stems = set(self.title_stems(code))
        for ancestor in self.catalog.ancestors(CM, self._base(code)):
            if ancestor.kind in ("block", "chapter"):
                break
            stems |= self.title_stems(ancestor.code)
        return frozenset(stems)

    @functools.lru_cache(maxsize=50_000)  # noqa: B019
    @functools.lru_cache(maxsize=50_000)  # noqa: B019 (one instance per service, lives as long)
    def chapter_stems(self, code: str) -> frozenset[str]:
        """The words of the block and chapter a code belongs to ("Injury, poisoning and
        certain other consequences of external causes")."""
        stems: set[str] = set()
        for ancestor in self.catalog.ancestors(CM, code):
            if ancestor.kind in ("block", "chapter"):
                stems |= set(content_stems(ancestor.description))
        return frozenset(stems)

    @functools.lru_cache(maxsize=50_000)  # noqa: B019
    def required_stems(self, code: str) -> frozenset[str]:
        """The title's words a note must say for the code to be documented: not what it
        says is absent, not defaults, not what it leaves open ("Non-pressure chronic
        ulcer of unspecified part of unspecified lower leg" settles the kind of ulcer,
        not its site)."""
        summary = self.catalog.get(CM, self._base(code))
        if summary is None:
            return frozenset()
        title = _OPEN.sub(" ", ABSENT.sub(" ", summary.description))
        return frozenset(content_stems(title)) - FREE_WORDS

    @functools.lru_cache(maxsize=50_000)  # noqa: B019
    def alternatives(self, code: str) -> tuple[frozenset[str], ...]:
        """Words of a title joined by "and"/"or", of which one is enough: "and" means
        "and/or" in the classification (I.A.14), so "ulcer of left heel and midfoot" is
        documented by "left heel ulcer"."""
        summary = self.catalog.get(CM, self._base(code))
        if summary is None:
            return ()
        title = ABSENT.sub(" ", summary.description)
        groups = []
        for match in _LISTED.finditer(title):
            words = re.split(r",\s*|\s+(?:and|or)\s+", match.group())
            group = frozenset(s for w in words for s in content_stems(w))
            if len(group) > 1:
                groups.append(group)
        return tuple(groups)

    def documented_words(self, code: str, words: frozenset[str]) -> int | None:
        """How many of the code's title words `words` documents, or None when it leaves
        one out (one word of an "and/or" group is enough)."""
        groups = self.alternatives(code)
        optional = frozenset().union(*groups) if groups else frozenset()
        required = self.required_stems(code) - optional
        if not required <= words or not all(g & words for g in groups):
            return None
        return len(required) + len(groups)

    def _base(self, code: str) -> str:
        """A code without its 7th character (and its placeholders), when that is a code."""
        if len(code.replace(".", "")) == 7 and self.seventh_characters(code):
            base = code[:-1].rstrip("X").rstrip(".")
            if self.catalog.get(CM, base) is not None:
                return base
        return code

    @functools.lru_cache(maxsize=50_000)  # noqa: B019
    def catch_all(self, code: str) -> bool:
        """An "unspecified", "NOS" or "without complications" code, or its category's
        default: what is coded when nothing more specific is documented."""
        summary = self.catalog.get(CM, code)
        if summary is None:
            return False
        if _CATCH_ALL.search(summary.description):
            return True
        if self.catalog.default_code(CM, code[:3]) == code:
            return True
        record = self.catalog.record(CM, code)
        return any(term.rstrip().endswith("NOS") for term in record.terms)

    def residual(self, code: str) -> bool:
        """An "other" / "other specified" code: for what is documented but not listed."""
        summary = self.catalog.get(CM, self._base(code))
        return summary is not None and bool(_RESIDUAL.search(summary.description))

    @functools.lru_cache(maxsize=20_000)  # noqa: B019
    def seventh_characters(self, code: str) -> tuple[tuple[str, str], ...]:
        return tuple(self.catalog.seventh_characters(code))

    @functools.lru_cache(maxsize=20_000)  # noqa: B019
    def billable_codes_near(self, code: str) -> tuple[str, ...]:
        """Billable ICD-10-CM codes a more specific choice for `code` is looked for among:
        its category, or its subcategory when the category is too large."""
        for head in _heads(code):
            found = self._billable_below(head)
            if found is not None:
                return found
        return ()

    def _billable_below(self, head: str) -> tuple[str, ...] | None:
        found: list[str] = []
        level = [head]
        while level:
            children = [c for code in level for c in self.catalog.children(CM, code)]
            found += [c.code for c in children if c.billable]
            if len(found) > MAX_SCOPE:
                return None
            level = [c.code for c in children if not c.billable]
        summary = self.catalog.get(CM, head)
        if summary is not None and summary.billable:
            found.append(head)
        return tuple(sorted(found))

    def default_code(self, system: CodeSystem, code: str) -> str | None:
        return self.catalog.default_code(system, code)

    def children(self, system: CodeSystem, code: str) -> list[CodeSummary]:
        return self.catalog.children(system, code)

    # ---- instructional notes -------------------------------------------------------------

    @functools.lru_cache(maxsize=20_000)  # noqa: B019
    def instructions(self, code: str, kinds: frozenset[str]) -> tuple[Instruction, ...]:
        """The instruction lines of a code and of its ancestors up to its category (the
        tabular's notes apply to everything beneath them)."""
        found: list[Instruction] = []
        for head in [code, *(a.code for a in self.catalog.ancestors(CM, code))]:
            summary = self.catalog.get(CM, head)
            if summary is None or summary.kind in ("block", "chapter"):
                break
            found += instructions(self.catalog.record(CM, head).notes, kinds)
        return tuple(found)

    @functools.lru_cache(maxsize=20_000)  # noqa: B019
    def asked_for(self, code: str) -> tuple[tuple[CodeRange, ...], bool]:
        """The codes a code's "use additional code" / "code also" notes name, and whether
        one of them asks for another condition without naming codes ("code also to
        identify the infection")."""
        named = tuple(r for i in self.instructions(code, ASKS_FOR_MORE) for r in i.codes)
        unnamed = False
        for head in [code, *(a.code for a in self.catalog.ancestors(CM, code))]:
            summary = self.catalog.get(CM, head)
            if summary is None or summary.kind in ("block", "chapter"):
                break
            for note in self.catalog.record(CM, head).notes:
                if note.kind in ASKS_FOR_MORE and not note.text.rstrip().endswith(":"):
                    unnamed |= not instructions([note], ASKS_FOR_MORE)
        return named, unnamed

    def asks_for(self, code: str, other: str) -> bool:
        """Whether `code`'s notes ask to code `other` beside it."""
        named, unnamed = self.asked_for(code)
        return unnamed or covered(other, named)

    # ---- combinations and history ----------------------------------------------------------

    @functools.cached_property
    def combinations_by_base(self) -> dict[str, list[PartnerPhrase]]:
        """Index combinations by the category of their base code."""
        found: dict[str, list[PartnerPhrase]] = defaultdict(list)
        for combination in self.cm.combinations:
            stems = frozenset(content_stems(combination.partner))
            if stems:
                found[combination.base[:3]].append(PartnerPhrase(combination, stems))
        return dict(found)

    @property
    def groups(self) -> tuple[ConditionGroup, ...]:
        return self.cm.groups

    def history_targets(self, code: str, family: bool) -> list[HistoryTarget]:
        return self.cm.history_targets(code, family)

    def billable_beneath(self, code: str) -> list[str]:
        """A history heading's billable codes, or the code itself."""
        if self.billable(CM, code):
            return [code]
        found: list[str] = []
        level = [code]
        while level:
            children = [c for head in level for c in self.catalog.children(CM, head)]
            found += [c.code for c in children if c.billable]
            level = [c.code for c in children if not c.billable]
        return found


def _heads(code: str) -> Iterable[str]:
    """The category first, then narrower headings above the code."""
    compact = code.replace(".", "")
    for length in range(3, len(compact)):
        head = compact[:length]
        yield head if length == 3 else f"{head[:3]}.{head[3:]}"

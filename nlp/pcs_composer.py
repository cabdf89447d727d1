"""Complete ICD-10-PCS codes composed from a procedure statement, axis by axis.

"Laparoscopic sigmoid colectomy" names a root operation (colectomy: Resection), a body part
(sigmoid colon) and an approach (laparoscopic: Percutaneous Endoscopic), and says nothing of
a device or a qualifier; the table 0DT allows No Device and No Qualifier for that body part
and approach, so the code is 0DTN4ZZ. The composer reads a statement that way:

1. root operation: the mention's PCS headings (a table or body part the lexicon found) and
   the operation words of the statement (nlp/pcs_operation_words.py);
2. body part: the labels and synonyms of the operation's tables found in the statement
   (nlp/pcs_tables.py), the nearest and most specific first, on the side the statement says;
3. approach, device, qualifier (or the section's own axes 5-7), one after the other, each
   among the values the rows left by the earlier choices allow (nlp/pcs_axes.py): the row's
   only value; else the value the statement's words name; else the "none" value (No Device,
   No Qualifier, None); else each allowed value as an alternative, with a low support and a
   reason saying it was not stated.

Every choice stays inside one row of the FY2026 tables, so every code composed is valid.
A code's similarity is the mean support of its five axes 3-7: 1 when the words (or the table,
having one value) settle the axis, 0.8 for a default or a weaker reading, 0.25 for a guess.
"""

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from codes.pcs_structure import PCS_STRUCTURE_FILE, PcsStructure, load_pcs_structure
from codes.pcs_titles import code_title
from codes.text import words
from nlp.lexicon import LexiconError
from nlp.pcs_axes import STATED, AxisChoice, choose_value
from nlp.pcs_operation_words import OperationChoice, OperationFinder, OperationHit
from nlp.pcs_rules import PcsRules, load_pcs_rules
from nlp.pcs_statement import Statement, word_stem
from nlp.pcs_tables import BODY_AXIS, BodyPhrase, PcsTableIndex

logger = logging.getLogger(__name__)

# The support of the likeliest reading of the operation words, the next one ("-ectomy" as
# Excision rather than Resection), and any further one.
_RANK_SUPPORT = (1.0, 0.8, 0.6)


@dataclass(frozen=True, slots=True)
class ComposedCode:
    code: str  # 7 characters, valid in the FY2026 tables
    similarity: float  # 0..1: the share of axes the statement supports
    reason: str  # which words chose which value, for a coder
    title: str  # the code's title, as the catalog words it


@dataclass(frozen=True)
class ComposerLimits:
    """Bounds that keep composing cheap whatever the statement."""

    headings: int = 6  # (table, body part) pairs composed per statement
    alternatives: int = 3  # values kept on an axis the statement does not settle
    codes: int = 4  # complete codes returned per statement


@dataclass(frozen=True, slots=True)
class _Draft:
    """A complete code before it is worded for a coder."""

    code: str
    similarity: float
    choices: tuple[AxisChoice, ...]  # axes 3-7
    labels: tuple[str, ...]  # the labels of positions 1-7


@dataclass(frozen=True, slots=True)
class _Heading:
    prefix: str
    operation: AxisChoice
    body: AxisChoice
    hints: tuple[OperationChoice, ...] = ()


class PcsComposer:
    def __init__(
        self,
        structure: PcsStructure,
        rules: PcsRules | None = None,
        limits: ComposerLimits = ComposerLimits(),
    ) -> None:
        self.rules = rules or load_pcs_rules()
        self.limits = limits
        self.version = structure.version
        self.tables = PcsTableIndex(structure, self.rules)
        self.finder = OperationFinder(structure, self.rules, self.tables)

    @classmethod
    def load(cls, folder: Path, limits: ComposerLimits = ComposerLimits()) -> "PcsComposer":
        """The composer of a lexicon folder (its copy of the catalog's PCS tables)."""
        return cls(load_pcs_structure(folder, LexiconError), limits=limits)

    @classmethod
    def find(cls, folder: Path) -> "PcsComposer | None":
        """The composer of a lexicon folder, or None for a lexicon built without the PCS
        tables (built by an older medcode, or by hand in tests)."""
        if not (folder / PCS_STRUCTURE_FILE).is_file():
            logger.warning(
                "no ICD-10-PCS tables in %s: complete PCS codes will not be composed"
                " (run `medcode codes import` to add them)",
                folder,
            )
            return None
        return cls.load(folder)

    def statement(self, words: Sequence[str], extra: Iterable[tuple[int, str]] = ()) -> Statement:
        """Read a statement's folded words; `extra`: (position, stem) pairs they imply."""
        return Statement(words, self.rules, extra)

    def may_name_operation(self, words: Sequence[str], extra: Iterable[str] = ()) -> bool:
        """Whether folded words (and extra stems) could name a root operation: a quick test,
        true for every text `operations` finds something in."""
        stems = [word_stem(w) for w in words if w.isalnum()]
        return self.finder.may_name_one([*stems, *extra], words)

    def operations(self, statement: Statement) -> list[OperationHit]:
        """The operation words of a statement that may start a code: procedure words, or
        any operation word when the statement reads like a procedure."""
        if "operations" not in statement.memo:
            statement.memo["operations"] = [
                h for h in self.finder.find(statement) if h.procedure or statement.has_context
            ]
        found: list[OperationHit] = statement.memo["operations"]
        return found

    def compose_text(self, text: str) -> list[ComposedCode]:
        """Codes for a text read as one statement: for tests and tools."""
        return self.compose(self.statement(words(text)))

    def compose(
        self,
        statement: Statement,
        focus: tuple[int, int] | None = None,
        headings: Sequence[tuple[str, float, str]] = (),
    ) -> list[ComposedCode]:
        """The best complete codes for the operation at `focus` (token positions, inclusive;
        None: every operation of the statement), best first.

        `headings`: the PCS tables or body parts (3 or 4 characters) found for the words at
        the focus, with their similarity and the term that matched.
        """
        hits = [
            h
            for h in self.operations(statement)
            if focus is None or (h.first <= focus[1] and focus[0] <= h.last)
        ]
        if focus is None:
            spans = [(h.first, h.last) for h in hits] or [(0, max(len(statement.words) - 1, 0))]
            focus = (min(s[0] for s in spans), max(s[1] for s in spans))
        found = self._headings(statement, focus, hits, headings)
        drafts: dict[str, _Draft] = {}
        for heading in found[: self.limits.headings]:
            for draft in self._complete(statement, focus, heading):
                if draft.code not in drafts or draft.similarity > drafts[draft.code].similarity:
                    drafts[draft.code] = draft
        ranked = sorted(drafts.values(), key=lambda d: (-d.similarity, d.code))
        return [
            ComposedCode(
                d.code,
                d.similarity,
                "; ".join(f"{c.label}: {c.evidence}" for c in d.choices),
                code_title(d.code[0], d.labels),
            )
            for d in ranked[: self.limits.codes]
        ]

    # --- Root operation and body part --------------------------------------------------

    def _headings(
        self,
        statement: Statement,
        focus: tuple[int, int],
        hits: Sequence[OperationHit],
        given: Sequence[tuple[str, float, str]],
    ) -> list[_Heading]:
        operations = self._operation_choices(statement, hits)
        found: list[_Heading] = []
        table_level: dict[str, tuple[AxisChoice, tuple[OperationChoice, ...]]] = {}
        # Tables named on their own (a 3-character heading, an index term naming one table,
        # as "Delivery" names 10E): a table with one body part value needs no body part named.
        narrow: set[str] = set()
        for code, support, term in given:
            prefix = code[:3]
            if prefix not in self.tables.tables or len(code) not in (3, 4):
                continue
            operation = self.tables.operation_of(prefix)
            hints = tuple(c for c in operations.get(operation, ()) if _allows(c, prefix))
            if hints:  # the words say how likely this reading is ("-ectomy": Resection first)
                support = min(support, _rank_support(min(c.rank for c in hints)))
            choice = AxisChoice(prefix[2], operation, support, f"'{term}'")
            if len(code) == 4:
                table = self.tables.table(prefix)
                value = table.values[BODY_AXIS].get(code[3])
                if value is not None:
                    body = AxisChoice(code[3], value.label, STATED, f"'{term}'")
                    found.append(_Heading(prefix, choice, body, hints))
            else:
                table_level[prefix] = (choice, hints)
                narrow.add(prefix)
        reachable = self._reachable_tables(statement)
        evidence = statement.text(focus[0], focus[1])
        for operation, choices in operations.items():
            tables = self.tables.by_operation.get(operation, ())
            support = _rank_support(min(c.rank for c in choices))
            single = len(tables) == 1 or all(
                c.tables is not None and len(c.tables) == 1 for c in choices
            )
            for prefix in tables:
                if prefix in table_level or not (single or prefix in reachable):
                    continue  # no body part of this table is named, nor needed
                hints = tuple(c for c in choices if _allows(c, prefix))
                if hints:
                    choice = AxisChoice(prefix[2], operation, support, f"'{evidence}'")
                    table_level[prefix] = (choice, hints)
                    if single:
                        narrow.add(prefix)
        found.extend(self._body_parts(statement, focus, table_level, narrow))
        best: dict[tuple[str, str], _Heading] = {}
        for heading in found:
            key = (heading.prefix, heading.body.character)
            if key not in best or _weight(heading) > _weight(best[key]):
                best[key] = heading
        return sorted(best.values(), key=lambda h: (-_weight(h), h.prefix, h.body.character))

    def _body_phrases(self, statement: Statement) -> list[BodyPhrase]:
        """The body part phrases the statement holds, read once for all its foci."""
        if "body_phrases" not in statement.memo:
            phrases = list(self.tables.body_phrases(statement.stems))
            statement.memo["body_phrases"] = phrases
            statement.memo["tables"] = frozenset().union(*(p.tables for p in phrases))
        found: list[BodyPhrase] = statement.memo["body_phrases"]
        return found

    def _reachable_tables(self, statement: Statement) -> frozenset[str]:
        self._body_phrases(statement)
        reachable: frozenset[str] = statement.memo["tables"]
        return reachable

    def _operation_choices(
        self, statement: Statement, hits: Sequence[OperationHit]
    ) -> dict[str, list[OperationChoice]]:
        preferred = {h.cue.values[0] for h in statement.preferences}
        operations: dict[str, list[OperationChoice]] = {}
        for hit in hits:
            for choice in hit.choices:
                if choice.operation in self.tables.by_operation:
                    if choice.operation in preferred:
                        choice = OperationChoice(
                            choice.operation, choice.tables, -1, choice.qualifier, choice.approach
                        )
                    operations.setdefault(choice.operation, []).append(choice)
        if preferred & operations.keys():  # "partial colectomy": the other readings drop a rank
            for operation, choices in operations.items():
                if operation not in preferred:
                    operations[operation] = [
                        OperationChoice(c.operation, c.tables, c.rank + 1, c.qualifier, c.approach)
                        for c in choices
                    ]
        return operations

    def _body_parts(
        self,
        statement: Statement,
        focus: tuple[int, int],
        tables: dict[str, tuple[AxisChoice, tuple[OperationChoice, ...]]],
        narrow: set[str],
    ) -> list[_Heading]:
        """The best body parts of these tables the statement names, nearest the focus; a
        narrow table with one body part needs none named."""
        scored: dict[tuple[str, str], tuple[float, AxisChoice]] = {}
        stems = statement.stems
        wanted = tables.keys()
        for phrase in self._body_phrases(statement):
            if phrase.tables.isdisjoint(wanted):
                continue
            near = statement.nearest(phrase.required, focus)
            side_support, side_note = self._side_support(
                statement, phrase.side, phrase.required, focus
            )
            if near is None or side_support == 0.0:
                continue
            words_found = len(phrase.required) + len(phrase.optional & stems)
            score = 3 * words_found - near - (1 - side_support) * 3
            evidence = ", ".join(sorted(phrase.required)) + side_note
            for prefix, character in phrase.sites:
                if prefix in tables:
                    choice = AxisChoice(character, phrase.label, side_support, evidence)
                    if (prefix, character) not in scored or score > scored[prefix, character][0]:
                        scored[prefix, character] = (score, choice)
        headings = []
        if scored:
            top = max(score for score, _ in scored.values())
            for (prefix, _), (score, body) in sorted(scored.items()):
                if score >= top - 1e-9:
                    operation, hints = tables[prefix]
                    headings.append(_Heading(prefix, operation, body, hints))
        named = {h.prefix for h in headings}
        for prefix in sorted(narrow - named):
            operation, hints = tables[prefix]
            values = self.tables.table(prefix).values[BODY_AXIS]
            if len(values) == 1:
                ((character, value),) = values.items()
                body = AxisChoice(character, value.label, STATED, "the table's only value")
                headings.append(_Heading(prefix, operation, body, hints))
        return headings

    def _side_support(
        self, statement: Statement, side: str | None, stems: frozenset[str], focus: tuple[int, int]
    ) -> tuple[float, str]:
        """1 when the statement says the label's side (or it has none), 0 when it says
        another, less when it says none; and a note for the coder."""
        if side is None:
            return 1.0, ""
        said = self._side_said(statement, stems, focus)
        if said is None:
            return 0.6, "; side not stated"
        if said == side:
            return 1.0, ""
        if said == "Bilateral" and side in ("Right", "Left"):
            # B4.3: both sides done and no Bilateral value: each side is coded.
            return 0.8, "; both sides: one code each"
        return 0.0, ""

    @staticmethod
    def _side_said(
        statement: Statement, stems: frozenset[str], focus: tuple[int, int]
    ) -> str | None:
        anchors = [p for s in stems for p in statement.positions(s)] or [focus[0]]
        if not statement.sides:
            return "Bilateral" if any(a in statement.plurals for a in anchors) else None
        position, side = min(
            statement.sides, key=lambda ps: (min(abs(ps[0] - a) for a in anchors), ps[0])
        )
        if min(abs(position - a) for a in anchors) <= 4:
            return side
        if any(a in statement.plurals for a in anchors):
            return "Bilateral"
        distinct = {s for _, s in statement.sides}
        return side if len(distinct) == 1 else None

    # --- Axes 5-7 ---------------------------------------------------------------------

    def _complete(
        self, statement: Statement, focus: tuple[int, int], heading: _Heading
    ) -> list["_Draft"]:
        table = self.tables.table(heading.prefix)
        results: list[_Draft] = []
        partial: list[tuple[dict[int, str], list[AxisChoice]]] = [
            ({BODY_AXIS: heading.body.character}, [heading.operation, heading.body])
        ]
        for axis in (1, 2, 3):
            extended = []
            for chosen, choices in partial:
                rows = table.rows_with(chosen)
                allowed = sorted({c for row in rows for c in row[axis]})
                for choice in choose_value(
                    statement, focus, table, axis, allowed, heading.hints, self.limits.alternatives
                ):
                    extended.append(({**chosen, axis: choice.character}, [*choices, choice]))
            partial = extended[: self.limits.alternatives**2]
        for chosen, choices in partial:
            code = heading.prefix + "".join(chosen[axis] for axis in range(4))
            similarity = round(sum(c.support for c in choices) / len(choices), 3)
            labels = [
                *(self.tables.tables[heading.prefix].header[i].values[0][1] for i in range(3)),
                *(c.label for c in choices[1:]),
            ]
            results.append(_Draft(code, similarity, tuple(choices), tuple(labels)))
        return results


def _rank_support(rank: int) -> float:
    return _RANK_SUPPORT[max(0, min(rank, len(_RANK_SUPPORT) - 1))]


def _weight(heading: _Heading) -> float:
    return heading.operation.support + heading.body.support


def _allows(choice: OperationChoice, prefix: str) -> bool:
    return choice.tables is None or prefix in choice.tables

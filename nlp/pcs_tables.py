"""The ICD-10-PCS tables as the composer searches them.

Body parts are looked up across tables by their words (each label and each of its
synonyms, indexed by its rarest stem), so a statement only checks the few values it could
name. The rest of a table (which approach, device and qualifier values each row allows, and
the words of each value) is compiled the first time a statement reaches that table, and
kept: a note only ever reaches a few tables.
"""

import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from codes.pcs_structure import PcsStructure
from codes.pcs_xml import PcsTable
from nlp.pcs_rules import PcsRules
from nlp.terms import content_stems

# Labels that mean "nothing on this axis": the default of an axis the note does not name.
EMPTY_LABELS = frozenset({"No Device", "No Qualifier", "None", "No Contrast"})
BODY_AXIS = 0  # index of position 4 in a row


@dataclass(frozen=True, slots=True)
class AxisValue:
    character: str
    label: str
    phrases: tuple[frozenset[str], ...]  # the stems a statement must hold: label, synonyms
    optional: frozenset[str]  # label stems that count when present, needed by none
    side: str | None  # "Right", "Left", "Bilateral" for a body part with a side
    empty: bool  # "No Device", "None"

    @property
    def size(self) -> int:
        """How many words the label has: more words, a more specific value."""
        return (len(self.phrases[0]) if self.phrases else 0) + len(self.optional)


@dataclass(frozen=True, slots=True)
class CompiledTable:
    prefix: str
    section: str
    operation: str
    keys: tuple[str, str, str, str]  # axis keys of positions 4-7
    rows: tuple[tuple[frozenset[str], ...], ...]  # per row, the characters of positions 4-7
    values: tuple[dict[str, AxisValue], ...]  # per position 4-7: character -> value
    by_body_part: dict[str, tuple[tuple[frozenset[str], ...], ...]]  # character -> its rows

    def rows_with(self, chosen: dict[int, str]) -> list[tuple[frozenset[str], ...]]:
        """The rows allowing every chosen character (axis index -> character); the body
        part (axis index 0) must be among them."""
        rows = self.by_body_part.get(chosen[BODY_AXIS], ())
        return [row for row in rows if all(c in row[i] for i, c in chosen.items())]


@dataclass(frozen=True, slots=True)
class BodyPhrase:
    required: frozenset[str]
    optional: frozenset[str]
    side: str | None
    label: str
    sites: tuple[tuple[str, str], ...]  # (table prefix, character)
    tables: frozenset[str]  # the prefixes of the sites


class PcsTableIndex:
    def __init__(self, structure: PcsStructure, rules: PcsRules) -> None:
        self.rules = rules
        self.tables = {t.prefix: t for t in structure.tables if t.section in rules.sections}
        self.by_operation: dict[str, tuple[str, ...]] = {}
        grouped: dict[str, list[str]] = defaultdict(list)
        for prefix, table in sorted(self.tables.items()):
            grouped[_label(table, 2)].append(prefix)
        self.by_operation = {operation: tuple(p) for operation, p in grouped.items()}
        self._synonyms: dict[tuple[str, str, str], list[str]] = defaultdict(list)
        for synonym in structure.axis_synonyms:
            key = (synonym.section, synonym.axis, synonym.value_label)
            self._synonyms[key].append(synonym.synonym)
        self._side_stems = {s for stems in rules.sides.values() for s in stems}
        self._body_index = self._index_body_parts()
        self._compiled: dict[str, CompiledTable] = {}
        self._lock = threading.Lock()

    def operation_of(self, prefix: str) -> str:
        return _label(self.tables[prefix], 2)

    def table(self, prefix: str) -> CompiledTable:
        compiled = self._compiled.get(prefix)
        if compiled is None:
            compiled = self._compile(self.tables[prefix])
            with self._lock:
                self._compiled[prefix] = compiled
        return compiled

    def body_phrases(self, stems: frozenset[str]) -> Iterator[BodyPhrase]:
        """The body part phrases whose every required stem is in `stems`, in an order that
        depends on the stems alone: a set's order changes with the process's string hashing,
        and phrases that tie for a body part kept whichever came first."""
        for word_stem in sorted(stems):
            for phrase in self._body_index.get(word_stem, ()):
                if phrase.required <= stems:
                    yield phrase

    def _index_body_parts(self) -> dict[str, list[BodyPhrase]]:
        sites: dict[tuple[str, str, str], list[tuple[str, str]]] = defaultdict(list)
        for prefix, table in sorted(self.tables.items()):
            for row in table.rows:
                axis = row[BODY_AXIS]
                for character, label in axis.values:
                    site = (prefix, character)
                    if site not in sites[table.section, axis.key, label]:
                        sites[table.section, axis.key, label].append(site)
        phrases = []
        for (section, key, label), found in sites.items():
            value = self._value("", label, section, key)
            for required in value.phrases:
                prefixes = frozenset(prefix for prefix, _ in found)
                phrases.append(
                    BodyPhrase(required, value.optional, value.side, label, tuple(found), prefixes)
                )
        frequency = Counter(s for p in phrases for s in p.required)
        index: dict[str, list[BodyPhrase]] = defaultdict(list)
        for phrase in phrases:
            if phrase.required:
                rarest = min(phrase.required, key=lambda s: (frequency[s], s))
                index[rarest].append(phrase)
        return dict(index)

    def _compile(self, table: PcsTable) -> CompiledTable:
        keys = tuple(axis.key for axis in table.rows[0])
        values: list[dict[str, AxisValue]] = [{}, {}, {}, {}]
        for row in table.rows:
            for i, axis in enumerate(row):
                for character, label in axis.values:
                    if character not in values[i]:
                        values[i][character] = self._value(
                            character, label, table.section, axis.key
                        )
        allowed = tuple(
            tuple(frozenset(c for c, _ in axis.values) for axis in row) for row in table.rows
        )
        by_body_part: dict[str, list[tuple[frozenset[str], ...]]] = defaultdict(list)
        for characters in allowed:
            for character in characters[BODY_AXIS]:
                by_body_part[character].append(characters)
        return CompiledTable(
            prefix=table.prefix,
            section=table.section,
            operation=_label(table, 2),
            keys=(keys[0], keys[1], keys[2], keys[3]),
            rows=allowed,
            values=tuple(values),
            by_body_part={c: tuple(found) for c, found in by_body_part.items()},
        )

    def _value(self, character: str, label: str, section: str, key: str) -> AxisValue:
        body = key in ("body_part", "body_system", "body_system_region", "body_region")
        optional_words = self.rules.optional_words.get("body_part" if body else key, frozenset())
        stems = frozenset(content_stems(label))
        side = None
        if body:
            side = next((s for s in self.rules.sides if s.lower() in stems), None)
            stems -= self._side_stems
        optional = stems & optional_words
        phrases = [stems - optional_words] if stems - optional_words else [stems]
        synonyms = [*self._synonyms.get((section, key, label), ())]
        if body and label in self.rules.body_synonyms:
            names, sections = self.rules.body_synonyms[label]
            if not sections or section in sections:
                synonyms += names
        for synonym in synonyms:
            synonym_stems = frozenset(content_stems(synonym)) - (
                self._side_stems if body else frozenset()
            )
            if synonym_stems:
                phrases.append(synonym_stems)
        return AxisValue(
            character,
            label,
            tuple(dict.fromkeys(p for p in phrases if p)),  # "Other" has no words to find
            optional,
            side,
            empty=label in EMPTY_LABELS,
        )


def _label(table: PcsTable, position: int) -> str:
    return table.header[position].values[0][1]

"""Axis synonyms: other names for the values of a PCS axis, from the index and the keys.

An index `<use>` ("Abdominal aortic plexus: use Abdominal Sympathetic Nerve") or an entry of
the body part, device or substance key ("Hallux" is included in "1st Toe, Left") names a
value; here each is placed on the section and axis where the tables hold that value. They
are kept apart from the records, so that 79,115 codes do not each carry the same long lists.
"""

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from codes.pcs_xml import Definitions, IndexUse, PcsTable, PcsTables

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PcsAxisSynonym:
    """Another name for one value of a PCS axis, e.g. a body part or a device."""

    section: str  # section character, e.g. "0"
    axis: str  # snake-case axis title, e.g. "body_part", "device", "substance"
    value_label: str  # the table label it maps to, e.g. "Abdominal Sympathetic Nerve"
    synonym: str  # e.g. "Abdominal aortic plexus"
    source: str  # "index" (an index <use>) or "definitions" (a key's <includes>)


@dataclass(frozen=True, slots=True)
class _Place:
    """Where a label is a value: section, position and axis key."""

    section: str
    position: int
    axis: str


class _LabelLocator:
    """Finds the axis a label belongs to, within all tables or some of them."""

    def __init__(self, tables: Sequence[PcsTable]) -> None:
        self._places: dict[str, dict[str, set[_Place]]] = defaultdict(lambda: defaultdict(set))
        self._tables_of: dict[str, set[str]] = defaultdict(set)  # axis 1-3 label -> tables
        for table in tables:
            for axis in table.header:
                self._tables_of[axis.values[0][1]].add(table.prefix)
            for row in table.rows:
                for axis in row:
                    place = _Place(table.section, axis.position, axis.key)
                    for _, label in axis.values:
                        self._places[label][table.prefix].add(place)
        self._all_tables = frozenset(table.prefix for table in tables)

    def locate(
        self, target: str, tables: frozenset[str] | None = None, preferred: int | None = None
    ) -> list[tuple[_Place, str]]:
        """Each section's place of `target` in `tables`, with the label as the tables spell it.

        Keys and index entries may add where the value applies: "Liner in Lower Joints",
        "Cardiac Lead, Pacemaker for Insertion in Heart and Great Vessels", "... in New
        Technology". Those words (a body system, operation or section label) narrow the
        search. Within a section a label may sit on two axes: body parts are also the
        qualifier of Bypass. Then the `preferred` position wins, else the lowest, which
        makes a body part a body part rather than a bypass destination.
        """
        scope = tables if tables is not None else self._all_tables
        for separator in (" in ", " for "):
            if target not in self._places and separator in target:
                head, _, where = target.rpartition(separator)
                if where in self._tables_of:
                    target, scope = head, scope & self._tables_of[where]
        by_section: dict[str, set[_Place]] = defaultdict(set)
        for table, places in self._places.get(target, {}).items():
            if table in scope:
                for place in places:
                    by_section[place.section].add(place)
        found = []
        for section in sorted(by_section):
            ordered = sorted(by_section[section], key=lambda place: place.position)
            chosen = next((p for p in ordered if p.position == preferred), ordered[0])
            found.append((chosen, target))
        return found


def axis_synonyms(
    catalog: PcsTables, definitions: Definitions, uses: Sequence[IndexUse]
) -> list[PcsAxisSynonym]:
    locator = _LabelLocator(catalog.tables)
    synonyms: set[PcsAxisSynonym] = set()
    unplaced: set[str] = set()
    for use in uses:
        tables = frozenset({use.table}) if use.table else None
        places = locator.locate(use.target, tables)
        if not places:
            unplaced.add(use.target)
        for place, label in places:
            synonyms.add(PcsAxisSynonym(place.section, place.axis, label, use.term, "index"))
    tables_by_section: dict[str, set[str]] = defaultdict(set)
    for table in catalog.tables:
        tables_by_section[table.section].add(table.prefix)
    for entry in definitions.keys:
        section_tables = frozenset(tables_by_section[entry.section])
        for title in entry.titles:
            places = locator.locate(title, section_tables, preferred=entry.position)
            if not places:
                unplaced.add(title)
            for place, label in places:
                synonyms.update(
                    PcsAxisSynonym(place.section, place.axis, label, included, "definitions")
                    for included in entry.includes
                )
    if unplaced:
        # Values deleted since the index or key was published; nothing to attach them to.
        logger.info("%d PCS index/key values are not in the tables, skipped", len(unplaced))
        logger.debug("PCS values not in the tables: %s", sorted(unplaced))
    return sorted(
        synonyms,
        key=lambda s: (s.section, s.axis, s.value_label, s.synonym, s.source),
    )

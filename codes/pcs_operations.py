"""Index terms that name a root operation rather than a code.

The index sends some terms to a root operation in words ("Biopsy: see Excision with
qualifier Diagnostic", "Reduction, Fracture: see Reposition") and others to whole tables
("Colectomy: see Excision, Gastrointestinal System 0DB"). Neither kind becomes a record term
(tables are neither searched nor matched in notes); the note reader's PCS composer reads
them to tell which root operation a procedure statement names.
"""

import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from codes.pcs_xml import CodeReference, IndexSee, PcsTable, PcsTables

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PcsOperationTerm:
    """An index term and the root operation (or, outside section 0, the type) it names."""

    term: str  # the index term's words: "Biopsy", "Reduction, Fracture", "Colectomy"
    operation: str  # the axis-3 label: "Excision", "Ultrasonography"
    tables: tuple[str, ...]  # the 3-character tables it may be coded in, sorted
    qualifier: str | None = None  # "Diagnostic", from "... with qualifier Diagnostic"


_WITH_QUALIFIER = re.compile(r"\s+with qualifier\s+(?P<qualifier>.+)$")


def operation_terms(
    tables: PcsTables, sees: Iterable[IndexSee], references: Iterable[CodeReference]
) -> tuple[PcsOperationTerm, ...]:
    """The operation terms of the index: code-less <see>s and references to whole tables."""
    by_operation: dict[str, list[PcsTable]] = defaultdict(list)
    for table in tables.tables:
        by_operation[table.header[2].values[0][1]].append(table)
    table_of = {table.prefix: table for table in tables.tables}
    found: dict[tuple[str, str, str | None], set[str]] = defaultdict(set)
    unresolved: set[str] = set()
    for see in sees:
        resolved = _resolve(see.target, by_operation)
        if resolved is None:
            unresolved.add(see.target)
            continue
        operation, qualifier, prefixes = resolved
        found[see.term, operation, qualifier].update(prefixes)
    for reference in references:
        named = table_of.get(reference.code)
        if named is not None and not reference.from_use:  # 3 characters: a whole table
            found[reference.term, named.header[2].values[0][1], None].add(named.prefix)
    if unresolved:
        # Cross-references to things that are not root operations ("Psychological Tests",
        # "Transcatheter tricuspid valve replacement"); a term there has no operation to add.
        logger.info("%d PCS index cross-references name no root operation", len(unresolved))
        logger.debug("PCS cross-references without an operation: %s", sorted(unresolved))
    return tuple(
        PcsOperationTerm(term, operation, tuple(sorted(prefixes)), qualifier)
        for (term, operation, qualifier), prefixes in sorted(
            found.items(), key=lambda item: (item[0][0].casefold(), item[0][1], item[0][2] or "")
        )
    )


def _resolve(
    target: str, by_operation: dict[str, list[PcsTable]]
) -> tuple[str, str | None, list[str]] | None:
    """(operation, qualifier, tables) for a target such as "Excision with qualifier
    Diagnostic", "Fragmentation, Vein", "Control bleeding in" or "Insertion of device in"."""
    qualifier = None
    if match := _WITH_QUALIFIER.search(target):
        qualifier = match["qualifier"].strip()
        target = target[: match.start()]
    head, _, rest = target.partition(", ")
    words = head.split()
    # The operation is the longest run of leading words that is an axis-3 label:
    # "Control bleeding in" is Control, "Introduction of substance in or on" Introduction.
    for end in range(len(words), 0, -1):
        operation = " ".join(words[:end])
        if operation in by_operation:
            candidates = by_operation[operation]
            break
    else:
        return None
    narrowed = _narrow(candidates, rest.partition(", ")[0]) if rest else []
    chosen = narrowed or candidates
    if qualifier is not None:
        chosen = [table for table in chosen if _has_qualifier(table, qualifier)] or chosen
    return operation, qualifier, [table.prefix for table in chosen]


def _narrow(tables: Sequence[PcsTable], where: str) -> list[PcsTable]:
    """The tables whose body system the words `where` name: "Vein" -> Upper and Lower Veins."""
    wanted = {_root(word) for word in where.lower().split()}
    return [
        table
        for table in tables
        if wanted <= {_root(word) for word in table.header[1].values[0][1].lower().split()}
    ]


def _root(word: str) -> str:
    """A crude singular, enough to meet "Artery" and "Arteries", "Vein" and "Veins"."""
    if word.endswith("ies"):
        return word[:-3]
    if word.endswith("y"):
        return word[:-1]
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _has_qualifier(table: PcsTable, qualifier: str) -> bool:
    return any(label == qualifier for row in table.rows for _, label in row[3].values)

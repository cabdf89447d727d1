"""The ICD-10-PCS tables as data, saved beside the catalog for composing complete codes.

The catalog records hold every valid code, but one code at a time; composing a code axis
by axis needs the tables themselves (which values each row allows together), the other
names of axis values and the index terms naming a root operation. `medcode codes import`
saves them in one JSON file; the note reader keeps a copy with its lexicon.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codes.errors import CatalogNotBuiltError
from codes.folders import read_built_json
from codes.pcs_operations import PcsOperationTerm
from codes.pcs_synonyms import PcsAxisSynonym
from codes.pcs_xml import PcsAxis, PcsTable

PCS_STRUCTURE_FILE = "pcs_structure.json"
PCS_STRUCTURE_FORMAT = 1


@dataclass(frozen=True, slots=True)
class PcsStructure:
    version: str  # the tables' FY, e.g. "2026"
    tables: tuple[PcsTable, ...]
    operation_terms: tuple[PcsOperationTerm, ...]
    axis_synonyms: tuple[PcsAxisSynonym, ...]


def save_pcs_structure(folder: Path, structure: PcsStructure) -> Path:
    path = folder / PCS_STRUCTURE_FILE
    payload = {
        "format": PCS_STRUCTURE_FORMAT,
        "version": structure.version,
        "tables": [_table_row(table) for table in structure.tables],
        "operation_terms": [
            [t.term, t.operation, list(t.tables), t.qualifier] for t in structure.operation_terms
        ],
        "axis_synonyms": [
            [s.section, s.axis, s.value_label, s.synonym, s.source] for s in structure.axis_synonyms
        ],
    }
    path.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    return path


def load_pcs_structure(
    folder: Path,
    error: Callable[[str], Exception] = CatalogNotBuiltError,
    rebuild: str = "run `medcode codes import`",
) -> PcsStructure:
    payload = read_built_json(
        folder / PCS_STRUCTURE_FILE, "ICD-10-PCS tables", PCS_STRUCTURE_FORMAT, error, rebuild
    )
    return PcsStructure(
        version=payload["version"],
        tables=tuple(_table(row) for row in payload["tables"]),
        operation_terms=tuple(
            PcsOperationTerm(term, operation, tuple(tables), qualifier)
            for term, operation, tables, qualifier in payload["operation_terms"]
        ),
        axis_synonyms=tuple(PcsAxisSynonym(*row) for row in payload["axis_synonyms"]),
    )


def _table_row(table: PcsTable) -> dict[str, Any]:
    return {
        "header": [_axis_row(axis) for axis in table.header],
        "definition": table.definition,
        "rows": [[_axis_row(axis) for axis in row] for row in table.rows],
    }


def _axis_row(axis: PcsAxis) -> list[Any]:
    return [axis.position, axis.key, [list(value) for value in axis.values]]


def _table(row: dict[str, Any]) -> PcsTable:
    first, second, third = (_axis(axis) for axis in row["header"])
    rows = []
    for axes in row["rows"]:
        body_part, approach, device, qualifier = (_axis(axis) for axis in axes)
        rows.append((body_part, approach, device, qualifier))
    return PcsTable(
        prefix="".join(axis.values[0][0] for axis in (first, second, third)),
        header=(first, second, third),
        definition=row["definition"],
        rows=tuple(rows),
    )


def _axis(row: list[Any]) -> PcsAxis:
    position, key, values = row
    return PcsAxis(position, key, tuple((character, label) for character, label in values))

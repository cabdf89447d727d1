"""Read the CMS ICD-10-PCS XML files (tables, definitions, index) into catalog records.

The tables are the only source of valid codes: every `pcsRow` is expanded into the cartesian
product of its axis 4-7 values. The definitions file adds root-operation notes and the body
part / device / substance keys; the index adds the words coders look procedures up by.

Output, all deterministic:
- one record per 3-character table, per 4-character table + body part, and per 7-character code;
- index terms on the record of the code or prefix the index points at;
- axis synonyms ("Abdominal aortic plexus" is the body part "Abdominal Sympathetic Nerve"),
  kept apart from the records so that 79,115 codes do not each carry the same long lists;
- the tables themselves and the index terms naming a root operation, for composing codes.

The work is split along its seams: `pcs_xml` reads the files, `pcs_titles` words the titles,
`pcs_synonyms` and `pcs_operations` read the other names of values and operations.
"""

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from codes.errors import SourceFileError
from codes.pcs_operations import PcsOperationTerm, operation_terms
from codes.pcs_structure import PcsStructure
from codes.pcs_synonyms import PcsAxisSynonym, axis_synonyms
from codes.pcs_titles import EMPTY_LABELS, code_title, side_first
from codes.pcs_xml import (
    CodeReference,
    Definitions,
    Index,
    OperationText,
    PcsTable,
    PcsTables,
    expand_table,
    newest_file,
    parse_definitions,
    parse_index,
    parse_tables,
)
from codes.records import CodeNote, CodeRecord
from codes.systems import CodeSystem

logger = logging.getLogger(__name__)

__all__ = ["PcsAxisSynonym", "PcsOperationTerm", "PcsSource", "read_icd10pcs"]


@dataclass(frozen=True, slots=True)
class PcsSource:
    """Everything read from one ICD-10-PCS release folder."""

    records: list[CodeRecord]  # sorted by code
    axis_synonyms: list[PcsAxisSynonym]  # sorted, de-duplicated
    version: str  # the tables' <version>, e.g. "2026"
    # One entry per index reference to a code or prefix missing from the tables (codes
    # deleted since the index was published), sorted; these add no term.
    unresolved_index_codes: tuple[str, ...] = ()
    tables: tuple[PcsTable, ...] = ()  # in file order
    operation_terms: tuple[PcsOperationTerm, ...] = ()  # sorted by term

    def structure(self) -> PcsStructure:
        """What composing complete codes needs, as saved beside the catalog."""
        return PcsStructure(
            self.version, self.tables, self.operation_terms, tuple(self.axis_synonyms)
        )


def read_icd10pcs(folder: Path) -> PcsSource:
    """Read `icd10pcs_{tables,definitions,index}_YYYY.xml` from `folder` (newest year of each).

    The tables are required; the definitions and the index are used when present.
    Raises SourceFileError when the folder or the tables are missing, or a file is not
    ICD-10-PCS XML of the expected kind.
    """
    if not folder.is_dir():
        raise SourceFileError(f"ICD-10-PCS folder {folder} does not exist")
    tables_path = newest_file(folder, "tables")
    if tables_path is None:
        raise SourceFileError(f"no icd10pcs_tables_YYYY.xml file in {folder}")
    definitions_path = newest_file(folder, "definitions")
    index_path = newest_file(folder, "index")

    catalog = parse_tables(tables_path)
    definitions = parse_definitions(definitions_path) if definitions_path else Definitions()
    index = parse_index(index_path, catalog.version) if index_path else Index()

    terms, unresolved = _index_terms(catalog, index.code_references)
    records = [
        *_table_records(catalog, definitions, terms),
        *_body_part_records(catalog, terms),
        *_code_records(catalog, terms),
    ]
    records.sort(key=lambda record: record.code)
    synonyms = axis_synonyms(catalog, definitions, index.uses)
    operations = operation_terms(catalog, index.sees, index.code_references)
    logger.info(
        "ICD-10-PCS %s: %d records, %d axis synonyms, %d operation terms,"
        " %d index references to missing codes",
        catalog.version,
        len(records),
        len(synonyms),
        len(operations),
        len(unresolved),
    )
    return PcsSource(
        records=records,
        axis_synonyms=synonyms,
        version=catalog.version,
        unresolved_index_codes=unresolved,
        tables=catalog.tables,
        operation_terms=operations,
    )


def _index_terms(
    catalog: PcsTables, references: Iterable[CodeReference]
) -> tuple[dict[str, list[str]], tuple[str, ...]]:
    """Index terms by the record they belong to, and the references that match no record."""
    terms: dict[str, list[str]] = defaultdict(list)
    unresolved: list[str] = []
    for reference in references:
        code = reference.code
        if not catalog.has(code):
            unresolved.append(code)
            continue
        # A 5- or 6-character reference narrows a body part; its record is the 4-character one.
        owner = code[:4] if len(code) in (5, 6) else code
        terms[owner].append(reference.term)
    return terms, tuple(sorted(unresolved))


def _unique_terms(terms: Iterable[str]) -> tuple[str, ...]:
    """One spelling per case-insensitive term (the index's first), sorted case-insensitively."""
    unique: dict[str, str] = {}
    for term in terms:
        unique.setdefault(term.casefold(), term)
    return tuple(sorted(unique.values(), key=lambda term: (term.casefold(), term)))


# --- Records ----------------------------------------------------------------------------


def _table_records(
    catalog: PcsTables, definitions: Definitions, terms: dict[str, list[str]]
) -> Iterator[CodeRecord]:
    for table in catalog.tables:
        labels = [axis.values[0][1] for axis in table.header]
        yield CodeRecord(
            system=CodeSystem.ICD10PCS,
            code=table.prefix,
            description=", ".join(label for label in labels if label not in EMPTY_LABELS),
            billable=False,
            kind="table",
            parent=None,
            terms=_unique_terms(terms.get(table.prefix, ())),
            notes=_table_notes(table, definitions.operation(table.section, labels[2])),
            attributes=tuple((axis.key, axis.values[0][1]) for axis in table.header),
        )


def _table_notes(table: PcsTable, text: OperationText | None) -> tuple[CodeNote, ...]:
    definition = table.definition or (text.definition if text else "")
    notes = [CodeNote("definition", definition)] if definition else []
    if text and text.explanation:
        notes.append(CodeNote("explanation", text.explanation))
    if text:
        notes.extend(CodeNote("includes", included) for included in text.includes)
    return tuple(notes)


def _body_part_records(catalog: PcsTables, terms: dict[str, list[str]]) -> Iterator[CodeRecord]:
    for table in catalog.tables:
        header = [axis.values[0][1] for axis in table.header]
        for character, body_parts in _body_parts(table).items():
            code = table.prefix + character
            # A few tables reuse a character for two body parts (FY2026 XNS4 is "Thoracic
            # Vertebra" and "Humeral Shaft, Right"); the prefix record names both.
            either = " or ".join(side_first(part) for part in body_parts)
            body_part_key = table.rows[0][0].key
            yield CodeRecord(
                system=CodeSystem.ICD10PCS,
                code=code,
                description=code_title(table.section, [*header, either]),
                billable=False,
                kind="body_part",
                parent=table.prefix,
                terms=_unique_terms(terms.get(code, ())),
                attributes=(
                    *((axis.key, axis.values[0][1]) for axis in table.header),
                    *((body_part_key, part) for part in body_parts),
                ),
            )


def _body_parts(table: PcsTable) -> dict[str, list[str]]:
    """Axis-4 labels by character, in table order."""
    labels: dict[str, list[str]] = defaultdict(list)
    for row in table.rows:
        for character, label in row[0].values:
            if label not in labels[character]:
                labels[character].append(label)
    return labels


def _code_records(catalog: PcsTables, terms: dict[str, list[str]]) -> Iterator[CodeRecord]:
    for table in catalog.tables:
        for code, attributes in expand_table(table):
            labels = [label for _, label in attributes]
            yield CodeRecord(
                system=CodeSystem.ICD10PCS,
                code=code,
                description=code_title(table.section, labels),
                billable=True,
                kind="code",
                parent=code[:4],
                terms=_unique_terms(terms.get(code, ())),
                attributes=attributes,
            )

"""The records a catalog is built from and answers with."""

from dataclasses import dataclass, field

from codes.systems import CodeSystem


@dataclass(frozen=True, slots=True)
class CodeNote:
    """An instructional note on a code: kind is e.g. excludes1, code_first, definition."""

    kind: str
    text: str


@dataclass(frozen=True, slots=True)
class CodeRecord:
    """One entry of a code system as the catalog stores it.

    `kind` names the level: chapter, block, category, subcategory, code (ICD-10-CM);
    section, table, body_part, code (ICD-10-PCS); code (HCPCS, CPT).
    `terms` are other names a coder or a note may use for the code (inclusion terms,
    index entries, synonyms); they are searched and, later, matched in notes.
    `attributes` holds system-specific facts as plain strings (PCS axis labels,
    HCPCS effective dates, 7th-character rules as "A=initial encounter ...").
    """

    system: CodeSystem
    code: str
    description: str
    billable: bool
    kind: str
    parent: str | None = None
    terms: tuple[str, ...] = ()
    notes: tuple[CodeNote, ...] = ()
    attributes: tuple[tuple[str, str], ...] = field(default=())

"""HCPCS Level II from the CMS quarterly alpha-numeric file (TSV conversion of the xlsx)."""

from pathlib import Path

from codes.errors import SourceFileError
from codes.records import CodeRecord
from codes.systems import CANONICAL_PATTERNS, CodeSystem
from codes.tabular_files import iter_rows, read_text

_REQUIRED_COLUMNS = ("HCPC", "LONG DESCRIPTION", "SHORT DESCRIPTION", "TERM DT", "ACT EFF DT")


def find_hcpcs_file(folder: Path) -> Path:
    """The newest HCPCS TSV in `folder` (file names carry the year and quarter)."""
    candidates = sorted(folder.glob("HCPC*.tsv"))
    if not candidates:
        raise SourceFileError(f"no HCPCS TSV (HCPC*.tsv) in {folder}")
    return candidates[-1]


def read_hcpcs(path: Path) -> list[CodeRecord]:
    """Active Level II codes, sorted by code.

    Terminated codes (a TERM DT) are dropped: they can no longer be billed.
    Modifiers (two characters, right-aligned in the HCPC column) are not codes.
    """
    rows = iter_rows(read_text(path), "\t")
    try:
        _, header = next(rows)
    except StopIteration:
        raise SourceFileError(f"{path} is empty") from None
    missing = [c for c in _REQUIRED_COLUMNS if c not in header]
    if missing:
        raise SourceFileError(f"{path} is not a CMS HCPCS file: no column {', '.join(missing)}")
    column = {name: header.index(name) for name in _REQUIRED_COLUMNS}
    records = []
    for _, fields in rows:
        fields += [""] * (len(header) - len(fields))
        code = fields[column["HCPC"]].upper()
        if not CANONICAL_PATTERNS[CodeSystem.HCPCS].fullmatch(code):
            continue
        if fields[column["TERM DT"]]:
            continue
        short = fields[column["SHORT DESCRIPTION"]]
        records.append(
            CodeRecord(
                system=CodeSystem.HCPCS,
                code=code,
                description=fields[column["LONG DESCRIPTION"]] or short,
                billable=True,
                kind="code",
                terms=(short,) if short else (),
                attributes=(("effective_date", fields[column["ACT EFF DT"]]),),
            )
        )
    return sorted(records, key=lambda r: r.code)

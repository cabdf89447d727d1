"""Importer for a user's licensed CPT file.

CPT is the AMA's: nothing of it ships with medcode. A licensee points `medcode codes
import --cpt FILE` at their own file, two columns (code, descriptor), tab- or
comma-separated, with or without a header row.
"""

from pathlib import Path

from codes.errors import SourceFileError
from codes.records import CodeRecord
from codes.systems import CANONICAL_PATTERNS, CodeSystem
from codes.tabular_files import iter_rows, read_text, sniff_delimiter

_MAX_REPORTED_PROBLEMS = 10


def read_cpt(path: Path) -> list[CodeRecord]:
    """CPT codes from `path`, sorted; SourceFileError listing the bad rows if any."""
    text = read_text(path)
    pattern = CANONICAL_PATTERNS[CodeSystem.CPT]
    descriptors: dict[str, str] = {}
    problems: list[str] = []
    for line_number, fields in iter_rows(text, sniff_delimiter(text)):
        code = fields[0].upper()
        if line_number == 1 and not pattern.fullmatch(code):
            continue  # a header row
        if not pattern.fullmatch(code):
            problems.append(f"line {line_number}: {fields[0]!r} is not a CPT code")
        elif len(fields) < 2 or not fields[1]:
            problems.append(f"line {line_number}: {code} has no descriptor")
        elif descriptors.get(code, fields[1]) != fields[1]:
            problems.append(f"line {line_number}: {code} appears twice with different text")
        else:
            descriptors[code] = fields[1]
    if problems:
        shown = "; ".join(problems[:_MAX_REPORTED_PROBLEMS])
        more = len(problems) - _MAX_REPORTED_PROBLEMS
        raise SourceFileError(
            f"{path}: {len(problems)} bad rows, nothing imported: {shown}"
            + (f" (and {more} more)" if more > 0 else "")
        )
    if not descriptors:
        raise SourceFileError(f"{path} holds no CPT codes")
    return [
        CodeRecord(CodeSystem.CPT, code, descriptor, billable=True, kind="code")
        for code, descriptor in sorted(descriptors.items())
    ]

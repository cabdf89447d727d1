"""Reading delimited text files from outside the project (CMS releases, a user's CPT file)."""

import csv
from collections.abc import Iterator
from pathlib import Path

from codes.errors import SourceFileError


def read_text(path: Path) -> str:
    """A text file's content, UTF-8 (with or without BOM) or else Windows-1252."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SourceFileError(f"{path} does not exist") from None
    except OSError as exc:
        raise SourceFileError(f"{path} cannot be read: {exc.strerror}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Licensed code files are often exported from Excel on Windows.
        return raw.decode("cp1252", errors="replace")


def sniff_delimiter(text: str) -> str:
    """Tab when the first lines hold tabs, otherwise comma."""
    head = text.splitlines()[:20]
    return "\t" if any("\t" in line for line in head) else ","


def iter_rows(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) for each non-blank row, fields stripped."""
    reader = csv.reader(text.splitlines(), delimiter=delimiter, quotechar='"')
    for line_number, row in enumerate(reader, start=1):
        fields = [field.strip() for field in row]
        if any(fields):
            yield line_number, fields

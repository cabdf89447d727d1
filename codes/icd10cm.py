"""ICD-10-CM tabular list, read from the simple-icd-10-cm package (April 2026 release)."""

from collections.abc import Iterator
from functools import cache
from importlib.metadata import version

import simple_icd_10_cm as cm

from codes.records import CodeNote, CodeRecord
from codes.systems import CodeSystem

PACKAGE = "simple-icd-10-cm"

# Notes copied from the tabular list, by the kind they are stored under.
_NOTE_READERS = {
    "includes": cm.get_includes,
    "excludes1": cm.get_excludes1,
    "excludes2": cm.get_excludes2,
    "code_first": cm.get_code_first,
    "use_additional_code": cm.get_use_additional_code,
    "code_also": cm.get_code_also,
    "note": cm.get_notes,
}


def source_version() -> str:
    return f"{PACKAGE} {version(PACKAGE)}"


@cache
def read_icd10cm() -> tuple[CodeRecord, ...]:
    """Every chapter, block and code of the tabular list, sorted chapters last, then by code.

    Cached: the package's data cannot change while the process runs.
    """
    return tuple(sorted(_iter_records(), key=lambda r: (r.kind == "chapter", r.code)))


def _iter_records() -> Iterator[CodeRecord]:
    # The package lists a block that holds a single category under the category's own
    # name, so the same name comes twice; it is one code.
    seen: set[str] = set()
    for code in cm.get_all_codes(with_dots=True):
        if code in seen:
            continue
        seen.add(code)
        yield _record(code)


def _kind(code: str) -> str:
    if cm.is_chapter(code):
        return "chapter"
    if cm.is_category(code):
        return "category"
    if cm.is_block(code):
        return "block"
    if cm.is_subcategory(code) or cm.is_extended_subcategory(code):
        return "subcategory" if not cm.is_leaf(code) else "code"
    return "block"


def _record(code: str) -> CodeRecord:
    kind = _kind(code)
    billable = kind != "chapter" and kind != "block" and cm.is_leaf(code)
    if billable and kind == "category":
        kind = "code"
    # A category that is also its own one-category block names itself as parent.
    parent = next((a for a in cm.get_ancestors(code) if a != code), None)
    notes = tuple(
        CodeNote(note_kind, text)
        for note_kind, reader in _NOTE_READERS.items()
        for text in _as_lines(reader(code))
    )
    seventh = cm.get_seven_chr_def(code)
    attributes: tuple[tuple[str, str], ...] = ()
    if seventh:
        seventh_note = cm.get_seven_chr_note(code)
        if seventh_note:
            notes += (CodeNote("seventh_character_note", seventh_note.strip()),)
        attributes = tuple(
            ("seventh_character", f"{char}={' '.join(meaning.split())}")
            for char, meaning in sorted(seventh.items())
        )
    return CodeRecord(
        system=CodeSystem.ICD10CM,
        code=code,
        description=cm.get_description(code),
        billable=billable,
        kind=kind,
        parent=parent,
        terms=tuple(_unique(t.strip() for t in cm.get_inclusion_term(code) if t.strip())),
        notes=notes,
        attributes=attributes,
    )


def _as_lines(value: str | list[str]) -> list[str]:
    """The package gives some notes as a list and others as one newline-joined string."""
    lines = value.splitlines() if isinstance(value, str) else value
    return [line.strip() for line in lines if line.strip()]


def _unique(items: Iterator[str]) -> list[str]:
    seen: set[str] = set()
    kept = []
    for item in items:
        key = item.casefold()
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return kept

"""The built catalog on disk: one SQLite file with every record, written once, read-only after."""

import sqlite3
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path

from codes.records import CodeNote, CodeRecord
from codes.systems import CodeSystem

_SCHEMA = """
CREATE TABLE code (
    id INTEGER PRIMARY KEY,
    system TEXT NOT NULL,
    code TEXT NOT NULL,
    description TEXT NOT NULL,
    billable INTEGER NOT NULL,
    kind TEXT NOT NULL,
    parent TEXT,
    UNIQUE (system, code)
);
CREATE TABLE code_term (code_id INTEGER NOT NULL, position INTEGER NOT NULL, term TEXT NOT NULL);
CREATE TABLE code_note (
    code_id INTEGER NOT NULL, position INTEGER NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL
);
CREATE TABLE code_attribute (
    code_id INTEGER NOT NULL, position INTEGER NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL
);
"""
_INDEXES = """
CREATE INDEX ix_code_term_code_id ON code_term (code_id);
CREATE INDEX ix_code_note_code_id ON code_note (code_id);
CREATE INDEX ix_code_attribute_code_id ON code_attribute (code_id);
"""


def write_records(path: Path, records: Iterable[CodeRecord]) -> None:
    with closing(sqlite3.connect(path)) as db, db:
        db.executescript(_SCHEMA)
        for code_id, record in enumerate(records, start=1):
            db.execute(
                "INSERT INTO code VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    code_id,
                    record.system.value,
                    record.code,
                    record.description,
                    int(record.billable),
                    record.kind,
                    record.parent,
                ),
            )
            db.executemany(
                "INSERT INTO code_term VALUES (?, ?, ?)",
                [(code_id, i, term) for i, term in enumerate(record.terms)],
            )
            db.executemany(
                "INSERT INTO code_note VALUES (?, ?, ?, ?)",
                [(code_id, i, n.kind, n.text) for i, n in enumerate(record.notes)],
            )
            db.executemany(
                "INSERT INTO code_attribute VALUES (?, ?, ?, ?)",
                [(code_id, i, name, value) for i, (name, value) in enumerate(record.attributes)],
            )
        db.executescript(_INDEXES)


class CatalogStore:
    """Read access to the SQLite file; a connection per call keeps it safe across threads."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)

    def record(self, system: CodeSystem, code: str) -> CodeRecord | None:
        with closing(self._connect()) as db:
            row = db.execute(
                "SELECT id, code, description, billable, kind, parent FROM code"
                " WHERE system = ? AND code = ?",
                (system.value, code),
            ).fetchone()
            if row is None:
                return None
            code_id = row[0]
            return _record(
                system,
                row,
                terms=_rows(db, "term", "code_term", code_id),
                notes=_rows(db, "kind, text", "code_note", code_id),
                attributes=_rows(db, "name, value", "code_attribute", code_id),
            )

    def attributes(self, system: CodeSystem, code: str) -> list[tuple[str, str]]:
        with closing(self._connect()) as db:
            return db.execute(
                "SELECT a.name, a.value FROM code_attribute a JOIN code c ON c.id = a.code_id"
                " WHERE c.system = ? AND c.code = ? ORDER BY a.position",
                (system.value, code),
            ).fetchall()

    def records(self, system: CodeSystem) -> list[CodeRecord]:
        """Every record of `system` in code order (for builds, not for requests)."""
        with closing(self._connect()) as db:
            rows = db.execute(
                "SELECT id, code, description, billable, kind, parent FROM code"
                " WHERE system = ? ORDER BY code",
                (system.value,),
            ).fetchall()
            terms = _grouped(db, "code_term", "term", system)
            notes = _grouped(db, "code_note", "kind, text", system)
            attributes = _grouped(db, "code_attribute", "name, value", system)
        return [
            _record(
                system,
                row,
                terms=terms.get(row[0], []),
                notes=notes.get(row[0], []),
                attributes=attributes.get(row[0], []),
            )
            for row in rows
        ]


def _record(
    system: CodeSystem,
    row: tuple[int, str, str, int, str, str | None],
    terms: list[tuple[str, ...]],
    notes: list[tuple[str, ...]],
    attributes: list[tuple[str, ...]],
) -> CodeRecord:
    """A record from its `code` row (id, code, description, billable, kind, parent)."""
    _, code, description, billable, kind, parent = row
    return CodeRecord(
        system=system,
        code=code,
        description=description,
        billable=bool(billable),
        kind=kind,
        parent=parent,
        terms=tuple(t for (t,) in terms),
        notes=tuple(CodeNote(k, t) for k, t in notes),
        attributes=tuple((n, v) for n, v in attributes),
    )


def _grouped(
    db: sqlite3.Connection, table: str, columns: str, system: CodeSystem
) -> dict[int, list[tuple[str, ...]]]:
    grouped: dict[int, list[tuple[str, ...]]] = {}
    # Table and column names come from this module only, never from a caller.
    selected = ", ".join(f"t.{column.strip()}" for column in columns.split(","))
    query = (
        f"SELECT t.code_id, {selected} FROM {table} t JOIN code c ON c.id = t.code_id"
        " WHERE c.system = ? ORDER BY t.code_id, t.position"
    )
    for code_id, *values in db.execute(query, (system.value,)):
        grouped.setdefault(code_id, []).append(tuple(values))
    return grouped


def _rows(db: sqlite3.Connection, columns: str, table: str, code_id: int) -> list[tuple[str, ...]]:
    # Table and column names come from this module only, never from a caller.
    return db.execute(
        f"SELECT {columns} FROM {table} WHERE code_id = ? ORDER BY position", (code_id,)
    ).fetchall()

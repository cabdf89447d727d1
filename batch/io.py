"""Notes in and records out as files, streamed, for every engine: JSON Lines or Parquet,
chosen by the path's suffix.

Input: one note per JSON line or Parquet row, with `note_id` (a non-empty string, unique in
the input), `text` and optionally `setting`; other fields are ignored. The input is checked
once before anything is coded (`open_notes`): a missing or repeated note_id is refused,
naming the line or row, because records are matched to notes, and a rerun skips notes, by
their id. A note whose text is missing, empty or not a string is not refused: it becomes an
error record, as /suggest would refuse it, and the run goes on.

Output is resumable: a rerun with the same output skips the notes already written, and no
note is written twice, even after a crash in the middle of a write.
- JSON Lines: one record per line, appended, flushed and fsynced at each checkpoint. A run
  stopped mid-write leaves a last line without its newline; the next run cuts it off and
  codes that note again.
- Parquet: a folder of part files (`part-00000.parquet`, ...), one per checkpoint, each
  written under a hidden temporary name, fsynced, then renamed: a part is whole or absent.
  Readers of the folder (pyarrow, Spark, DuckDB) skip hidden files; the next run deletes any
  left over.
One run at a time writes to an output: a second one is refused while the first holds its
lock.

Note text is patient data: no message here quotes it, nor any other value of a note.
"""

import codecs
import fcntl
import json
import logging
import os
import re
import time
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from batch.core import INPUT_FIELDS
from batch.records import RECORD_SCHEMA
from codes.errors import MedcodeError

logger = logging.getLogger(__name__)

JSONL = ".jsonl"
PARQUET = ".parquet"
FORMATS = (JSONL, PARQUET)

# Rows read from a Parquet input at a time: a few MB of notes, whatever the row groups are.
PARQUET_READ_ROWS = 1024
# Checkpoints: how much work a crash can lose. A JSON line costs nothing to fsync; a
# Parquet part should hold enough rows to be worth a file.
JSONL_CHECKPOINT = (100, 5.0)  # records, seconds
PARQUET_CHECKPOINT = (1000, 120.0)

_PART = re.compile(r"part-(\d+)\.parquet")
_TEMP_PREFIX = ".tmp-"
_LOCK_FILE = ".lock"


class BatchFileError(MedcodeError):
    """An input or output file medcode batch cannot use, and why (never a note's text)."""

    status_code = 400
    error = "bad_batch_file"


def file_format(path: Path) -> str:
    """The format of a path, from its suffix: JSONL or PARQUET."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise BatchFileError(f"{path}: name it *.jsonl (JSON Lines) or *.parquet (Parquet)")
    return suffix


# ---- notes in ----------------------------------------------------------------------------


class Notes:
    """The notes of an input, in input order, once their ids are checked (`open_notes`);
    `without(written)`: the same input less the notes already written."""

    def __init__(self, path: Path, ids: set[str], written: Collection[str] = frozenset()) -> None:
        self.path = path
        self._ids = ids
        self._written = written
        self.total = len(ids)
        small, large = (written, ids) if len(written) < len(ids) else (ids, written)
        self.skipped = sum(1 for note_id in small if note_id in large)

    @property
    def remaining(self) -> int:
        return self.total - self.skipped

    def without(self, written: Collection[str]) -> "Notes":
        return Notes(self.path, self._ids, written)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        rows = (
            _jsonl_notes(self.path)
            if file_format(self.path) == JSONL
            else _parquet_notes(self.path)
        )
        for _where, note in rows:
            if note["note_id"] not in self._written:
                yield note


def open_notes(path: Path) -> Notes:
    """The notes of `path`, once every note_id is checked: present, a non-empty string, and
    unique. Reads the input once, keeping only the ids."""
    file_format(path)
    if not path.exists():
        raise BatchFileError(f"{path}: no such file")
    seen: set[str] = set()
    for where, note_id in _ids(path):
        if not isinstance(note_id, str) or not note_id.strip():
            raise BatchFileError(
                f"{where}: no note_id; each note needs one, a non-empty string (records are"
                " matched to notes, and a rerun skips notes, by it)"
            )
        if note_id in seen:
            first = next(w for w, i in _ids(path) if i == note_id)
            raise BatchFileError(
                f"{where} repeats the note_id of {first}: note_ids must be unique in the input"
                " (records are matched to notes, and a rerun skips notes, by it)"
            )
        seen.add(note_id)
    return Notes(path, seen)


def _ids(path: Path) -> Iterator[tuple[str, Any]]:
    return _jsonl_ids(path) if file_format(path) == JSONL else _parquet_ids(path)


def _jsonl_objects(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """("<path>: line N", object) per non-blank line; N counts blank lines too."""
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, 1):
            where = f"{path}: line {number}"
            line = (
                raw[len(codecs.BOM_UTF8) :]
                if number == 1 and raw.startswith(codecs.BOM_UTF8)
                else raw
            )
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except UnicodeDecodeError:
                raise BatchFileError(f"{where} is not UTF-8 text") from None
            except ValueError as exc:
                # The decoder's message names a position, never the text.
                raise BatchFileError(f"{where} is not JSON ({exc})") from None
            if not isinstance(value, dict):
                raise BatchFileError(f"{where} is not a JSON object")
            yield where, value


def _jsonl_ids(path: Path) -> Iterator[tuple[str, Any]]:
    for where, value in _jsonl_objects(path):
        yield where, value.get("note_id")


def _jsonl_notes(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for where, value in _jsonl_objects(path):
        yield where, {k: value[k] for k in INPUT_FIELDS if k in value}


def _parquet_inputs(path: Path) -> list[Path]:
    """A Parquet file, or the parts of a Parquet folder (as Spark writes them) in order."""
    if path.is_dir():
        parts = sorted(p for p in path.iterdir() if p.suffix == PARQUET and _visible(p))
        if not parts:
            raise BatchFileError(f"{path}: a folder without *.parquet files")
        return parts
    return [path]


def _visible(path: Path) -> bool:
    return not path.name.startswith((".", "_"))


def _parquet_columns(path: Path) -> list[str]:
    """The input columns of a Parquet file, refused unless note_id and text are strings."""
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException) as exc:
        raise BatchFileError(f"{path}: not a Parquet file ({type(exc).__name__})") from None
    for name in ("note_id", "text"):
        if name not in schema.names:
            raise BatchFileError(f"{path}: no {name} column")
    for name in INPUT_FIELDS:
        if name in schema.names and not _is_text(schema.field(name).type):
            raise BatchFileError(f"{path}: column {name} holds {schema.field(name).type}, not text")
    return [name for name in INPUT_FIELDS if name in schema.names]


def _is_text(kind: pa.DataType) -> bool:
    """Strings, or nulls only (a column no row fills)."""
    return bool(
        pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind)
    )


def _parquet_rows(path: Path, columns: list[str] | None) -> Iterator[tuple[str, dict[str, Any]]]:
    """("<file>: row N", row) per row, N counting from 0, a few batches in memory at a time."""
    for part in _parquet_inputs(path):
        wanted = _parquet_columns(part) if columns is None else columns
        number = 0
        # One thread: the reading is nothing beside the coding, and worker processes are
        # forked from this one.
        batches = pq.ParquetFile(part).iter_batches(
            PARQUET_READ_ROWS, columns=wanted, use_threads=False
        )
        for batch in batches:
            for row in batch.to_pylist():
                yield f"{part}: row {number}", row
                number += 1


def _parquet_ids(path: Path) -> Iterator[tuple[str, Any]]:
    for part in _parquet_inputs(path):
        _parquet_columns(part)  # refuse a file without text before coding anything
    for where, row in _parquet_rows(path, ["note_id"]):
        yield where, row["note_id"]


def _parquet_notes(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    return _parquet_rows(path, None)


# ---- records out -------------------------------------------------------------------------


class Results:
    """An output being written: the note_ids already in it (`written`), and the model and
    conventions they were coded with (`runs`). Records go in with `write`; `close` (or
    leaving a `with` block, even on an error) writes a last checkpoint."""

    def __init__(self, path: Path, every: int, seconds: float) -> None:
        self.path = path
        self.written: set[str] = set()
        self.runs: set[tuple[str | None, str | None]] = set()
        self._every = every
        self._seconds = seconds
        self._pending = 0
        self._since = time.monotonic()
        self._lock: IO[bytes] | None = None

    def write(self, record: Mapping[str, Any]) -> None:
        self._add(record)
        self.written.add(record["note_id"])
        self._pending += 1
        if self._pending >= self._every or time.monotonic() - self._since >= self._seconds:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Make every record written so far durable."""
        if self._pending:
            self._save()
        self._pending = 0
        self._since = time.monotonic()

    def close(self) -> None:
        try:
            self.checkpoint()
        finally:
            self._release()

    def require_run(self, model_version: str | None, conventions: str | None) -> None:
        """Refuse to add records of another model or conventions to this output."""
        others = sorted((str(m), str(c)) for m, c in self.runs - {(model_version, conventions)})
        if others:
            model, named = others[0]
            raise BatchFileError(
                f"{self.path} holds records of model {model} with the {named} conventions;"
                f" this run codes with model {model_version} and the {conventions} conventions."
                " Resume it with the same --model and --conventions, or write to another --out"
            )

    def __enter__(self) -> "Results":
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _seen(self, note_id: Any, model_version: Any, conventions: Any) -> None:
        self.written.add(note_id)
        self.runs.add((model_version, conventions))

    def _lock_and_resume(self, handle: IO[bytes]) -> None:
        """Hold `handle`'s lock until closed (or refuse if another run holds it), then read
        what earlier runs wrote; a failure to read lets the lock go."""
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise BatchFileError(
                f"{self.path}: another medcode batch run is writing to it; wait for it to end"
            ) from None
        self._lock = handle
        try:
            self._resume()
        except BaseException:
            self._release()
            raise

    def _resume(self) -> None:
        raise NotImplementedError

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file drops its lock
            self._lock = None

    def _add(self, record: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def _save(self) -> None:
        raise NotImplementedError


class JsonlResults(Results):
    def __init__(self, path: Path) -> None:
        super().__init__(path, *JSONL_CHECKPOINT)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("ab")
        self._lock_and_resume(self._file)  # the output itself carries the lock

    def _resume(self) -> None:
        """Read the ids of the complete lines; cut off a last line a crash left torn."""
        complete = 0
        with self.path.open("rb") as lines:
            for number, raw in enumerate(lines, 1):
                if not raw.endswith(b"\n"):
                    break  # only the last line can lack its newline
                try:
                    record = json.loads(raw)
                    self._seen(record["note_id"], record["model_version"], record["conventions"])
                except (ValueError, TypeError, KeyError):
                    raise BatchFileError(
                        f"{self.path}: line {number} is not a record of medcode batch;"
                        " write to another --out"
                    ) from None
                complete += len(raw)
        size = self.path.stat().st_size
        if size > complete:
            os.ftruncate(self._file.fileno(), complete)
            os.fsync(self._file.fileno())
            logger.warning(
                "%s: removed an incomplete last line (%d bytes) left by an interrupted run;"
                " its note is coded again",
                self.path,
                size - complete,
            )

    def _add(self, record: Mapping[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        self._file.write(line.encode("utf-8") + b"\n")

    def _save(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())


class ParquetResults(Results):
    def __init__(self, path: Path) -> None:
        super().__init__(path, *PARQUET_CHECKPOINT)
        if path.exists() and not path.is_dir():
            raise BatchFileError(
                f"{path} is a file: Parquet output is a folder of part files; name another --out"
            )
        path.mkdir(parents=True, exist_ok=True)
        self._rows: list[Mapping[str, Any]] = []
        self._lock_and_resume((path / _LOCK_FILE).open("ab"))

    def _resume(self) -> None:
        for stray in self.path.glob(f"{_TEMP_PREFIX}*"):
            stray.unlink()
            logger.warning(
                "%s: removed %s, a part an interrupted run left unfinished", self.path, stray.name
            )
        numbers = [-1]
        for part in result_parts(self.path):
            found = _PART.fullmatch(part.name)
            if found:
                numbers.append(int(found[1]))
            columns = ["note_id", "model_version", "conventions"]
            for batch in pq.ParquetFile(part).iter_batches(columns=columns, use_threads=False):
                ids, models, conventions = (batch.column(c).to_pylist() for c in columns)
                for note_id, model, named in zip(ids, models, conventions, strict=True):
                    self._seen(note_id, model, named)
        self._next = max(numbers) + 1

    def _add(self, record: Mapping[str, Any]) -> None:
        self._rows.append(record)

    def _save(self) -> None:
        name = f"part-{self._next:05d}.parquet"
        temporary = self.path / f"{_TEMP_PREFIX}{name}"
        pq.write_table(pa.Table.from_pylist(self._rows, schema=RECORD_SCHEMA), temporary)
        _fsync(temporary)
        os.replace(temporary, self.path / name)
        _fsync(self.path)  # the rename itself
        self._rows = []
        self._next += 1


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def open_results(path: Path) -> Results:
    """The output at `path`, created if missing, ready to resume if not."""
    return JsonlResults(path) if file_format(path) == JSONL else ParquetResults(path)


def result_parts(folder: Path) -> list[Path]:
    """The complete parts of a Parquet output, in the order they were written."""

    def order(part: Path) -> tuple[int, str]:
        found = _PART.fullmatch(part.name)
        return (int(found[1]) if found else -1, part.name)

    return sorted((p for p in folder.glob(f"*{PARQUET}") if _visible(p)), key=order)


def read_results(path: Path) -> Iterator[dict[str, Any]]:
    """The records of an output as written, the same dicts from either format; a torn last
    JSON line (a run stopped mid-write) is left out."""
    if file_format(path) == JSONL:
        with path.open("rb") as lines:
            for raw in lines:
                if raw.endswith(b"\n"):
                    yield json.loads(raw)
        return
    for part in result_parts(path):
        for batch in pq.ParquetFile(part).iter_batches(use_threads=False):
            yield from batch.to_pylist()

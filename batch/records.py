"""What a batch run writes, whatever the engine: the Arrow schema of a result record and
the summary a run reports.

A record is `batch.core.NoteCoder.code`'s dict (OUTPUT_FIELDS): the /suggest answer for one
note, or the error it would have answered. JSON Lines output writes the dict as is;
Parquet output writes it with RECORD_SCHEMA, so a record read back from either format is
the same dict.
"""

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

EVIDENCE_TYPE = pa.struct(
    [
        ("start", pa.int64()),
        ("end", pa.int64()),
        ("text", pa.string()),
        ("section", pa.string()),
        ("assertion", pa.string()),
    ]
)
SUGGESTION_TYPE = pa.struct(
    [
        ("system", pa.string()),
        ("code", pa.string()),
        ("description", pa.string()),
        ("score", pa.float64()),
        ("recommended", pa.bool_()),
        ("billable", pa.bool_()),
        ("evidence", pa.list_(EVIDENCE_TYPE)),
        ("notes", pa.list_(pa.string())),
    ]
)
ERROR_TYPE = pa.struct([("error", pa.string()), ("detail", pa.string())])

# The one schema of Parquet records, for every engine (Spark: pyspark's from_arrow_schema).
# Every field nullable, as Spark reads and writes them: `error` is null on a coded note.
RECORD_SCHEMA = pa.schema(
    [
        ("note_id", pa.string()),
        ("model_version", pa.string()),
        ("conventions", pa.string()),
        ("suggestions", pa.list_(SUGGESTION_TYPE)),
        ("error", ERROR_TYPE),
    ]
)


@dataclass
class BatchSummary:
    """What a run did: records written (coded notes and error records), notes skipped
    because an earlier run had written them, errors by kind, and how long coding took."""

    written: int = 0
    skipped: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0  # coding, from the first note to the last record written
    load_seconds: float = 0.0  # catalog, reader and model, before the first note
    workers: int = 1

    def add(self, record: Mapping[str, Any]) -> None:
        self.written += 1
        if record["error"] is not None:
            self.errors[record["error"]["error"]] += 1

    @property
    def coded(self) -> int:
        """Notes written with suggestions (possibly none), not as errors."""
        return self.written - sum(self.errors.values())

    @property
    def rate(self) -> float:
        """Notes written per second of coding."""
        return self.written / self.seconds if self.seconds > 0 else 0.0

    def lines(self) -> list[str]:
        errors = ", ".join(f"{kind} {n}" for kind, n in sorted(self.errors.items())) or "none"
        return [
            f"notes coded: {self.coded}, errors: {sum(self.errors.values())} ({errors}),"
            f" skipped (already written): {self.skipped}",
            f"{self.rate:.2f} notes/s: {self.written} notes in {self.seconds:.1f} s with"
            f" {self.workers} worker{'s' if self.workers != 1 else ''}"
            f" (loading took {self.load_seconds:.1f} s)",
        ]

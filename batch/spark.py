"""The Spark engine of `medcode batch`: the core (batch.core) inside `mapInPandas`.

The only module that imports pyspark or pandas (the `spark` extra). The driver pins the
model version, then ships plain values: the few settings an executor needs and the
options. Each Python worker builds one NoteCoder the first time it sees a batch and keeps
it for every later batch of the run, so a worker loads the catalog, lexicon and model
once. Records come out with one fixed schema, so every run appends the same columns.

No master is set here unless asked: under spark-submit the session takes `--master`
(yarn, k8s://..., spark://...); run as a plain Python program it is PySpark's local[*].
Note text never reaches a log: unexpected errors are logged by type and place only.
"""

import logging
import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app import log_hygiene
from app.config import Settings
from batch.core import INPUT_FIELDS, OUTPUT_FIELDS, BatchOptions, NoteCoder
from batch.records import RECORD_SCHEMA, BatchSummary
from codes.errors import MedcodeError

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

logger = logging.getLogger(__name__)

# What an executor needs of the driver's settings to build the same NoteCoder. A relative
# var_dir stays relative: each container resolves it in its own working directory, where
# spark-submit --archives unpacks a shipped folder.
_EXECUTOR_SETTINGS = ("var_dir", "link_k", "link_threshold", "conventions", "request_seconds")

# Notes per Spark task: small enough that a retried task loses little (about two minutes
# of one core at ~10 notes/s), large enough that task overhead stays negligible.
NOTES_PER_TASK = 1000

FORMATS = ("parquet", "delta")
_JSON_SUFFIXES = (".jsonl", ".json", ".ndjson", ".jsonl.gz", ".json.gz", ".ndjson.gz")


@dataclass(frozen=True)
class CodingJob:
    """What travels to the executors: plain settings values and the pinned options."""

    settings: tuple[tuple[str, Any], ...]
    options: BatchOptions

    @classmethod
    def of(cls, settings: Settings, options: BatchOptions) -> "CodingJob":
        dumped = settings.model_dump(include=set(_EXECUTOR_SETTINGS), mode="json")
        values = tuple((name, dumped[name]) for name in _EXECUTOR_SETTINGS)
        return cls(values, options.pinned(settings))

    def open_coder(self) -> NoteCoder:
        return NoteCoder.open(Settings(**dict(self.settings)), self.options)


# The coder of this Python worker and the job it was built for; filled on first use.
_coder: tuple[CodingJob, NoteCoder] | None = None


def _worker_coder(job: CodingJob) -> NoteCoder:
    global _coder
    if _coder is None or _coder[0] != job:
        log_hygiene.install()
        _coder = None  # drop the previous job's coder before loading another
        _coder = (job, job.open_coder())
    return _coder[1]


def spark_schema() -> "StructType":
    """RECORD_SCHEMA as Spark types: the fixed output schema of `code_notes`."""
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(RECORD_SCHEMA)


def input_schema() -> "StructType":
    from pyspark.sql.types import StringType, StructField, StructType

    return StructType([StructField(name, StringType()) for name in ("note_id", "text", "setting")])


def code_notes(df: "DataFrame", settings: Settings, options: BatchOptions) -> "DataFrame":
    """One record per row of `df` (columns note_id, text, setting), with RECORD_SCHEMA.

    Lazy, like any Spark transformation: nothing is coded until the result is written or
    collected. The model version is pinned here, in the driver.
    """
    job = CodingJob.of(settings, options)

    def code_batches(batches: Iterator["pd.DataFrame"]) -> Iterator["pd.DataFrame"]:
        return _code_batches(job, batches)

    return df.mapInPandas(code_batches, spark_schema())


def _code_batches(job: CodingJob, batches: Iterator["pd.DataFrame"]) -> Iterator["pd.DataFrame"]:
    import pandas as pd

    for batch in batches:
        if batch.empty:
            continue
        coder = _worker_coder(job)  # built on the first note, not for an empty partition
        records = [coder.code(note) for note in batch.to_dict("records")]
        yield pd.DataFrame.from_records(records, columns=list(OUTPUT_FIELDS))


# ---- a run: read, skip what is done, code, append ---------------------------------------


def session(master: str | None = None) -> "SparkSession":
    """The Spark session: the running one, else a new one.

    master: for local runs (`local[4]`); left None, spark-submit's --master decides, or
    PySpark's default local[*]. Local Python workers use this interpreter (PYSPARK_PYTHON,
    unless set); on a cluster the user's environment decides which Python runs them.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise MedcodeError(
            "the Spark engine needs the spark extra: pip install 'medcode[spark]'"
        ) from exc
    if _runs_locally(master):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    logging.getLogger("py4j").setLevel(logging.WARNING)  # each call to the JVM, at INFO
    builder = SparkSession.builder.appName("medcode batch")
    if master is not None:
        builder = builder.master(master)
    spark = builder.getOrCreate()
    try:
        spark.sparkContext.setLogLevel("WARN")
    except Exception:  # a Spark Connect session (Databricks) has no SparkContext
        logger.debug("log level left to the Spark Connect server")
    return spark


def stop_session() -> None:
    """Stop this process's Spark session, if it has one (the end of a spark-submit job)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return
    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()


def _runs_locally(master: str | None) -> bool:
    if master is not None:
        return master.startswith("local")
    # Under spark-submit the launcher set the master; only a plain `python` run is local[*].
    submit_args = os.environ.get("PYSPARK_SUBMIT_ARGS", "")
    return "PYSPARK_GATEWAY_PORT" not in os.environ and "--master" not in submit_args


def read_notes(spark: "SparkSession", in_path: str, in_format: str | None = None) -> "DataFrame":
    """Notes from JSON lines or Parquet (or Delta): columns note_id, text, setting."""
    from pyspark.sql import functions as sf
    from pyspark.sql.types import StringType

    fmt = in_format or ("json" if in_path.lower().endswith(_JSON_SUFFIXES) else "parquet")
    if fmt == "json":
        # An explicit schema: no pass over the data to infer one. A line that is not a
        # JSON object reads as a row without note_id, refused as such (never quoted).
        return spark.read.schema(input_schema()).json(in_path)
    df = spark.read.format(fmt).load(in_path)
    for name in ("note_id", "text"):
        if name not in df.columns:
            raise MedcodeError(f"{in_path}: no {name} column")
    for field in df.schema.fields:
        if field.name in INPUT_FIELDS and not isinstance(field.dataType, StringType):
            raise MedcodeError(
                f"{in_path}: column {field.name} holds {field.dataType.simpleString()}, not text"
            )
    setting = sf.col("setting") if "setting" in df.columns else sf.lit(None).cast("string")
    return df.select("note_id", "text", setting.alias("setting"))


def run_spark(
    settings: Settings,
    options: BatchOptions,
    in_path: str,
    out_path: str,
    master: str | None = None,
    *,
    in_format: str | None = None,
    out_format: str = "parquet",
    notes_per_task: int = NOTES_PER_TASK,
) -> BatchSummary:
    """Code the notes of `in_path` that `out_path` does not hold yet, and append their records.

    As the local engine does (batch.io): every note needs a note_id, unique in the input,
    checked before anything is coded; a rerun codes only the notes not written yet, with
    the model and conventions of the records already there; no note is written twice.
    """
    if out_format not in FORMATS:
        raise MedcodeError(f"the Spark engine writes {' or '.join(FORMATS)}, not {out_format}")
    spark = session(master)
    pinned = options.pinned(settings)
    conventions = pinned.conventions or settings.conventions.value
    notes = read_notes(spark, in_path, in_format)
    total = _checked_ids(notes, in_path)
    summary = BatchSummary(workers=_parallelism(spark))

    # The output as it is now: a DataFrame read from files is bound to the files listed
    # when it was made (Delta: to one table version), so the records this run appends
    # are never among `done`, even when read after the write.
    written = _written(spark, out_path, out_format)
    done = None
    pending = notes
    if written is not None:
        _require_run(written, out_path, pinned.model_version, conventions)
        done = written.select("note_id")
        pending = notes.join(done, "note_id", "left_anti")
    # Counted on the note_id column alone: the texts are read once, by the coding job.
    remaining = total if done is None else pending.select("note_id").count()
    summary.skipped = total - remaining
    logger.info(
        "%d notes in %s, %d already written, %d to code with model %s",
        total,
        in_path,
        summary.skipped,
        remaining,
        pinned.model_version,
    )
    if not remaining:
        return summary

    # Notes are small in bytes and costly in processor time: left to itself, Spark would
    # pack a few hundred thousand into one task and keep the other cores idle.
    tasks = max(summary.workers, math.ceil(remaining / notes_per_task))
    records = code_notes(pending.repartition(tasks, "note_id"), settings, pinned)
    started = time.perf_counter()
    records.write.format(out_format).mode("append").save(out_path)
    summary.seconds = time.perf_counter() - started

    after = spark.read.format(out_format).load(out_path)
    new = after if done is None else after.join(done, "note_id", "left_anti")
    for row in new.groupBy(new.error.error.alias("kind")).count().collect():
        summary.written += row["count"]
        if row["kind"] is not None:
            summary.errors[row["kind"]] += row["count"]
    return summary


def _checked_ids(notes: "DataFrame", in_path: str) -> int:
    """The number of notes, once each is known to have a note_id of its own."""
    from pyspark.sql import functions as sf

    counts = notes.agg(
        sf.count(sf.lit(1)).alias("notes"),
        sf.count(sf.when(sf.trim(notes.note_id) != "", 1)).alias("with_id"),
        sf.count_distinct(notes.note_id).alias("distinct"),
    ).first()
    assert counts is not None
    why = "records are matched to notes, and a rerun skips notes, by it"
    if counts["with_id"] < counts["notes"]:
        raise MedcodeError(
            f"{in_path}: {counts['notes'] - counts['with_id']} notes have no note_id, or"
            f" are not JSON objects; each note needs one, a non-empty string ({why})"
        )
    if counts["distinct"] < counts["notes"]:
        raise MedcodeError(
            f"{in_path}: {counts['notes'] - counts['distinct']} notes repeat the note_id of"
            f" another: note_ids must be unique in the input ({why})"
        )
    return int(counts["notes"])


def _written(spark: "SparkSession", out_path: str, out_format: str) -> "DataFrame | None":
    """The records already in the output, or None when there is no output yet."""
    from pyspark.errors import AnalysisException

    if _path_exists(spark, out_path) is False:
        return None  # asked first: Spark warns with a stack trace when reading no path
    try:
        written = spark.read.format(out_format).load(out_path)
    except AnalysisException as exc:
        # getCondition from Spark 4.0; Spark 3.5 (Databricks 15.4 LTS) has getErrorClass.
        condition = getattr(exc, "getCondition", exc.getErrorClass)() or ""
        if condition == "DATA_SOURCE_NOT_FOUND":
            raise MedcodeError(
                f"this Spark session cannot write {out_format}: add Delta Lake to it"
                " (Databricks has it; elsewhere spark-submit --packages io.delta:delta-spark_...)"
            ) from None
        if condition in _NO_OUTPUT_YET:
            return None
        raise
    if tuple(written.columns) != OUTPUT_FIELDS:
        raise MedcodeError(
            f"{out_path} holds something else than medcode batch records"
            f" (columns {', '.join(written.columns)}): write to another output"
        )
    return written


def _require_run(
    written: "DataFrame", out_path: str, model_version: str | None, conventions: str
) -> None:
    """Refuse to add records of another model or conventions to this output."""
    runs = written.select("model_version", "conventions").distinct().collect()
    others = sorted(
        (str(row["model_version"]), str(row["conventions"]))
        for row in runs
        if (row["model_version"], row["conventions"]) != (model_version, conventions)
    )
    if others:
        model, named = others[0]
        raise MedcodeError(
            f"{out_path} holds records of model {model} with the {named} conventions;"
            f" this run codes with model {model_version} and the {conventions} conventions."
            " Resume it with the same model and conventions, or write to another output"
        )


def _path_exists(spark: "SparkSession", path: str) -> bool | None:
    """Whether the path exists, asked of Hadoop's file systems (hdfs://, s3a://, local);
    None when this session cannot say (Spark Connect has no JVM on the client side)."""
    jvm = getattr(spark, "_jvm", None)
    if jvm is None:
        return None
    try:
        hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
        file_system = hadoop_path.getFileSystem(spark._jsc.hadoopConfiguration())
        return bool(file_system.exists(hadoop_path))
    except Exception:
        return None


# Why reading the output failed when there is none yet: no such path, an empty folder
# (no Parquet footer to read a schema from), no Delta table there.
_NO_OUTPUT_YET = frozenset(
    {
        "PATH_NOT_FOUND",
        "UNABLE_TO_INFER_SCHEMA",
        "DELTA_PATH_DOES_NOT_EXIST",
        "DELTA_MISSING_DELTA_TABLE",
        "DELTA_TABLE_NOT_FOUND",
    }
)


def _parallelism(spark: "SparkSession") -> int:
    try:
        return int(spark.sparkContext.defaultParallelism)
    except Exception:  # Spark Connect: the server spreads the tasks
        return 1

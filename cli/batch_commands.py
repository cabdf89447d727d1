"""`medcode batch`: suggest codes for every note of a JSON Lines or Parquet file, into a
resumable JSON Lines or Parquet output, on this machine or on Spark."""

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.config import Settings
from batch.arguments import add_option_arguments, options_from

if TYPE_CHECKING:  # imported when a batch runs: pyarrow is not needed to parse arguments
    from batch.core import BatchOptions
    from batch.records import BatchSummary

ENGINES = ("local", "spark")


def add_commands(commands: Any) -> None:
    batch = commands.add_parser(
        "batch",
        help="suggest codes for every note of a file, into a resumable output",
        description="Suggest codes for every note of NOTES, one record per note (the /suggest"
        " answer, or the error it would give) appended to RESULTS. A rerun with the same"
        " RESULTS skips the notes already in it.",
    )
    batch.add_argument(
        "--in",
        dest="in_path",
        type=Path,
        required=True,
        metavar="NOTES",
        help="*.jsonl or *.parquet: note_id (unique), text, optional setting",
    )
    batch.add_argument(
        "--out",
        dest="out_path",
        type=Path,
        required=True,
        metavar="RESULTS",
        help="*.jsonl, or *.parquet (a folder of part files)",
    )
    batch.add_argument("--engine", choices=ENGINES, default="local")
    batch.add_argument(
        "--workers", type=int, help="local engine: processes coding notes (default 1)"
    )
    add_option_arguments(batch)
    batch.add_argument("--quiet", action="store_true", help="no progress bar")
    batch.set_defaults(run=_batch)


def _batch(args: argparse.Namespace, settings: Settings) -> int:
    from batch.io import file_format

    if args.workers is not None and args.workers < 1:
        raise ValueError("--workers must be at least 1")
    file_format(args.in_path)
    file_format(args.out_path)
    options = options_from(args, settings)
    if args.engine == "spark":
        return _spark(args, settings, options)

    from batch.local import run_local

    try:
        summary = run_local(
            settings,
            options,
            args.in_path,
            args.out_path,
            workers=args.workers or 1,
            progress=not args.quiet,
        )
    except KeyboardInterrupt:
        print(
            f"medcode: interrupted; the records written to {args.out_path} are kept:"
            " run the same command again to code the rest",
            file=sys.stderr,
        )
        return 130
    _report(args, options, summary)
    return 0


def _spark(args: argparse.Namespace, settings: Settings, options: "BatchOptions") -> int:
    from batch.io import PARQUET, file_format

    if args.workers is not None:
        raise ValueError(
            "--workers is for --engine local: Spark runs as many tasks as its master allows"
        )
    if file_format(args.out_path) != PARQUET:
        raise ValueError("--engine spark writes Parquet: name --out *.parquet")
    from batch.spark import run_spark

    summary = run_spark(settings, options, str(args.in_path), str(args.out_path))
    _report(args, options, summary)
    return 0


def _report(args: argparse.Namespace, options: "BatchOptions", summary: "BatchSummary") -> None:
    print(f"{args.out_path}: model {options.model_version}")
    for line in summary.lines():
        print(line)

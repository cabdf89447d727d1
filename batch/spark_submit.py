"""The entry point of a cluster job: `spark-submit [--master ...] batch/spark_submit.py
--in NOTES --out RECORDS` (or `python -m batch.spark_submit ...` for a local run).

Settings come from the driver's MEDCODE_* environment (MEDCODE_VAR_DIR above all); the
driver pins the model and sends the settings the executors need along with the job.
Prints the run's summary as `medcode batch` does.
"""

import argparse
import logging
import sys
from collections.abc import Sequence

from app import log_hygiene
from app.config import Settings
from batch.arguments import add_option_arguments, options_from
from batch.spark import FORMATS, NOTES_PER_TASK, run_spark, stop_session
from codes.errors import MedcodeError


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    log_hygiene.install()
    try:
        options = options_from(args, settings)  # the model pinned in the driver
        summary = run_spark(
            settings,
            options,
            args.in_path,
            args.out_path,
            args.master,
            in_format=args.in_format,
            out_format=args.out_format,
            notes_per_task=args.notes_per_task,
        )
    except (MedcodeError, ValueError) as exc:
        print(f"medcode: {getattr(exc, 'detail', exc)}", file=sys.stderr)
        return 2
    finally:
        stop_session()
    print(f"{args.out_path}: model {options.model_version}")
    for line in summary.lines():
        print(line)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="batch.spark_submit", description="medcode batch on Spark (see the README)"
    )
    parser.add_argument("--in", dest="in_path", required=True, help="JSON lines or Parquet")
    parser.add_argument("--out", dest="out_path", required=True, help="a Parquet or Delta folder")
    parser.add_argument(
        "--in-format",
        choices=["json", "parquet", "delta"],
        help="default: json for .jsonl/.json/.ndjson, else parquet",
    )
    parser.add_argument("--out-format", choices=FORMATS, default="parquet")
    add_option_arguments(parser)
    parser.add_argument(
        "--master", help="for local runs only (local[4]); spark-submit's --master otherwise"
    )
    parser.add_argument("--notes-per-task", type=int, default=NOTES_PER_TASK)
    return parser


if __name__ == "__main__":
    sys.exit(main())

"""The command-line options of a batch run, shared by `medcode batch` and the spark-submit
entry. Light to import: parsing arguments loads no reader."""

import argparse
from typing import TYPE_CHECKING

from app.config import Settings
from codes.systems import CodeSystem

if TYPE_CHECKING:
    from batch.core import BatchOptions


def add_option_arguments(parser: argparse.ArgumentParser) -> None:
    """The command-line options that make BatchOptions, one set for every engine's entry."""
    parser.add_argument("--system", action="append", choices=[s.value for s in CodeSystem])
    parser.add_argument("--limit", type=int, default=30, help="suggestions kept per note")
    parser.add_argument(
        "--conventions", choices=["us", "learned"], help="default: MEDCODE_CONVENTIONS (us)"
    )
    parser.add_argument(
        "--model",
        default="promoted",
        help="VERSION, latest or promoted (default); fixed for the whole run",
    )


def options_from(args: argparse.Namespace, settings: Settings) -> "BatchOptions":
    """The options add_option_arguments read, the model resolved once, here: every note of
    the run (and of a resumed run), in whatever process, gets that one model."""
    from batch.core import BatchOptions
    from models.artifacts import ArtifactStore

    if not 1 <= args.limit <= 1000:
        raise ValueError("--limit must be between 1 and 1000")
    return BatchOptions(
        systems=tuple(CodeSystem(s) for s in args.system) if args.system else None,
        limit=args.limit,
        conventions=args.conventions,
        model_version=ArtifactStore(settings.models_dir).get(args.model).version,
    )

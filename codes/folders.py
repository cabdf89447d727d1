"""Built folders (catalog, lexicon): replaced whole, so readers never see half of one,
and read back only when written in the format this medcode reads."""

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any


def staging_folder(target: Path) -> Path:
    """A fresh, empty folder beside `target` to build into."""
    staging = target.with_name(f".{target.name}.building")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def replace_folder(target: Path, staging: Path) -> None:
    """Swap the new folder in with renames; the old one is removed afterwards."""
    retired = target.with_name(f".{target.name}.old")
    shutil.rmtree(retired, ignore_errors=True)
    if target.exists():
        target.rename(retired)
    staging.rename(target)
    shutil.rmtree(retired, ignore_errors=True)


def read_built_json(
    path: Path, what: str, format_version: int, error: Callable[[str], Exception]
) -> dict[str, Any]:
    """A JSON file written by `medcode codes import`, refused (with how to rebuild it) when
    missing or written in another format."""
    if not path.is_file():
        raise error(f"no {what} at {path.parent}: run `medcode codes import` first")
    payload: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if payload.get("format") != format_version:
        raise error(
            f"the {what} at {path.parent} has format {payload.get('format')!r}; this medcode"
            f" reads format {format_version}: run `medcode codes import` again"
        )
    return payload

"""Built folders (catalog, lexicon, models): replaced whole, so readers never see half of
one, and read back only when written in the format this medcode reads."""

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
    path: Path,
    what: str,
    format_version: int,
    error: Callable[[str], Exception],
    rebuild: str = "run `medcode codes import`",
) -> dict[str, Any]:
    """A JSON file medcode built, refused (with how to rebuild it) when missing, unreadable
    or written in another format."""
    if not path.is_file():
        raise error(f"no {what} at {path.parent}: {rebuild} first")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise error(f"cannot read the {what} at {path}: {exc}; {rebuild} again") from exc
    found = payload.get("format") if isinstance(payload, dict) else None
    if found != format_version:
        raise error(
            f"the {what} at {path.parent} has format {found!r}; this medcode"
            f" reads format {format_version}: {rebuild} again"
        )
    result: dict[str, Any] = payload
    return result

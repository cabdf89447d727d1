"""Replacing a built folder (catalog, lexicon) so readers never see half of one."""

import shutil
from pathlib import Path


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

"""Model artifacts: immutable, versioned folders plus a registry of which one is served.

Layout under the store root (for example ``var/models``)::

    <version>/               read-only once published: the model files and metadata.json
    evaluations/<version>.json   metrics that arrive after training (the folder stays untouched)
    registry.json            {"promoted": <version>, "history": [...]}
    .lock                    fcntl lock file serialising registry and evaluation writes

The store does not know what the model files are: a ``write`` callback fills a staging
folder, and the store hashes, describes, publishes and later verifies what it wrote.
Everything the store itself writes is JSON; nothing here unpickles anything.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import json
import logging
import os
import platform
import re
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from codes.errors import MedcodeError

logger = logging.getLogger(__name__)

METADATA_FILE = "metadata.json"
REGISTRY_FILE = "registry.json"
EVALUATIONS_DIR = "evaluations"
LOCK_FILE = ".lock"
RETRAIN_HINT = "Train again with `medcode train`."

# Distributions recorded in every artifact, by their installed (distribution) names.
TRACKED_LIBRARIES = ("numpy", "scipy", "scikit-learn", "spacy", "medcode")
# Saved numpy arrays and scikit-learn estimators are only trusted by the same major.minor.
PINNED_LIBRARIES = ("numpy", "scikit-learn")

# "20261123T061500Z-3f2a1c", with "-2", "-3", ... only when the same content is published
# twice within one second. Anything else (including "../x") is never treated as a folder name.
_VERSION_RE = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{6}(?:-\d+)?$")
_HASH_CHARS = 6
_ALIASES = ("latest", "promoted")
_RESERVED_KEYS = frozenset(
    {
        "version",
        "kind",
        "format_version",
        "created_at",
        "parameters",
        "data_fingerprint",
        "metrics",
        "libraries",
        "git_sha",
        "git_dirty",
        "files",
        "evaluations",
    }
)
_FILE_MODE = 0o444
_DIR_MODE = 0o555
_GIT_TIMEOUT_SECONDS = 5.0
_HASH_CHUNK = 1 << 20


class ArtifactError(MedcodeError):
    """A model artifact problem, carrying the HTTP status a service should answer with."""

    status_code = 500
    error = "artifact_error"


class ArtifactNotFoundError(ArtifactError):
    status_code = 404
    error = "artifact_not_found"


class ArtifactConflictError(ArtifactError):
    status_code = 409
    error = "artifact_conflict"


class IncompatibleArtifactError(ArtifactError):
    """The artifact is intact but was made for another model kind, format or library set."""

    status_code = 422
    error = "incompatible_artifact"


class CorruptArtifactError(ArtifactError):
    """The artifact's files or metadata are not what was published."""

    status_code = 422
    error = "corrupt_artifact"


@dataclass(frozen=True)
class ArtifactInfo:
    version: str
    path: Path
    created_at: str
    metadata: dict[str, Any]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _dumps(data: Any) -> str:
    # Strict JSON (no NaN) so any JSON reader, not only Python's, can read the metadata.
    return json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _major_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def library_versions() -> dict[str, str]:
    """Versions of Python and the tracked libraries in this environment (missing ones skipped)."""
    versions = {"python": platform.python_version()}
    for name in TRACKED_LIBRARIES:
        with suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(name)
    return versions


def _default_source_root() -> Path:
    # models/artifacts.py -> the project checkout; only meaningful for a source install.
    return Path(__file__).resolve().parents[1]


def _git(source_root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(source_root), *args],
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_state(source_root: Path) -> tuple[str | None, bool | None]:
    """(HEAD sha, has uncommitted changes) of the checkout at source_root, or (None, None).

    An installed copy inside some unrelated repository must not borrow that repository's sha,
    so the checkout's top level has to be source_root itself.
    """
    top = _git(source_root, "rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != source_root.resolve():
        return None, None
    sha = _git(source_root, "rev-parse", "HEAD")
    if not sha:
        return None, None
    status = _git(source_root, "status", "--porcelain", "--untracked-files=no")
    return sha, (None if status is None else bool(status))


def _file_table(folder: Path) -> dict[str, dict[str, Any]]:
    files: dict[str, dict[str, Any]] = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_symlink():
            # A link could point anywhere and change later: the artifact would not be immutable.
            raise ValueError(f"artifact file {relative} is a symbolic link; write real files")
        if path.is_file():
            files[relative] = {"sha256": _sha256(path), "bytes": path.stat().st_size}
    return files


def _content_hash(description: dict[str, Any]) -> str:
    text = json.dumps(description, sort_keys=True, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:_HASH_CHARS]


def _set_modes(folder: Path, file_mode: int, dir_mode: int) -> None:
    # Children first: once a folder is read-only its entries can no longer be changed.
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if not path.is_symlink():
            path.chmod(dir_mode if path.is_dir() else file_mode)
    folder.chmod(dir_mode)


def _remove_tree(folder: Path) -> None:
    """Remove a folder even if it was already made read-only."""
    if not folder.exists():
        return
    with suppress(OSError):
        _set_modes(folder, stat.S_IRUSR | stat.S_IWUSR, stat.S_IRWXU)
    shutil.rmtree(folder, ignore_errors=True)


def _atomic_write_json(path: Path, data: Any) -> None:
    """Readers see the old file or the new one, never a half-written one."""
    text = _dumps(data)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(temp_name)
        raise


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _read_evaluations(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    try:
        entries = _read_json(path)
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{path} cannot be read ({exc}); fix or remove it") from exc
    if not isinstance(entries, list):
        raise ArtifactError(f"{path} should hold a list of evaluations; fix or remove it")
    return entries


class ArtifactStore:
    """Immutable model artifact folders under one root, and which one is promoted."""

    def __init__(
        self,
        root: Path,
        *,
        source_root: Path | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        # No I/O here: a store for a folder that does not exist yet is simply empty.
        self.root = Path(root)
        self.source_root = source_root if source_root is not None else _default_source_root()
        self.clock = clock

    # ---- creating -------------------------------------------------------------------------

    def create(
        self,
        write: Callable[[Path], dict[str, Any]],
        *,
        kind: str,
        format_version: int,
        parameters: dict[str, Any],
        data_fingerprint: str,
        metrics: dict[str, Any] | None = None,
    ) -> ArtifactInfo:
        """Let ``write`` fill a staging folder, describe it, and publish it read-only."""
        self.root.mkdir(parents=True, exist_ok=True)
        # Staging lives under the root so the final rename stays on one filesystem (atomic).
        staging = Path(tempfile.mkdtemp(dir=self.root, prefix=".staging-"))
        reserved: Path | None = None
        try:
            extra = write(staging)
            if not isinstance(extra, dict):
                raise TypeError("the write callback must return a dict of extra metadata")
            clash = sorted(_RESERVED_KEYS.intersection(extra))
            if clash:
                raise ValueError(f"extra metadata may not set reserved keys: {clash}")
            if (staging / METADATA_FILE).exists():
                raise ValueError(f"the write callback may not write {METADATA_FILE} itself")
            files = _file_table(staging)
            if not files:
                raise ValueError("the write callback wrote no files")
            # Ask git before reserving the name, so the empty reservation lives only briefly.
            sha, dirty = git_state(self.source_root)
            moment = self.clock()
            described = {
                "kind": kind,
                "format_version": format_version,
                "parameters": parameters,
                "data_fingerprint": data_fingerprint,
                "files": files,
            }
            reserved = self._reserve(moment, _content_hash(described))
            metadata = {
                **extra,
                **described,
                "version": reserved.name,
                "created_at": _iso(moment),
                "metrics": metrics if metrics is not None else {},
                "libraries": library_versions(),
                "git_sha": sha,
                "git_dirty": dirty,
            }
            (staging / METADATA_FILE).write_text(_dumps(metadata), encoding="utf-8")
            _set_modes(staging, _FILE_MODE, _DIR_MODE)
            # rename(2) may replace an empty directory: the reservation becomes the artifact.
            os.rename(staging, reserved)
        except BaseException:
            _remove_tree(staging)
            if reserved is not None:
                with suppress(OSError):
                    reserved.rmdir()
            raise
        logger.info("published model artifact %s (kind=%s)", reserved.name, kind)
        return self._info(reserved.name)

    def _reserve(self, moment: datetime, content_hash: str) -> Path:
        """Claim a unique version folder name; mkdir is the atomic test-and-set."""
        base = f"{moment.astimezone(UTC):%Y%m%dT%H%M%SZ}-{content_hash}"
        suffix = 1
        while True:
            name = base if suffix == 1 else f"{base}-{suffix}"
            try:
                (self.root / name).mkdir()
            except FileExistsError:
                suffix += 1
                continue
            return self.root / name

    # ---- reading --------------------------------------------------------------------------

    def list(self) -> list[ArtifactInfo]:
        """Every published artifact, newest first."""
        if not self.root.is_dir():
            return []
        infos: list[ArtifactInfo] = []
        for entry in self.root.iterdir():
            if not (_VERSION_RE.match(entry.name) and entry.is_dir()):
                continue
            if not (entry / METADATA_FILE).is_file():
                # A reserved name whose artifact is still being published, or a broken folder.
                continue
            try:
                infos.append(self._info(entry.name))
            except ArtifactError as exc:
                logger.warning("skipping model artifact %s: %s", entry.name, exc.detail)
        # created_at has microseconds; the version breaks ties deterministically.
        return sorted(infos, key=lambda info: (info.created_at, info.version), reverse=True)

    def get(self, version: str) -> ArtifactInfo:
        """One artifact by version, or by the aliases "latest" and "promoted"."""
        if version == "latest":
            newest = self.list()
            if not newest:
                raise ArtifactNotFoundError(
                    f"no model artifacts in {self.root}; train one with `medcode train`"
                )
            return newest[0]
        if version == "promoted":
            current = self.promoted()
            if current is None:
                raise ArtifactNotFoundError("no model artifact has been promoted yet")
            return current
        if not _VERSION_RE.match(version) or not (self.root / version / METADATA_FILE).exists():
            raise ArtifactNotFoundError(
                f"no model artifact {version!r} in {self.root}; "
                f"versions look like 20261123T061500Z-3f2a1c, or use {' or '.join(_ALIASES)}"
            )
        return self._info(version)

    def _info(self, version: str) -> ArtifactInfo:
        folder = self.root / version
        try:
            metadata = _read_json(folder / METADATA_FILE)
        except FileNotFoundError as exc:
            raise ArtifactNotFoundError(f"no model artifact {version!r} in {self.root}") from exc
        except (OSError, ValueError) as exc:
            raise CorruptArtifactError(
                f"model artifact {version}: {METADATA_FILE} cannot be read ({exc}). {RETRAIN_HINT}"
            ) from exc
        if not isinstance(metadata, dict) or not isinstance(metadata.get("created_at"), str):
            raise CorruptArtifactError(
                f"model artifact {version}: {METADATA_FILE} is not artifact metadata. "
                f"{RETRAIN_HINT}"
            )
        metadata["evaluations"] = _read_evaluations(self._evaluations_path(version))
        return ArtifactInfo(
            version=version, path=folder, created_at=metadata["created_at"], metadata=metadata
        )

    # ---- evaluations ----------------------------------------------------------------------

    def add_metrics(self, version: str, metrics: dict[str, Any]) -> ArtifactInfo:
        """Record evaluation results beside the artifact; the artifact folder stays untouched."""
        info = self.get(version)
        path = self._evaluations_path(info.version)
        with self._locked():
            path.parent.mkdir(exist_ok=True)
            entries = _read_evaluations(self._evaluations_path(info.version))
            entries.append({"at": _iso(self.clock()), "metrics": metrics})
            _atomic_write_json(path, entries)
        logger.info("recorded evaluation metrics for model artifact %s", info.version)
        return self._info(info.version)

    def _evaluations_path(self, version: str) -> Path:
        return self.root / EVALUATIONS_DIR / f"{version}.json"

    # ---- promotion ------------------------------------------------------------------------

    def promoted(self) -> ArtifactInfo | None:
        version = self._read_registry().get("promoted")
        return None if version is None else self.get(version)

    def promote(self, version: str) -> ArtifactInfo:
        """Make ``version`` the served artifact and record the change."""
        info = self.get(version)
        with self._locked():
            registry = self._read_registry()
            previous = registry.get("promoted")
            if previous == info.version:
                # Re-promoting would stack a duplicate and make rollback a no-op.
                return info
            self._write_registry(registry, info.version, "promote", previous)
        logger.info("promoted model artifact %s (previous: %s)", info.version, previous)
        return info

    def rollback(self) -> ArtifactInfo:
        """Serve the version promoted before the current one again."""
        with self._locked():
            registry = self._read_registry()
            stack = _promotion_stack(registry["history"])
            if len(stack) < 2:
                raise ArtifactConflictError(
                    "there is no earlier promoted model artifact to roll back to"
                )
            target = self.get(stack[-2])
            previous = registry.get("promoted")
            self._write_registry(registry, target.version, "rollback", previous)
        logger.info("rolled back model artifact %s -> %s", previous, target.version)
        return target

    def _write_registry(
        self, registry: dict[str, Any], version: str, action: str, previous: str | None
    ) -> None:
        entry: dict[str, Any] = {
            "version": version,
            "at": _iso(self.clock()),
            "action": action,
            "previous": previous,
        }
        updated = {"promoted": version, "history": [*registry["history"], entry]}
        _atomic_write_json(self.root / REGISTRY_FILE, updated)

    def _read_registry(self) -> dict[str, Any]:
        path = self.root / REGISTRY_FILE
        if not path.exists():
            return {"promoted": None, "history": []}
        try:
            registry = _read_json(path)
        except (OSError, ValueError) as exc:
            raise ArtifactError(f"{path} cannot be read ({exc}); fix or remove it") from exc
        if not isinstance(registry, dict) or not isinstance(registry.get("history"), list):
            raise ArtifactError(f"{path} is not a model registry; fix or remove it")
        return registry

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise read-modify-write of registry and evaluations across processes."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / LOCK_FILE).open("a") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    # ---- verification ---------------------------------------------------------------------

    def verify(self, version: str, *, kind: str, format_version: int) -> ArtifactInfo:
        """Refuse an artifact that is missing, corrupt, or made for another model or library."""
        info = self.get(version)
        _check_compatible(info, kind, format_version)
        _check_files(info)
        return info


def _promotion_stack(history: list[dict[str, Any]]) -> list[str]:
    """Versions still 'underneath' the current one: promote pushes, rollback pops."""
    stack: list[str] = []
    for entry in history:
        if entry.get("action") == "rollback":
            if stack:
                stack.pop()
        else:
            stack.append(str(entry["version"]))
    return stack


def _check_compatible(info: ArtifactInfo, kind: str, format_version: int) -> None:
    meta = info.metadata
    if meta.get("kind") != kind:
        raise IncompatibleArtifactError(
            f"model artifact {info.version} is a {meta.get('kind')!r} model, not {kind!r}. "
            f"Pick another version or {RETRAIN_HINT.lower()}"
        )
    if meta.get("format_version") != format_version:
        raise IncompatibleArtifactError(
            f"model artifact {info.version} has format version {meta.get('format_version')!r}; "
            f"this medcode reads format version {format_version}. {RETRAIN_HINT}"
        )
    saved = meta.get("libraries")
    if not isinstance(saved, dict):
        raise CorruptArtifactError(
            f"model artifact {info.version} does not record its library versions. {RETRAIN_HINT}"
        )
    running = library_versions()
    for name in PINNED_LIBRARIES:
        # A model saved without the library cannot depend on it.
        if name not in saved:
            continue
        here = running.get(name)
        if here is None or _major_minor(str(saved[name])) != _major_minor(here):
            raise IncompatibleArtifactError(
                f"model artifact {info.version} was saved with {name} {saved[name]}, but this "
                f"environment has {name} {here or 'not installed'}; files saved by another "
                f"{name} minor version are not loaded. {RETRAIN_HINT}"
            )


def _check_files(info: ArtifactInfo) -> None:
    files = info.metadata.get("files")
    if not isinstance(files, dict) or not files:
        raise CorruptArtifactError(
            f"model artifact {info.version} does not list its files. {RETRAIN_HINT}"
        )
    if info.metadata.get("version") != info.version:
        raise CorruptArtifactError(
            f"model artifact folder {info.version} holds metadata of version "
            f"{info.metadata.get('version')!r}; artifact folders must not be renamed or copied "
            f"over. {RETRAIN_HINT}"
        )
    folder = info.path.resolve()
    for relative, expected in sorted(files.items()):
        path = info.path / relative
        if not path.resolve().is_relative_to(folder):
            raise CorruptArtifactError(
                f"model artifact {info.version} lists {relative!r}, outside its folder. "
                f"{RETRAIN_HINT}"
            )
        if not path.is_file():
            raise CorruptArtifactError(
                f"model artifact {info.version} is missing {relative}. {RETRAIN_HINT}"
            )
        recorded = expected.get("sha256") if isinstance(expected, dict) else None
        if _sha256(path) != recorded:
            raise CorruptArtifactError(
                f"model artifact {info.version}: {relative} was modified after publishing "
                f"(sha256 differs). {RETRAIN_HINT}"
            )

import hashlib
import itertools
import json
import multiprocessing
import stat
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from models.artifacts import (
    ArtifactError,
    ArtifactInfo,
    ArtifactStore,
    library_versions,
)

KIND = "test-ranker"
FORMAT = 2


class Clock:
    """Ticks a fixed step per call, so tests control 'same second' and ordering."""

    def __init__(self, step: timedelta = timedelta(seconds=1)) -> None:
        self.now = datetime(2026, 11, 23, 6, 15, 0, tzinfo=UTC)
        self.step = step

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


def writer(payload: bytes = b"weights", extra: dict[str, Any] | None = None) -> Any:
    def write(folder: Path) -> dict[str, Any]:
        (folder / "weights.bin").write_bytes(payload)
        (folder / "vocab").mkdir()
        (folder / "vocab" / "terms.txt").write_text("pneumonia\nsepsis\n")
        return dict(extra or {"thresholds": {"ICD10CM": 0.5}})

    return write


def make_writable(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR | stat.S_IXUSR)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ArtifactStore]:
    root = tmp_path / "models"
    yield ArtifactStore(root, clock=Clock())
    # Artifacts are read-only; give them back to the owner so tmp cleanup can delete them.
    if root.exists():
        make_writable(root)


def create(store: ArtifactStore, payload: bytes = b"weights", **kwargs: Any) -> ArtifactInfo:
    options: dict[str, Any] = {
        "kind": KIND,
        "format_version": FORMAT,
        "parameters": {"C": 1.0, "seed": 7},
        "data_fingerprint": "sha256:abc123",
    }
    options.update(kwargs)
    return store.create(writer(payload), **options)


def edit_metadata(info: ArtifactInfo, change: Callable[[dict[str, Any]], None]) -> None:
    path = info.path / "metadata.json"
    info.path.chmod(0o755)
    path.chmod(0o644)
    metadata = json.loads(path.read_text())
    change(metadata)
    path.write_text(json.dumps(metadata))


def assert_error(exc: pytest.ExceptionInfo[ArtifactError], status: int, *words: str) -> None:
    assert exc.value.status_code == status
    for word in words:
        assert word in exc.value.detail


# ---- create, list, get --------------------------------------------------------------------


def test_create_publishes_a_versioned_folder_with_the_written_files(
    store: ArtifactStore,
) -> None:
    info = create(store, metrics={"micro_f1": 0.61})

    assert info.path == store.root / info.version
    assert (info.path / "weights.bin").read_bytes() == b"weights"
    assert info.version.startswith("20261123T061501Z-")
    assert info.created_at.startswith("2026-11-23T06:15:01")
    assert info.metadata["metrics"] == {"micro_f1": 0.61}
    assert info.metadata["thresholds"] == {"ICD10CM": 0.5}  # from the write callback
    assert not [p for p in store.root.iterdir() if p.name.startswith(".staging")]


def test_metadata_records_what_is_needed_to_reproduce_and_check_the_model(
    store: ArtifactStore,
) -> None:
    info = create(store)
    meta = json.loads((info.path / "metadata.json").read_text())

    assert meta["kind"] == KIND
    assert meta["format_version"] == FORMAT
    assert meta["version"] == info.version
    assert meta["parameters"] == {"C": 1.0, "seed": 7}
    assert meta["data_fingerprint"] == "sha256:abc123"
    assert meta["metrics"] == {}
    assert meta["libraries"] == library_versions()
    for name in ("python", "numpy", "scipy", "scikit-learn", "spacy", "medcode"):
        assert meta["libraries"][name]
    # The checkout is a git repository: a 40-hex sha; elsewhere null, never a failure.
    assert meta["git_sha"] is None or len(meta["git_sha"]) == 40
    assert meta["files"] == {
        "weights.bin": {"sha256": hashlib.sha256(b"weights").hexdigest(), "bytes": 7},
        "vocab/terms.txt": {
            "sha256": hashlib.sha256(b"pneumonia\nsepsis\n").hexdigest(),
            "bytes": 17,
        },
    }


def test_git_sha_is_null_outside_a_checkout(tmp_path: Path) -> None:
    outside = tmp_path / "not-a-checkout"
    outside.mkdir()
    store = ArtifactStore(tmp_path / "models", source_root=outside, clock=Clock())
    info = create(store)
    assert info.metadata["git_sha"] is None
    make_writable(store.root)


def test_artifact_files_and_folders_are_read_only(store: ArtifactStore) -> None:
    info = create(store)
    for path in [info.path, *info.path.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o555 if path.is_dir() else 0o444), path


def test_versions_are_unique_within_one_second_even_for_the_same_content(
    tmp_path: Path,
) -> None:
    store = ArtifactStore(tmp_path / "models", clock=Clock(step=timedelta(0)))
    first, second, third = (create(store) for _ in range(3))

    assert len({first.version, second.version, third.version}) == 3
    assert second.version == f"{first.version}-2"
    assert all(p.is_dir() for p in (first.path, second.path, third.path))
    make_writable(store.root)


def test_list_is_newest_first_and_get_resolves_aliases(store: ArtifactStore) -> None:
    old, new = create(store, b"one"), create(store, b"two")

    assert [info.version for info in store.list()] == [new.version, old.version]
    assert store.get(old.version).version == old.version
    assert store.get("latest").version == new.version
    store.promote(old.version)
    assert store.get("promoted").version == old.version


def test_empty_store_lists_nothing_and_aliases_are_not_found(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "never-created")
    assert store.list() == []
    assert store.promoted() is None
    for alias in ("latest", "promoted"):
        with pytest.raises(ArtifactError) as exc:
            store.get(alias)
        assert exc.value.status_code == 404


@pytest.mark.parametrize("version", ["20200101T000000Z-abcdef", "../models", "nope", ""])
def test_unknown_versions_are_404(store: ArtifactStore, version: str) -> None:
    create(store)
    with pytest.raises(ArtifactError) as exc:
        store.get(version)
    assert_error(exc, 404)
    assert exc.value.error == "artifact_not_found"
    with pytest.raises(ArtifactError) as exc:
        store.promote(version)
    assert_error(exc, 404)
    with pytest.raises(ArtifactError) as exc:
        store.add_metrics(version, {"f1": 0.5})
    assert_error(exc, 404)


def test_a_failing_writer_leaves_nothing_behind(store: ArtifactStore) -> None:
    def broken(folder: Path) -> dict[str, Any]:
        (folder / "half.bin").write_bytes(b"x")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        store.create(broken, kind=KIND, format_version=FORMAT, parameters={}, data_fingerprint="x")
    assert list(store.root.iterdir()) == []
    assert store.list() == []


def test_writer_may_not_override_recorded_metadata(store: ArtifactStore) -> None:
    with pytest.raises(ValueError, match="reserved"):
        store.create(
            writer(extra={"git_sha": "forged"}),
            kind=KIND,
            format_version=FORMAT,
            parameters={},
            data_fingerprint="x",
        )
    assert store.list() == []


# ---- add_metrics --------------------------------------------------------------------------


def test_add_metrics_is_kept_beside_the_artifact_and_shown_with_it(
    store: ArtifactStore,
) -> None:
    info = create(store)
    before = {p: p.read_bytes() for p in info.path.rglob("*") if p.is_file()}

    store.add_metrics(info.version, {"micro_f1": 0.58, "split": "dev"})
    updated = store.add_metrics("latest", {"micro_f1": 0.55, "split": "test"})

    assert [e["metrics"]["split"] for e in updated.metadata["evaluations"]] == ["dev", "test"]
    assert all(e["at"].endswith("Z") for e in updated.metadata["evaluations"])
    assert store.list()[0].metadata["evaluations"] == updated.metadata["evaluations"]
    assert (store.root / "evaluations" / f"{info.version}.json").is_file()
    assert {p: p.read_bytes() for p in info.path.rglob("*") if p.is_file()} == before
    store.verify(info.version, kind=KIND, format_version=FORMAT)


# ---- verify -------------------------------------------------------------------------------


def test_verify_accepts_an_intact_artifact(store: ArtifactStore) -> None:
    info = create(store)
    assert store.verify(info.version, kind=KIND, format_version=FORMAT) == info
    store.promote(info.version)
    assert store.verify("promoted", kind=KIND, format_version=FORMAT).version == info.version


def test_verify_refuses_a_missing_file(store: ArtifactStore) -> None:
    info = create(store)
    (info.path / "vocab").chmod(0o755)
    (info.path / "vocab" / "terms.txt").unlink()
    with pytest.raises(ArtifactError) as exc:
        store.verify(info.version, kind=KIND, format_version=FORMAT)
    assert_error(exc, 422, "missing vocab/terms.txt", "medcode train")


def test_verify_refuses_a_modified_file(store: ArtifactStore) -> None:
    info = create(store)
    (info.path / "weights.bin").chmod(0o644)
    (info.path / "weights.bin").write_bytes(b"tampered")
    with pytest.raises(ArtifactError) as exc:
        store.verify(info.version, kind=KIND, format_version=FORMAT)
    assert_error(exc, 422, "weights.bin", "modified", "medcode train")


def test_verify_refuses_another_kind_or_format(store: ArtifactStore) -> None:
    info = create(store)
    with pytest.raises(ArtifactError) as exc:
        store.verify(info.version, kind="other-model", format_version=FORMAT)
    assert_error(exc, 422, KIND, "other-model")
    with pytest.raises(ArtifactError) as exc:
        store.verify(info.version, kind=KIND, format_version=FORMAT + 1)
    assert_error(exc, 422, "format version 2", "format version 3", "medcode train")


@pytest.mark.parametrize("library", ["scikit-learn", "numpy"])
def test_verify_refuses_another_minor_version_of_a_pinned_library(
    store: ArtifactStore, library: str
) -> None:
    info = create(store)
    running = library_versions()[library]
    major, minor, *_ = running.split(".")
    other = f"{major}.{int(minor) + 1}.0"
    edit_metadata(info, lambda meta: meta["libraries"].update({library: other}))

    with pytest.raises(ArtifactError) as exc:
        store.verify(info.version, kind=KIND, format_version=FORMAT)
    assert_error(exc, 422, f"{library} {other}", f"{library} {running}", "medcode train")
    assert exc.value.error == "incompatible_artifact"


def test_verify_accepts_another_patch_version(store: ArtifactStore) -> None:
    info = create(store)
    major, minor, *_ = library_versions()["scikit-learn"].split(".")
    edit_metadata(
        info, lambda meta: meta["libraries"].update({"scikit-learn": f"{major}.{minor}.99"})
    )
    store.verify(info.version, kind=KIND, format_version=FORMAT)


def test_unreadable_metadata_is_reported_as_corrupt(store: ArtifactStore) -> None:
    info = create(store)
    info.path.chmod(0o755)
    (info.path / "metadata.json").chmod(0o644)
    (info.path / "metadata.json").write_text("{not json")
    with pytest.raises(ArtifactError) as exc:
        store.verify(info.version, kind=KIND, format_version=FORMAT)
    assert_error(exc, 422, "metadata.json", "medcode train")
    assert store.list() == []  # skipped with a warning, not a crash


# ---- promote and rollback -----------------------------------------------------------------


def test_promote_and_rollback_record_history(store: ArtifactStore) -> None:
    a, b, c = (create(store, payload) for payload in (b"a", b"b", b"c"))
    assert store.promoted() is None

    store.promote(a.version)
    store.promote(b.version)
    store.promote(b.version)  # already served: no duplicate entry
    store.promote(c.version)
    assert store.rollback().version == b.version
    assert store.rollback().version == a.version
    assert store.promoted() == store.get(a.version)

    registry = json.loads((store.root / "registry.json").read_text())
    assert registry["promoted"] == a.version
    assert [(e["action"], e["version"], e["previous"]) for e in registry["history"]] == [
        ("promote", a.version, None),
        ("promote", b.version, a.version),
        ("promote", c.version, b.version),
        ("rollback", b.version, c.version),
        ("rollback", a.version, b.version),
    ]
    assert all(e["at"].endswith("Z") for e in registry["history"])

    with pytest.raises(ArtifactError) as exc:
        store.rollback()
    assert_error(exc, 409)


def test_rollback_without_history_is_a_conflict(store: ArtifactStore) -> None:
    with pytest.raises(ArtifactError) as exc:
        store.rollback()
    assert_error(exc, 409, "roll back")
    info = create(store)
    store.promote(info.version)
    with pytest.raises(ArtifactError) as exc:
        store.rollback()
    assert_error(exc, 409)


def _promote_many(root: str, versions: list[str], rounds: int) -> None:
    store = ArtifactStore(Path(root))
    for i in range(rounds):
        store.promote(versions[i % len(versions)])


def test_registry_survives_concurrent_promotes_from_two_processes(
    store: ArtifactStore,
) -> None:
    versions = [create(store, bytes([n])).version for n in range(4)]
    rounds = 15
    spawn = multiprocessing.get_context("spawn")
    # Each process alternates between its own two versions, so no promote is a no-op.
    workers = [
        spawn.Process(target=_promote_many, args=(str(store.root), versions[i::2], rounds))
        for i in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    for worker in workers:
        if worker.is_alive():
            worker.terminate()
        assert worker.exitcode == 0

    history = json.loads((store.root / "registry.json").read_text())["history"]
    assert len(history) == 2 * rounds  # no lost update
    for before, after in itertools.pairwise(history):
        assert after["previous"] == before["version"]
    assert store.promoted() == store.get(history[-1]["version"])

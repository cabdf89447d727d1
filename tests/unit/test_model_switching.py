"""Which model serves: clear refusals at start-up, and switching while requests run."""

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from app.config import Settings
from app.main import create_app
from app.services.models import ModelSwitchboard, NoModelError
from app.services.suggest import SuggestService
from codes.catalog import Catalog
from models.artifacts import (
    METADATA_FILE,
    ArtifactInfo,
    ArtifactStore,
    CorruptArtifactError,
    IncompatibleArtifactError,
)
from models.ranker_model import FORMAT_VERSION, KIND
from nlp.pipeline import NoteReader
from tests.conftest import publish
from tests.request_load import RequestLoad
from training.train import TrainingResult

NOTE = "Essential hypertension. Type 2 diabetes mellitus."
TOKEN = "s3cret-admin"


def copy_of(store: ArtifactStore, info: ArtifactInfo, label: str, kind: str = KIND) -> ArtifactInfo:
    """Another version with the same model files (a different parameter makes it new)."""

    def write(folder: Path) -> dict[str, Any]:
        for item in info.path.iterdir():
            if item.name == METADATA_FILE:
                continue
            if item.is_dir():
                shutil.copytree(item, folder / item.name)
            else:
                shutil.copy(item, folder / item.name)
        return {}

    return store.create(
        write,
        kind=kind,
        format_version=FORMAT_VERSION,
        parameters={"copy": label},
        data_fingerprint="test",
    )


@pytest.fixture
def store(tmp_path: Path, trained: TrainingResult) -> ArtifactStore:
    store = ArtifactStore(tmp_path / "models")
    store.promote(publish(store, trained).version)
    return store


def test_no_promoted_model_is_a_clear_error_at_start(tmp_path: Path) -> None:
    with pytest.raises(NoModelError, match="run `medcode train`"):
        ModelSwitchboard(ArtifactStore(tmp_path / "models"))


def test_a_model_of_another_kind_is_refused_at_start(store: ArtifactStore) -> None:
    other = copy_of(store, store.get("promoted"), "other", kind="something-else")
    store.promote(other.version)
    with pytest.raises(IncompatibleArtifactError, match="something-else"):
        ModelSwitchboard(store)


def test_a_changed_model_file_is_refused_at_start(store: ArtifactStore) -> None:
    info = store.get("promoted")
    trees = info.path / "ranker" / "trees.npz"
    os.chmod(info.path / "ranker", 0o755)
    os.chmod(trees, 0o644)
    trees.write_bytes(trees.read_bytes() + b"\0")
    with pytest.raises(CorruptArtifactError):
        ModelSwitchboard(store)


def test_the_registry_changed_elsewhere_is_followed(store: ArtifactStore) -> None:
    board = ModelSwitchboard(store)
    first = board.active.version
    second = copy_of(store, store.get(first), "b")
    ArtifactStore(store.root).promote(second.version)  # as `medcode models promote` would
    board.follow_registry()
    assert board.active.version == second.version
    board.rollback()
    assert board.active.version == first


def test_a_broken_version_is_never_promoted(store: ArtifactStore) -> None:
    board = ModelSwitchboard(store)
    served = board.active.version
    broken = copy_of(store, store.get(served), "broken")
    os.chmod(broken.path / "model.json", 0o644)
    (broken.path / "model.json").write_text("{}", encoding="utf-8")
    with pytest.raises(CorruptArtifactError):
        board.promote(broken.version)
    assert board.active.version == served
    assert store.promoted() is not None and store.promoted().version == served  # type: ignore[union-attr]


@pytest.fixture
def admin_client(store: ArtifactStore, catalog: Catalog, reader: NoteReader, tmp_path: Path) -> Any:
    # The load below is one caller far faster than the default rate allows.
    settings = Settings(var_dir=tmp_path, admin_token=SecretStr(TOKEN), rate_limit_burst=100_000)
    service = SuggestService(catalog, reader, ModelSwitchboard(store))
    with TestClient(create_app(settings, service)) as client:
        yield client


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_the_admin_api_needs_the_token(admin_client: TestClient) -> None:
    assert admin_client.get("/admin/models").status_code == 401
    wrong = admin_client.get("/admin/models", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "unauthorized"


def test_admin_lists_promotes_and_rolls_back(
    admin_client: TestClient, store: ArtifactStore
) -> None:
    first = store.get("promoted")
    second = copy_of(store, first, "b")
    listed = admin_client.get("/admin/models", headers=AUTH).json()
    assert [m["version"] for m in listed] == [second.version, first.version]
    assert [m["served"] for m in listed] == [False, True]
    missing = admin_client.post("/admin/models/20990101T000000Z-abcdef/promote", headers=AUTH)
    assert missing.status_code == 404
    promoted = admin_client.post(f"/admin/models/{second.version}/promote", headers=AUTH)
    assert promoted.status_code == 200 and promoted.json() == {"served": second.version}
    body = admin_client.post("/suggest", json={"text": NOTE}, headers=AUTH).json()
    assert body["model_version"] == second.version
    back = admin_client.post("/admin/models/rollback", headers=AUTH)
    assert back.json() == {"served": first.version}
    assert admin_client.post("/admin/models/rollback", headers=AUTH).status_code == 409


def test_switching_under_requests_drops_none(
    admin_client: TestClient, store: ArtifactStore
) -> None:
    first = store.get("promoted")
    second = copy_of(store, first, "b")

    def ask() -> tuple[int, str | None]:
        response = admin_client.post("/suggest", json={"text": NOTE}, headers=AUTH)
        return response.status_code, response.json().get("model_version")

    with RequestLoad(ask) as load:
        for version in (second, first, second):
            reply = admin_client.post(f"/admin/models/{version.version}/promote", headers=AUTH)
            assert reply.status_code == 200
            # Requests under way may finish on their model; every later one has the new one.
            assert load.versions_after(time.monotonic()) == {version.version}
    assert {a.status for a in load.answers} == {200}
    assert {a.model_version for a in load.answers} == {first.version, second.version}


def test_the_watcher_thread_follows_the_registry_and_stops(store: ArtifactStore) -> None:
    board = ModelSwitchboard(store, poll_seconds=0.05)
    first = board.active.version
    second = copy_of(store, store.get(first), "watched")
    board.start()
    try:
        ArtifactStore(store.root).promote(second.version)
        deadline = time.monotonic() + 30
        while board.active.version != second.version:
            assert time.monotonic() < deadline, "the watcher did not switch"
            time.sleep(0.02)
    finally:
        board.stop()
    ArtifactStore(store.root).promote(first)
    time.sleep(0.2)
    assert board.active.version == second.version  # stopped: no more switching

"""A running `medcode serve` switches models over real HTTP without dropping a request:
through the admin API, and when another process promotes a version in the registry."""

import time
from pathlib import Path

import httpx2 as httpx

from codes.catalog import Catalog
from models.artifacts import ArtifactStore
from tests.conftest import publish, serve
from tests.request_load import RequestLoad
from tests.unit.test_model_switching import copy_of
from training.train import TrainingResult

TOKEN = "e2e-admin-token"
NOTE = {"text": "Essential hypertension. Type 2 diabetes mellitus."}


def test_switching_models_under_load(
    tmp_path: Path, catalog: Catalog, reader_dir: Path, trained: TrainingResult
) -> None:
    var = tmp_path / "var"
    var.mkdir()
    (var / "catalog").symlink_to(catalog.folder)
    (var / "lexicon").symlink_to(reader_dir)
    store = ArtifactStore(var / "models")
    first = publish(store, trained)
    store.promote(first.version)
    second = copy_of(store, first, "second")

    server = serve(var, admin_token=TOKEN, model_poll_seconds="0.2")
    base = next(server)
    client = httpx.Client(base_url=base, timeout=30)

    def ask() -> tuple[int, str | None]:
        response = httpx.post(
            f"{base}/suggest", json=NOTE, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        )
        return response.status_code, response.json().get("model_version")

    try:
        with RequestLoad(ask) as load:
            auth = {"Authorization": f"Bearer {TOKEN}"}
            reply = client.post(f"/admin/models/{second.version}/promote", headers=auth)
            assert reply.status_code == 200
            assert load.versions_after(time.monotonic()) == {second.version}
            ArtifactStore(store.root).promote(first.version)  # as `medcode models promote` does
            deadline = time.monotonic() + 30
            while load.versions_after(time.monotonic()) != {first.version}:
                assert time.monotonic() < deadline, "the server did not follow the registry"
    finally:
        client.close()
        server.close()
    assert {a.status for a in load.answers} == {200}
    assert {a.model_version for a in load.answers} == {first.version, second.version}

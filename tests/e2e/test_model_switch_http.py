"""A running `medcode serve` switches models over real HTTP without dropping a request:
through the admin API, and when another process promotes a version in the registry."""

import threading
import time
from pathlib import Path

import httpx2 as httpx

from codes.catalog import Catalog
from models.artifacts import ArtifactStore
from tests.conftest import publish, serve
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
    answers: list[tuple[int, str]] = []
    stop = threading.Event()

    def keep_asking() -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            while not stop.is_set():
                response = client.post("/suggest", json=NOTE)
                answers.append((response.status_code, response.json().get("model_version")))

    workers = [threading.Thread(target=keep_asking) for _ in range(3)]

    def served_now() -> str:
        # Requests already under way may finish on the model they started with.
        seen = len(answers)
        deadline = time.monotonic() + 30
        while len(answers) < seen + len(workers) + 1:
            assert time.monotonic() < deadline, "requests stopped coming back"
            time.sleep(0.02)
        return answers[-1][1]

    for worker in workers:
        worker.start()
    try:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        reply = httpx.post(f"{base}/admin/models/{second.version}/promote", headers=auth)
        assert reply.status_code == 200
        assert served_now() == second.version
        ArtifactStore(store.root).promote(first.version)  # as `medcode models promote` does
        deadline = time.monotonic() + 30
        while served_now() != first.version:
            assert time.monotonic() < deadline, "the server did not follow the registry"
    finally:
        stop.set()
        for worker in workers:
            worker.join()
        server.close()
    assert {status for status, _ in answers} == {200}
    assert {version for _, version in answers} == {first.version, second.version}

"""Shared fixtures: one real catalog built from the shared data, once per test session."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from app.config import Settings
from app.main import create_app
from app.services.models import ModelSwitchboard
from app.services.suggest import SuggestService
from codes.build import build_catalog
from codes.catalog import Catalog
from codes.pcs_structure import save_pcs_structure
from codes.systems import CodeSystem
from models.artifacts import ArtifactInfo, ArtifactStore
from models.ranker_model import FORMAT_VERSION, KIND
from models.suggester import Suggester
from nlp.lexicon import LINKER_FOLDER, save_lexicon
from nlp.lexicon_build import build_lexicon
from nlp.linker import ApproximateLinker
from nlp.pipeline import NoteReader
from tests.unit.conventions_stub import ScoresNamedCodesHigh, StubSuggestions, stub_model
from training.encounters import CodiEspSource, Encounter
from training.train import TrainingParameters, TrainingResult, train

# The `backend` / `database_url` / `database` fixtures: SQLite and PostgreSQL.
pytest_plugins = ["tests.databases"]

FIXTURES = Path(__file__).parent / "fixtures"
CPT_FIXTURE = FIXTURES / "cpt_fixture.tsv"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    data = Settings().data_dir
    if data is None or not (data / "cms").is_dir():
        pytest.skip("no data folder (MEDCODE_DATA_DIR or ../shared/data)")
    return data


@pytest.fixture(scope="session")
def var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("var")


@pytest.fixture(scope="session")
def catalog(data_dir: Path, var_dir: Path) -> Catalog:
    """The real catalog, with the made-up CPT fixture imported."""
    build_catalog(data_dir, var_dir / "catalog", CPT_FIXTURE)
    return Catalog.open(var_dir / "catalog")


@pytest.fixture(scope="session")
def reader_dir(catalog: Catalog, data_dir: Path, var_dir: Path) -> Path:
    """The lexicon from every official source and a linker index.

    The linker indexes a slice of the aliases (circulatory, respiratory and endocrine
    descriptions): building it over all of them takes minutes, which `make install` and
    the benchmarks pay, not every test run.
    """
    folder = var_dir / "lexicon"
    aliases, provenance = build_lexicon(catalog, data_dir)
    save_lexicon(folder, aliases, provenance)
    save_pcs_structure(folder, catalog.pcs_structure())  # the composer reads them, as served
    sample = [
        a
        for a in aliases
        if a.source == "description" and a.system is CodeSystem.ICD10CM and a.code[0] in "EIJ"
    ]
    ApproximateLinker.build(sample, hnsw_m=16, ef_construction=100).save(folder / LINKER_FOLDER)
    return folder


@pytest.fixture(scope="session")
def reader(reader_dir: Path) -> NoteReader:
    return NoteReader.load(reader_dir)


# A small model keeps the suite fast: the figures of the real one come from `make bench`.
TEST_MODEL_NOTES = 80
TEST_MODEL_PARAMETERS = TrainingParameters(folds=3, ranker_iterations=60)


@pytest.fixture(scope="session")
def training_notes(catalog: Catalog, data_dir: Path) -> list[Encounter]:
    found = CodiEspSource(data_dir / "codiesp", ["train"]).read(
        lambda system, code: catalog.get(system, code) is not None
    )
    return list(found.encounters[:TEST_MODEL_NOTES])


@pytest.fixture(scope="session")
def trained(
    training_notes: list[Encounter], reader: NoteReader, catalog: Catalog
) -> TrainingResult:
    return train(training_notes, reader, catalog, TEST_MODEL_PARAMETERS)


def publish(store: ArtifactStore, result: TrainingResult, **about: object) -> ArtifactInfo:
    return store.create(
        lambda folder: result.model.save(folder) | dict(about),
        kind=KIND,
        format_version=FORMAT_VERSION,
        parameters=TEST_MODEL_PARAMETERS.as_dict(),
        data_fingerprint="test",
    )


@pytest.fixture(scope="session")
def suggester(catalog: Catalog) -> Suggester:
    return Suggester.open(catalog)


@pytest.fixture(scope="session")
def stub(trained: TrainingResult, reader: NoteReader, suggester: Suggester) -> StubSuggestions:
    """Suggestions from a ranker that scores every candidate 0.9 (conventions_stub.py)."""
    return StubSuggestions(stub_model(trained.model), reader, suggester)


@pytest.fixture(scope="session")
def named_stub(
    trained: TrainingResult, reader: NoteReader, suggester: Suggester
) -> StubSuggestions:
    """Suggestions from a ranker that believes every official term of the note, and
    nothing else: each rule's effect shows on a known set of candidates."""
    model = stub_model(trained.model, ScoresNamedCodesHigh())
    return StubSuggestions(model, reader, suggester)


@pytest.fixture(scope="session")
def model_store(var_dir: Path, trained: TrainingResult) -> ArtifactStore:
    """var/models with the test model published and promoted."""
    store = ArtifactStore(var_dir / "models")
    store.promote(publish(store, trained).version)
    return store


@pytest.fixture(scope="session")
def service(catalog: Catalog, reader: NoteReader, model_store: ArtifactStore) -> SuggestService:
    return SuggestService(catalog, reader, ModelSwitchboard(model_store))


# Every endpoint but the probes needs a token: the suite's apps and servers accept this one
# as an admin, and the `client` fixture sends it (tests of roles use their own tokens).
TEST_ADMIN_TOKEN = "the-admin-token-of-the-test-suite"
ADMIN_AUTH = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}


@pytest.fixture(scope="session")
def settings(var_dir: Path, data_dir: Path) -> Settings:
    return Settings(var_dir=var_dir, data_dir=data_dir, admin_token=SecretStr(TEST_ADMIN_TOKEN))


@pytest.fixture(scope="session")
def client(settings: Settings, service: SuggestService) -> Iterator[TestClient]:
    with TestClient(create_app(settings, service), headers=ADMIN_AUTH) as test_client:
        yield test_client


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def server(catalog: Catalog, reader_dir: Path, model_store: ArtifactStore) -> Iterator[str]:
    """`medcode serve` on the test build, started as a user would, on a free port."""
    yield from _serve(catalog.folder.parent)


@pytest.fixture(scope="session")
def installed_server() -> Iterator[str]:
    """`medcode serve` on what `make install` built (var/), for benchmarks."""
    var_dir = Settings().var_dir
    if not (var_dir / "lexicon").is_dir():
        pytest.skip("nothing built in var/: run `make install` first")
    yield from _serve(var_dir)


def serve(var_dir: Path, **settings: str) -> Iterator[str]:
    """`medcode serve` on a var folder, with extra MEDCODE_* settings, until closed."""
    yield from _serve(var_dir, {f"MEDCODE_{k.upper()}": v for k, v in settings.items()})


def _serve(var_dir: Path, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    process, base = launch(var_dir, var_dir / "server.log", extra_env)
    try:
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def launch(
    var_dir: Path,
    log: Path,
    extra_env: dict[str, str] | None = None,
    ready_seconds: float = 180,
    workers: int = 1,
) -> tuple["subprocess.Popen[bytes]", str]:
    """`medcode serve` on a var folder and a free port, its output appended to `log` (a
    file, not a pipe: a full pipe would block it); (process, base URL) once /ready answers
    200 (with several workers: once one of them does)."""
    port = _free_port()
    env = {
        **os.environ,
        "MEDCODE_VAR_DIR": str(var_dir),
        "MEDCODE_ADMIN_TOKEN": TEST_ADMIN_TOKEN,
        # Tests and benchmarks call as one admin, far faster than the default rate allows.
        "MEDCODE_RATE_LIMIT_PER_MINUTE": "1000000",
        "MEDCODE_RATE_LIMIT_BURST": "100000",
        **(extra_env or {}),
    }
    medcode = Path(sys.executable).parent / "medcode"
    address = ["--host", "127.0.0.1", "--port", str(port)]
    with log.open("ab") as output:
        process = subprocess.Popen(
            [str(medcode), "serve", *address, "--workers", str(workers)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a failed start ends its workers too
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + ready_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"medcode serve exited: {log.read_text(errors='replace')[-5000:]}")
        try:
            if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            # Short: the benchmarks time start-up from this loop.
            time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    pytest.fail(f"medcode serve did not become ready in {ready_seconds:.0f} s")

"""Shared fixtures: one real catalog built from the shared data, once per test session."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.services.suggest import SuggestService
from codes.build import build_catalog
from codes.catalog import Catalog

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
def service(catalog: Catalog) -> SuggestService:
    return SuggestService.build(catalog)


@pytest.fixture(scope="session")
def settings(var_dir: Path, data_dir: Path) -> Settings:
    return Settings(var_dir=var_dir, data_dir=data_dir)


@pytest.fixture(scope="session")
def client(settings: Settings, service: SuggestService) -> Iterator[TestClient]:
    with TestClient(create_app(settings, service)) as test_client:
        yield test_client

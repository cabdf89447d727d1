"""Building the catalog from a small data folder: CPT import, carry-over, bad sources."""

import shutil
from pathlib import Path

import pytest

from codes.build import build_catalog
from codes.catalog import Catalog
from codes.errors import CatalogNotBuiltError, SourceFileError, SystemNotLoadedError
from codes.systems import CodeSystem

FIXTURES = Path(__file__).parents[1] / "fixtures"
MINI_DATA = FIXTURES / "data"
CPT = CodeSystem.CPT


def test_cpt_is_absent_until_imported_then_kept_across_rebuilds(tmp_path: Path) -> None:
    out = tmp_path / "catalog"
    build_catalog(MINI_DATA, out)
    catalog = Catalog.open(out)
    assert not catalog.has(CPT)
    with pytest.raises(SystemNotLoadedError, match="licensed CPT file"):
        catalog.summary(CPT, "1000Z")

    build_catalog(MINI_DATA, out, FIXTURES / "cpt_fixture.tsv")
    assert Catalog.open(out).summary(CPT, "1000z").code == "1000Z"

    build_catalog(MINI_DATA, out)  # a plain rebuild keeps the licensed codes
    assert Catalog.open(out).size(CPT) == 3


def test_hcpcs_keeps_active_level_ii_codes_only(tmp_path: Path) -> None:
    build_catalog(MINI_DATA, tmp_path / "catalog")
    catalog = Catalog.open(tmp_path / "catalog")
    hcpcs = CodeSystem.HCPCS
    assert catalog.size(hcpcs) == 3  # E0601, G0439, J1100; not the modifier, not terminated A4397
    assert catalog.get(hcpcs, "A4397") is None
    assert [s.code for s in catalog.search(hcpcs, "cpap")] == ["E0601"]


def test_a_failed_import_leaves_the_previous_catalog_in_place(tmp_path: Path) -> None:
    out = tmp_path / "catalog"
    build_catalog(MINI_DATA, out)
    before = (out / "manifest.json").read_text()
    with pytest.raises(SourceFileError, match="bad rows"):
        build_catalog(MINI_DATA, out, FIXTURES / "cpt_bad.csv")
    assert (out / "manifest.json").read_text() == before
    assert not Catalog.open(out).has(CPT)


def test_missing_sources_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceFileError, match="MEDCODE_DATA_DIR"):
        build_catalog(tmp_path / "nowhere", tmp_path / "catalog")
    partial = tmp_path / "data"
    shutil.copytree(MINI_DATA / "cms" / "icd10pcs", partial / "cms" / "icd10pcs")
    with pytest.raises(SourceFileError, match="HCPCS"):
        build_catalog(partial, tmp_path / "catalog")


def test_opening_a_catalog_that_was_never_built_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(CatalogNotBuiltError, match="medcode codes import"):
        Catalog.open(tmp_path)

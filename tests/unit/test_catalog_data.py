"""The catalog built from the real public files: counts and validity rules."""

from pathlib import Path

from codes.catalog import Catalog, Validity
from codes.systems import CodeSystem

CM, PCS, HCPCS, CPT = CodeSystem.ICD10CM, CodeSystem.ICD10PCS, CodeSystem.HCPCS, CodeSystem.CPT


def test_icd10cm_has_every_fy2026_billable_code(catalog: Catalog) -> None:
    assert catalog.manifest["systems"]["icd10cm"]["billable"] == 74_719


def test_icd10pcs_expands_to_every_valid_code(catalog: Catalog) -> None:
    billable = catalog.manifest["systems"]["icd10pcs"]["billable"]
    assert billable == 79_115
    assert catalog.validate(PCS, "0DT").validity is Validity.NOT_BILLABLE
    assert catalog.validate(PCS, "0DTJ").validity is Validity.NOT_BILLABLE
    assert catalog.validate(PCS, "0DTJ4ZZ").validity is Validity.BILLABLE
    assert catalog.validate(PCS, "0DTJ4").validity is Validity.INVALID


def test_hcpcs_drops_terminated_codes_and_modifiers(catalog: Catalog) -> None:
    assert catalog.manifest["systems"]["hcpcs"]["codes"] == 7_258
    assert catalog.get(HCPCS, "E0601") is not None
    assert catalog.validate(HCPCS, "A1").validity is Validity.MALFORMED


def test_validity_of_icd10cm_codes(catalog: Catalog) -> None:
    assert catalog.validate(CM, "i219").validity is Validity.BILLABLE
    assert catalog.validate(CM, " I21.9").code == "I21.9"
    assert catalog.validate(CM, "I21").validity is Validity.NOT_BILLABLE
    assert catalog.validate(CM, "A00-A09").validity is Validity.NOT_BILLABLE
    seventh = catalog.validate(CM, "S72.001")
    assert seventh.validity is Validity.NOT_BILLABLE and "7th character" in seventh.reason
    placeholder = catalog.validate(CM, "S02.0")  # children are S02.0XXA...
    assert "placeholder XX" in placeholder.reason
    assert catalog.validate(CM, "S72.001A").validity is Validity.BILLABLE
    assert catalog.validate(CM, "I21.99").validity is Validity.INVALID
    assert catalog.validate(CM, "I2").validity is Validity.MALFORMED


def test_cpt_is_present_only_once_imported(
    catalog: Catalog, data_dir: Path, tmp_path: Path
) -> None:
    assert catalog.has(CPT) and catalog.manifest["systems"]["cpt"]["codes"] == 3


def test_headings_lead_to_the_code_used_when_nothing_more_is_documented(catalog: Catalog) -> None:
    assert catalog.default_code(CM, "E11") == "E11.9"
    assert catalog.default_code(CM, "I21") == "I21.9"
    assert catalog.default_code(CM, "J18") == "J18.9"
    assert catalog.default_code(CM, "S72") is None  # a fracture needs its 7th character
    assert catalog.default_code(CM, "I10") is None  # already a code

"""ICD-10-PCS reader: a hand-made fixture folder, then checks on the real CMS files."""

import re
import shutil
import time
from collections import Counter
from pathlib import Path

import pytest

from codes.errors import SourceFileError
from codes.icd10pcs import PcsAxisSynonym, PcsOperationTerm, PcsSource, read_icd10pcs
from codes.pcs_structure import load_pcs_structure, save_pcs_structure
from codes.records import CodeNote, CodeRecord
from codes.systems import CodeSystem

FIXTURE = Path(__file__).parents[1] / "fixtures" / "data" / "cms" / "icd10pcs"


@pytest.fixture(scope="module")
def fixture_source() -> PcsSource:
    return read_icd10pcs(FIXTURE)


@pytest.fixture(scope="module")
def fixture_records(fixture_source: PcsSource) -> dict[str, CodeRecord]:
    return {record.code: record for record in fixture_source.records}


# --- 1. Codes: every row expanded, titled from its labels ------------------------------------


def test_every_row_expands_to_all_its_codes(fixture_source: PcsSource) -> None:
    codes = {record.code for record in fixture_source.records if record.kind == "code"}

    assert codes == {
        *("0016070", "001607B", "00160J0", "00160JB", "00160ZB"),
        *("0DBJ0ZX", "0DBJ0ZZ", "0DBJ4ZX", "0DBJ4ZZ"),
        *("0DTJ0ZZ", "0DTJ4ZZ"),
        "0JH60DZ",
        "0TT10ZZ",
        *("BW2000Z", "BW200ZZ", "BW20Z0Z", "BW20ZZZ"),
        "GZ12ZZZ",
    }


def test_a_code_is_billable_and_belongs_to_its_body_part(
    fixture_records: dict[str, CodeRecord],
) -> None:
    record = fixture_records["0DTJ4ZZ"]

    assert record.system is CodeSystem.ICD10PCS
    assert (record.kind, record.billable, record.parent) == ("code", True, "0DTJ")
    assert record.attributes == (
        ("section", "Medical and Surgical"),
        ("body_system", "Gastrointestinal System"),
        ("operation", "Resection"),
        ("body_part", "Appendix"),
        ("approach", "Percutaneous Endoscopic"),
        ("device", "No Device"),
        ("qualifier", "No Qualifier"),
    )


def test_attributes_use_each_sections_own_axis_titles(
    fixture_records: dict[str, CodeRecord],
) -> None:
    keys = [key for key, _ in fixture_records["BW2000Z"].attributes]

    assert keys == [
        *("section", "body_system", "type", "body_part"),
        *("contrast", "qualifier", "qualifier"),
    ]


@pytest.mark.parametrize(
    ("code", "title"),
    [
        ("0DTJ4ZZ", "Resection of Appendix, Percutaneous Endoscopic Approach"),
        ("0DBJ4ZX", "Excision of Appendix, Percutaneous Endoscopic Approach, Diagnostic"),
        (
            "0016070",
            "Bypass Cerebral Ventricle to Nasopharynx with Autologous Tissue Substitute, "
            "Open Approach",
        ),
        ("00160ZB", "Bypass Cerebral Ventricle to Cerebral Cisterns, Open Approach"),
        (
            "0JH60DZ",
            "Insertion of Stimulator Generator, Multiple Array into Subcutaneous Tissue "
            "and Fascia, Chest, Open Approach",
        ),
        ("0TT10ZZ", "Resection of Left Kidney, Open Approach"),
        (
            "BW2000Z",
            "Computerized Tomography (CT Scan) of Abdomen using High Osmolar Contrast, "
            "Unenhanced and Enhanced",
        ),
        ("BW20ZZZ", "Computerized Tomography (CT Scan) of Abdomen"),
        ("GZ12ZZZ", "Psychological Tests, Intellectual and Psychoeducational"),
    ],
)
def test_code_titles_read_like_cms_long_titles(
    fixture_records: dict[str, CodeRecord], code: str, title: str
) -> None:
    assert fixture_records[code].description == title


# --- 2. Tables -------------------------------------------------------------------------


def test_a_table_record_carries_the_operation_notes(
    fixture_records: dict[str, CodeRecord],
) -> None:
    record = fixture_records["0DB"]

    assert (record.kind, record.billable, record.parent) == ("table", False, None)
    assert record.description == "Medical and Surgical, Gastrointestinal System, Excision"
    assert record.notes == (
        CodeNote("definition", "Cutting out or off, without replacement, a portion of a body part"),
        CodeNote(
            "explanation",
            "The qualifier DIAGNOSTIC is used to identify excision procedures that are biopsies",
        ),
        CodeNote("includes", "Partial nephrectomy, liver biopsy"),
    )


def test_a_table_without_a_definition_takes_it_from_the_definitions_file(
    fixture_records: dict[str, CodeRecord],
) -> None:
    notes = fixture_records["BW2"].notes

    assert [note.kind for note in notes] == ["definition"]
    assert notes[0].text.startswith("Computer reformatted digital display")


def test_a_table_description_leaves_out_none(fixture_records: dict[str, CodeRecord]) -> None:
    assert fixture_records["GZ1"].description == "Mental Health, Psychological Tests"


# --- 3. Body-part prefixes -----------------------------------------------------------------


def test_each_table_and_body_part_has_a_prefix_record(
    fixture_source: PcsSource,
) -> None:
    by_kind = Counter(record.kind for record in fixture_source.records)
    body_parts = {record.code for record in fixture_source.records if record.kind == "body_part"}

    assert by_kind == {"table": 7, "body_part": 7, "code": 18}
    assert body_parts == {"0016", "0DBJ", "0DTJ", "0JH6", "0TT1", "BW20", "GZ12"}


@pytest.mark.parametrize(
    ("code", "title"),
    [
        ("0DTJ", "Resection of Appendix"),
        ("0TT1", "Resection of Left Kidney"),
        ("0016", "Bypass Cerebral Ventricle"),
        ("0JH6", "Insertion into Subcutaneous Tissue and Fascia, Chest"),
        ("BW20", "Computerized Tomography (CT Scan) of Abdomen"),
    ],
)
def test_a_body_part_record_is_titled_like_its_codes(
    fixture_records: dict[str, CodeRecord], code: str, title: str
) -> None:
    record = fixture_records[code]

    assert (record.kind, record.billable, record.parent) == ("body_part", False, code[:3])
    assert record.description == title


# --- 4. Index terms --------------------------------------------------------------------------


def test_index_terms_land_on_the_code_or_prefix_they_name(
    fixture_records: dict[str, CodeRecord],
) -> None:
    assert fixture_records["0DTJ"].terms == ("Appendectomy", "Resection, Appendix")
    assert fixture_records["0DTJ4ZZ"].terms == ("Laparoscopic appendectomy",)
    assert fixture_records["0TT1"].terms == ("Resection, Kidney, Left",)
    assert fixture_records["BW20"].terms == ("Computerized Tomography (CT Scan), Abdomen",)


def test_a_use_that_names_a_table_adds_its_term_to_the_table(
    fixture_records: dict[str, CodeRecord],
) -> None:
    assert fixture_records["0JH"].terms == ("Activa PC neurostimulator",)


def test_a_five_character_reference_goes_to_the_body_part_record(
    fixture_records: dict[str, CodeRecord],
) -> None:
    assert fixture_records["0016"].terms == ("Bypass, Cerebral Ventricle, Nasopharynx",)


def test_terms_differing_only_in_case_are_kept_once(
    fixture_records: dict[str, CodeRecord],
) -> None:
    # The index has both "Appendectomy" and "APPENDECTOMY" for 0DBJ; the first spelling stays.
    assert fixture_records["0DBJ"].terms == ("Appendectomy",)


def test_references_to_codes_missing_from_the_tables_are_counted_not_attached(
    fixture_source: PcsSource,
) -> None:
    assert fixture_source.unresolved_index_codes == ("0DTJ7ZZ", "0SG")
    assert all("Retired procedure" not in r.terms for r in fixture_source.records)


def test_codes_do_not_carry_axis_synonyms(fixture_records: dict[str, CodeRecord]) -> None:
    assert fixture_records["0DTJ0ZZ"].terms == ()
    assert fixture_records["0TT10ZZ"].terms == ()


# --- 5. Axis synonyms ----------------------------------------------------------------------


def test_axis_synonyms_come_from_index_uses_and_definition_keys(
    fixture_source: PcsSource,
) -> None:
    def synonym(axis: str, label: str, text: str, source: str) -> PcsAxisSynonym:
        return PcsAxisSynonym("0", axis, label, text, source)

    assert fixture_source.axis_synonyms == [
        synonym("body_part", "Appendix", "Vermiform appendix", "definitions"),
        synonym("body_part", "Appendix", "Vermiform appendix", "index"),
        synonym("body_part", "Kidney, Left", "Renal calyx", "definitions"),
        synonym("body_part", "Kidney, Left", "Renal calyx", "index"),
        synonym("body_part", "Kidney, Left", "Renal capsule", "definitions"),
        synonym("device", "Autologous Tissue Substitute", "Autograft", "definitions"),
        synonym("device", "Autologous Tissue Substitute", "Autograft", "index"),
        # The key says "... for Insertion in Subcutaneous Tissue and Fascia", the index
        # "... in <tab>0JH</tab>": both name the table label.
        synonym(
            "device",
            "Stimulator Generator, Multiple Array",
            "Activa PC neurostimulator",
            "definitions",
        ),
        synonym(
            "device", "Stimulator Generator, Multiple Array", "Activa PC neurostimulator", "index"
        ),
    ]


# --- 6. Index terms naming a root operation, and the tables as data -------------------------


def test_index_terms_naming_an_operation_or_a_table_are_kept_for_composing(
    fixture_source: PcsSource,
) -> None:
    # "Biopsy: see Excision with qualifier Diagnostic" names no code; "Nephrectomy: see
    # Resection, Urinary System 0TT" a whole table. "Exploration: see Inspection" has no
    # table here, and "Resection, Hip Joint" names a table the tables lack (0SG).
    assert fixture_source.operation_terms == (
        PcsOperationTerm("Biopsy", "Excision", ("0DB",), "Diagnostic"),
        PcsOperationTerm("Nephrectomy", "Resection", ("0TT",)),
    )


def test_the_tables_saved_as_data_read_back_the_same(
    fixture_source: PcsSource, tmp_path: Path
) -> None:
    structure = fixture_source.structure()
    save_pcs_structure(tmp_path, structure)

    assert load_pcs_structure(tmp_path) == structure
    assert [t.prefix for t in structure.tables] == ["001", "0DB", "0DT", "0JH", "0TT", "BW2", "GZ1"]


# --- Files: choice, absence, errors, determinism ----------------------------------------------


def test_the_version_is_the_tables_version(fixture_source: PcsSource) -> None:
    assert fixture_source.version == "2026"


def test_records_are_sorted_by_code_and_reading_twice_gives_the_same_result(
    fixture_source: PcsSource,
) -> None:
    codes = [record.code for record in fixture_source.records]

    assert codes == sorted(codes)
    assert read_icd10pcs(FIXTURE) == fixture_source


def test_the_newest_tables_file_is_read(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE, tmp_path, dirs_exist_ok=True)
    older = (
        (FIXTURE / "icd10pcs_tables_2026.xml")
        .read_text()
        .replace("<version>2026</version>", "<version>2019</version>")
    )
    (tmp_path / "icd10pcs_tables_2019.xml").write_text(older)

    assert read_icd10pcs(tmp_path).version == "2026"


def test_tables_alone_are_enough(tmp_path: Path) -> None:
    shutil.copy(FIXTURE / "icd10pcs_tables_2026.xml", tmp_path)

    source = read_icd10pcs(tmp_path)

    assert sum(record.kind == "code" for record in source.records) == 18
    assert source.axis_synonyms == []
    assert all(record.terms == () for record in source.records)
    assert {note.kind for record in source.records for note in record.notes} == {"definition"}


def test_a_missing_folder_is_a_source_file_error(tmp_path: Path) -> None:
    with pytest.raises(SourceFileError, match="does not exist"):
        read_icd10pcs(tmp_path / "absent")


def test_a_folder_without_tables_is_a_source_file_error(tmp_path: Path) -> None:
    shutil.copy(FIXTURE / "icd10pcs_index_2025.xml", tmp_path)

    with pytest.raises(SourceFileError, match=re.escape("icd10pcs_tables_YYYY.xml")):
        read_icd10pcs(tmp_path)


def test_a_broken_xml_file_is_a_source_file_error(tmp_path: Path) -> None:
    (tmp_path / "icd10pcs_tables_2026.xml").write_text("<ICD10PCS.tabular><pcsTable>")

    with pytest.raises(SourceFileError, match="not valid XML"):
        read_icd10pcs(tmp_path)


def test_an_xml_file_of_another_kind_is_a_source_file_error(tmp_path: Path) -> None:
    shutil.copy(FIXTURE / "icd10pcs_tables_2026.xml", tmp_path)
    shutil.copy(FIXTURE / "icd10pcs_tables_2026.xml", tmp_path / "icd10pcs_index_2025.xml")

    with pytest.raises(SourceFileError, match=re.escape("expected <ICD10PCS.index>")):
        read_icd10pcs(tmp_path)


# --- The real CMS FY2026 files -------------------------------------------------------------


@pytest.fixture(scope="module")
def real_source(data_dir: Path) -> PcsSource:
    """The CMS files of the data folder (MEDCODE_DATA_DIR); skipped without one."""
    started = time.perf_counter()
    source = read_icd10pcs(data_dir / "cms" / "icd10pcs")
    # Not a timing assertion: a guard against an accidental quadratic step.
    assert time.perf_counter() - started < 30
    return source


@pytest.fixture(scope="module")
def real_records(real_source: PcsSource) -> dict[str, CodeRecord]:
    return {record.code: record for record in real_source.records}


def test_real_tables_give_the_official_fy2026_code_count(real_source: PcsSource) -> None:
    codes = [record.code for record in real_source.records if record.kind == "code"]

    assert len(codes) == len(set(codes)) == 79_115
    assert real_source.version == "2026"


def test_real_codes_per_section_match_the_readme(real_source: PcsSource) -> None:
    per_section = Counter(record.code[0] for record in real_source.records if record.kind == "code")

    assert per_section == {
        "0": 68_419, "1": 305, "2": 861, "3": 1_273, "4": 422, "5": 59, "6": 47,
        "7": 100, "8": 90, "9": 90, "B": 2_978, "C": 463, "D": 2_057, "F": 1_388,
        "G": 28, "H": 59, "X": 476,
    }  # fmt: skip


def test_real_records_all_have_a_parent_in_the_catalog(
    real_records: dict[str, CodeRecord],
) -> None:
    orphans = [r.code for r in real_records.values() if r.parent and r.parent not in real_records]

    assert orphans == []
    assert sum(r.kind == "table" for r in real_records.values()) == 914


def test_real_code_titles_are_unique(real_source: PcsSource) -> None:
    titles = Counter(r.description for r in real_source.records if r.kind == "code")

    assert [title for title, count in titles.items() if count > 1] == []


@pytest.mark.parametrize(
    ("code", "title"),
    [
        ("0DTJ4ZZ", "Resection of Appendix, Percutaneous Endoscopic Approach"),
        (
            "0016070",
            "Bypass Cerebral Ventricle to Nasopharynx with Autologous Tissue Substitute, "
            "Open Approach",
        ),
        ("0DBJ4ZX", "Excision of Appendix, Percutaneous Endoscopic Approach, Diagnostic"),
        ("02HN32Z", "Insertion of Monitoring Device into Pericardium, Percutaneous Approach"),
        ("0W3F0ZZ", "Control Bleeding in Abdominal Wall, Open Approach"),
        ("0TY00Z0", "Transplantation of Right Kidney, Allogeneic, Open Approach"),
        ("10E0XZZ", "Delivery of Products of Conception, External Approach"),
        ("10D00Z1", "Extraction of Products of Conception, Low, Open Approach"),
        ("2W3AX3Z", "Immobilization of Right Upper Arm using Brace"),
        ("2Y50X5Z", "Removal of Packing Material from Mouth and Pharynx"),
        (
            "30233N1",
            "Transfusion of Red Blood Cells into Peripheral Vein, Percutaneous Approach, "
            "Nonautologous",
        ),
        (
            "4A023N7",
            "Measurement of Cardiac Sampling and Pressure, Left Heart, Percutaneous Approach",
        ),
        ("5A1D70Z", "Performance of Urinary Filtration, Intermittent, Less than 6 Hours Per Day"),
        ("6A550Z3", "Pheresis of Plasma, Single"),
        ("6A0Z0ZZ", "Atmospheric Control, Single"),
        ("7W00X0Z", "Osteopathic Treatment of Head using Articulatory-Raising"),
        ("8E0W4CZ", "Robotic Assisted Procedure of Trunk Region, Percutaneous Endoscopic Approach"),
        ("9WB0XBZ", "Chiropractic Manipulation of Head using Non-Manual"),
        ("BR30ZZZ", "Magnetic Resonance Imaging (MRI) of Cervical Spine"),
        ("B2111ZZ", "Fluoroscopy of Coronary Arteries, Multiple using Low Osmolar Contrast"),
        (
            "C030KZZ",
            "Positron Emission Tomographic (PET) Imaging of Brain using Fluorine 18 (F-18)",
        ),
        (
            "DW1198Z",
            "High Dose Rate (HDR) Brachytherapy of Head and Neck using Iridium 192 (Ir-192)",
        ),
        ("D7040ZZ", "Beam Radiation of Lymphatics, Axillary using Photons <1 MeV"),
        (
            "F0736GZ",
            "Motor Treatment of Neurological System - Whole Body, Therapeutic Exercise using "
            "Aerobic Endurance and Conditioning Equipment",
        ),
        ("GZB0ZZZ", "Electroconvulsive Therapy, Unilateral-Single Seizure"),
        ("GZ3ZZZZ", "Medication Management"),
        ("HZ95ZZZ", "Pharmacotherapy for Substance Abuse Treatment, Naloxone"),
        (
            "XW033E5",
            "Introduction of Remdesivir Anti-infective into Peripheral Vein, Percutaneous "
            "Approach, New Technology Group 5",
        ),
    ],
)
def test_real_titles_read_sensibly_in_every_section(
    real_records: dict[str, CodeRecord], code: str, title: str
) -> None:
    assert real_records[code].description == title


def test_real_excision_of_appendix_is_found_by_appendectomy(
    real_records: dict[str, CodeRecord],
) -> None:
    assert "Appendectomy" in real_records["0DBJ"].terms
    assert "Appendectomy" in real_records["0DTJ"].terms


def test_real_index_references_to_deleted_codes_are_the_readmes_18(
    real_source: PcsSource,
) -> None:
    assert len(real_source.unresolved_index_codes) == 18
    assert set(real_source.unresolved_index_codes) == {
        *("XXE5XN6", "XXEBXQ6", "X2A5312", "X2A6325", "5A0512C", "5A0522C", "0SG6"),
    }


def test_real_index_terms_send_biopsy_and_colectomy_to_their_operations(
    real_source: PcsSource,
) -> None:
    terms = {(t.term, t.operation): t for t in real_source.operation_terms}

    assert terms["Biopsy", "Excision"].qualifier == "Diagnostic"
    assert "0DB" in terms["Biopsy", "Excision"].tables
    assert terms["Colectomy", "Resection"].tables == ("0DT",)
    assert "0QS" in terms["Reduction, Fracture", "Reposition"].tables


def test_real_axis_synonyms_map_other_names_to_table_labels(real_source: PcsSource) -> None:
    synonyms = set(real_source.axis_synonyms)

    assert (
        PcsAxisSynonym(
            "0", "body_part", "Abdominal Sympathetic Nerve", "Abdominal aortic plexus", "index"
        )
        in synonyms
    )
    assert PcsAxisSynonym("0", "body_part", "1st Toe, Left", "Hallux", "definitions") in synonyms
    assert (
        PcsAxisSynonym(
            "3", "substance", "4-Factor Prothrombin Complex Concentrate", "Kcentra", "definitions"
        )
        in synonyms
    )
    assert real_source.axis_synonyms == sorted(
        synonyms, key=lambda s: (s.section, s.axis, s.value_label, s.synonym, s.source)
    )

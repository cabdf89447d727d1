from pathlib import Path

import pytest

from codes.cpt import read_cpt
from codes.errors import SourceFileError
from codes.systems import CodeSystem

FIXTURES = Path(__file__).parents[1] / "fixtures"


def test_a_tab_separated_file_with_a_header_is_read() -> None:
    records = read_cpt(FIXTURES / "cpt_fixture.tsv")
    assert [r.code for r in records] == ["1000Z", "1001Z", "1002Z"]
    assert all(r.system is CodeSystem.CPT and r.billable for r in records)
    assert records[1].description == "Fixture procedure: insertion of a test widget"


def test_a_comma_separated_file_without_header_and_with_quotes_is_read(tmp_path: Path) -> None:
    path = tmp_path / "cpt.csv"
    path.write_text('1000z,"Fixture, with a comma"\n1001Z,Another fixture\n', encoding="utf-8")
    records = read_cpt(path)
    assert [(r.code, r.description) for r in records] == [
        ("1000Z", "Fixture, with a comma"),
        ("1001Z", "Another fixture"),
    ]


def test_a_windows_encoded_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "cpt.txt"
    path.write_bytes("1000Z\tFixture caf\xe9 procedure\r\n".encode("latin-1"))
    assert read_cpt(path)[0].description == "Fixture café procedure"


def test_bad_rows_are_all_reported_and_nothing_is_imported() -> None:
    with pytest.raises(SourceFileError) as refused:
        read_cpt(FIXTURES / "cpt_bad.csv")
    message = refused.value.detail
    assert "2 bad rows" in message
    assert "line 2" in message and "'10O0Z' is not a CPT code" in message
    assert "line 3: 1001Z has no descriptor" in message


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceFileError, match="does not exist"):
        read_cpt(tmp_path / "nope.tsv")


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.tsv"
    path.write_text("code\tdescriptor\n", encoding="utf-8")
    with pytest.raises(SourceFileError, match="no CPT codes"):
        read_cpt(path)

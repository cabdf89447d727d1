"""Labelled encounters from a CodiEsp folder and from JSONL files.

Fixtures (tests/fixtures/encounters):
- codiesp/train: T1 (five gold codes, N44.8 written twice as n44.8 and N44.8; evidence rows),
  T2 (an unknown CM code r99.9, malformed r5 and 0io00zz, a known PCS prefix bn20),
  T3 (no codes); codiesp/dev: D1, D2 without an X_en file; codiesp/test: a held-out
  canary that must be refused.
- good.jsonl: three encounters (e1 with a duplicate, an unknown and a malformed code),
  out of id order, with a blank line; bad.jsonl: an unknown system on line 3.
"""

import logging
import shutil
import time
from pathlib import Path

import pytest

from app.config import Settings
from codes.systems import CodeSystem
from training.encounters import (
    CodeProblem,
    CodiEspSource,
    Encounter,
    EncounterFileError,
    EncounterSet,
    JsonlSource,
    LabelledCode,
    open_source,
)

CM, PCS, HCPCS, CPT = (
    CodeSystem.ICD10CM,
    CodeSystem.ICD10PCS,
    CodeSystem.HCPCS,
    CodeSystem.CPT,
)
FIXTURES = Path(__file__).parents[1] / "fixtures" / "encounters"
CODIESP_MINI = FIXTURES / "codiesp"
# The data folder's CodiEsp, found as the service finds it (MEDCODE_DATA_DIR).
CODIESP = (Settings().data_dir or Path("missing-data-folder")) / "codiesp"
logger = logging.getLogger(__name__)

KNOWN = {
    (CM, "N44.8"),
    (CM, "Z20.818"),
    (CM, "R60.9"),
    (CM, "I10"),
    (CM, "R06.00"),
    (CM, "R07.9"),
    (CM, "K35.80"),
    (PCS, "BW03ZZZ"),
    (PCS, "BW40ZZZ"),
    (PCS, "3E02329"),
    (PCS, "BN20"),
    (PCS, "0DTJ4ZZ"),
    (CPT, "99213"),
    (HCPCS, "G0439"),
}


def known(system: CodeSystem, code: str) -> bool:
    return (system, code) in KNOWN


def cm(code: str) -> LabelledCode:
    return LabelledCode(CM, code)


def pcs(code: str) -> LabelledCode:
    return LabelledCode(PCS, code)


def by_id(encounters: EncounterSet) -> dict[str, Encounter]:
    return {encounter.id: encounter for encounter in encounters.encounters}


@pytest.fixture(scope="module")
def mini() -> EncounterSet:
    return CodiEspSource(CODIESP_MINI, ["train", "dev"]).read(known)


@pytest.fixture(scope="module")
def jsonl() -> EncounterSet:
    return JsonlSource(FIXTURES / "good.jsonl").read(known)


# ---------------------------------------------------------------- CodiEsp


def test_codiesp_reads_every_case_of_the_splits_sorted_by_id(mini: EncounterSet) -> None:
    assert [encounter.id for encounter in mini.encounters] == ["D1", "D2", "T1", "T2", "T3"]
    assert mini.source == f"codiesp:{CODIESP_MINI.absolute()} [train,dev]"
    assert by_id(mini)["D1"].text == "Dyspnoea and chest pain for two days.\n"


def test_codiesp_codes_are_canonical_distinct_and_in_file_order(mini: EncounterSet) -> None:
    # D file rows n44.8, z20.818, N44.8 (same code), r60.9; then P rows bw03zzz, 3e02329.
    assert by_id(mini)["T1"].codes == (
        cm("N44.8"),
        cm("Z20.818"),
        cm("R60.9"),
        pcs("BW03ZZZ"),
        pcs("3E02329"),
    )
    assert by_id(mini)["D2"].codes == (cm("K35.80"), pcs("0DTJ4ZZ"))


def test_malformed_and_unknown_codes_are_reported_not_kept(mini: EncounterSet) -> None:
    assert by_id(mini)["T2"].codes == (cm("I10"), pcs("BN20"))  # the PCS prefix is known
    assert mini.problems == (
        CodeProblem("T2", "icd10cm", "r99.9", "unknown"),
        CodeProblem("T2", "icd10cm", "r5", "malformed"),
        CodeProblem("T2", "icd10pcs", "0io00zz", "malformed"),  # PCS has no I or O
    )
    assert mini.problem_counts() == {"unknown": 1, "malformed": 2}


def test_a_pcs_prefix_goes_through_the_catalog_like_any_code() -> None:
    without_prefix = CodiEspSource(CODIESP_MINI, ["train"]).read(
        lambda system, code: known(system, code) and code != "BN20"
    )
    assert pcs("BN20") not in by_id(without_prefix)["T2"].codes
    assert CodeProblem("T2", "icd10pcs", "bn20", "unknown") in without_prefix.problems


def test_left_out_codes_are_logged_as_counts_without_note_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="training.encounters"):
        CodiEspSource(CODIESP_MINI, ["train", "dev"]).read(known)
    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "3 codes left out of 1 encounters (2 malformed, 1 unknown" in warnings[0]
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "hypertension" not in logged and "testicular" not in logged


def test_a_case_without_codes_is_still_an_encounter(mini: EncounterSet) -> None:
    assert by_id(mini)["T3"] == Encounter("T3", "A case report with no codes at all.\n", ())


def test_evidence_sentences_pair_with_kept_codes_once(mini: EncounterSet) -> None:
    ultrasound = "Ultrasound of the scrotum showed orchiepididymitis."
    assert by_id(mini)["T1"].evidence == (
        (cm("N44.8"), ultrasound),  # two X_en rows, one sentence
        (pcs("BW03ZZZ"), ultrasound),
        (cm("Z20.818"), "A 37-year-old man with right testicular pain and fever."),
    )
    # The rows for r99.9 and r5 leave with their codes.
    assert by_id(mini)["T2"].evidence == ((cm("I10"), "A 70-year-old woman with hypertension."),)
    assert by_id(mini)["D1"].evidence == ()  # dev has no X_en file


@pytest.mark.parametrize(
    "splits", [["test"], ["train", "test"], ["Test"], ["test "], ["../codiesp/test"], ["x/test"]]
)
def test_the_test_split_is_refused_even_when_its_folder_is_present(splits: list[str]) -> None:
    assert (CODIESP_MINI / "test").is_dir()
    with pytest.raises(ValueError, match=r"held-out|not a CodiEsp split name"):
        CodiEspSource(CODIESP_MINI, splits)


@pytest.mark.parametrize("splits", [[], ["train", "train"], [""]])
def test_split_lists_must_name_distinct_splits(splits: list[str]) -> None:
    with pytest.raises(ValueError):
        CodiEspSource(CODIESP_MINI, splits)


def write_split(root: Path, split: str, notes: dict[str, str], d_rows: str, p_rows: str) -> None:
    (root / split / "text_files_en").mkdir(parents=True)
    for case_id, text in notes.items():
        (root / split / "text_files_en" / f"{case_id}.txt").write_text(text, encoding="utf-8")
    (root / split / f"{split}D.tsv").write_text(d_rows, encoding="utf-8")
    (root / split / f"{split}P.tsv").write_text(p_rows, encoding="utf-8")


def test_case_ids_must_be_unique_across_splits(tmp_path: Path) -> None:
    write_split(tmp_path, "train", {"C1": "Chest pain.\n"}, "C1\tr07.9\n", "")
    write_split(tmp_path, "dev", {"C1": "Chest pain.\n"}, "C1\tr07.9\n", "")
    with pytest.raises(EncounterFileError, match="C1 is also in split train"):
        CodiEspSource(tmp_path, ["train", "dev"]).read(known)


def test_codes_of_a_case_without_a_note_name_the_line(tmp_path: Path) -> None:
    write_split(tmp_path, "train", {"C1": "Chest pain.\n"}, "C1\tr07.9\nC9\ti10\n", "")
    with pytest.raises(EncounterFileError, match=r"trainD\.tsv:2: case C9 has no note"):
        CodiEspSource(tmp_path, ["train"]).read(known)


def test_a_malformed_tsv_row_names_the_line(tmp_path: Path) -> None:
    write_split(tmp_path, "train", {"C1": "Chest pain.\n"}, "C1\tr07.9\n\nC1 i10\n", "")
    with pytest.raises(EncounterFileError, match=r"trainD\.tsv:3: expected 2 tab-separated"):
        CodiEspSource(tmp_path, ["train"]).read(known)


def test_missing_files_and_folders_are_named(tmp_path: Path) -> None:
    write_split(tmp_path, "train", {"C1": "Chest pain.\n"}, "C1\tr07.9\n", "")
    (tmp_path / "train" / "trainP.tsv").unlink()
    with pytest.raises(EncounterFileError, match=r"trainP\.tsv: no such file"):
        CodiEspSource(tmp_path, ["train"]).read(known)
    with pytest.raises(EncounterFileError, match="no such folder"):
        CodiEspSource(tmp_path, ["dev"]).read(known)


# ---------------------------------------------------------------- JSONL


def test_jsonl_reads_encounters_sorted_with_canonical_codes(jsonl: EncounterSet) -> None:
    assert [encounter.id for encounter in jsonl.encounters] == ["e1", "e2", "e3"]
    assert jsonl.source == f"jsonl:{(FIXTURES / 'good.jsonl').absolute()}"
    e1, e2, e3 = jsonl.encounters
    assert e1.codes == (cm("N44.8"), pcs("BW03ZZZ"))  # n44.8 and N44.8 are one code
    assert e2.codes == (cm("I10"), LabelledCode(CPT, "99213"), LabelledCode(HCPCS, "G0439"))
    assert e2.text == "Follow-up visit.\nBlood pressure well controlled."
    assert e3.codes == ()


def test_jsonl_reports_unknown_and_malformed_codes(jsonl: EncounterSet) -> None:
    assert jsonl.problems == (
        CodeProblem("e1", "icd10cm", "r99.9", "unknown"),
        CodeProblem("e1", "icd10pcs", "0io00zz", "malformed"),
    )


def test_jsonl_evidence_follows_its_code(jsonl: EncounterSet) -> None:
    text = "Right testicular pain; orchiepididymitis on ultrasound."
    assert jsonl.encounters[0].evidence == ((cm("N44.8"), text),)  # r99.9's evidence left out


GOOD_LINE = '{"id": "a", "text": "Fine.", "codes": []}'
SECRET = "Patient Jane Roe, secret history"
BAD_LINES = {
    "invalid JSON": ('{"id": "x", "text": ', "not valid JSON"),
    "not an object": ("[1, 2]", "the line must be a JSON object, got a list"),
    "missing id": ('{"text": "t", "codes": []}', 'the line lacks "id"'),
    "missing text": ('{"id": "x", "codes": []}', 'the line lacks "text"'),
    "missing codes": ('{"id": "x", "text": "t"}', 'the line lacks "codes"'),
    "id not a string": ('{"id": 7, "text": "t", "codes": []}', '"id" must be a non-empty string'),
    "blank id": ('{"id": " ", "text": "t", "codes": []}', '"id" must be a non-empty string'),
    "empty text": ('{"id": "x", "text": "", "codes": []}', "got an empty string"),
    "text null": ('{"id": "x", "text": null, "codes": []}', "\"text\" of 'x' must be a non-empty"),
    "codes not a list": ('{"id": "x", "text": "t", "codes": "I10"}', '"codes" must be a list'),
    "code not an object": (
        '{"id": "x", "text": "t", "codes": ["I10"]}',
        "codes[0] must be a JSON object, got a string",
    ),
    "code without code": (
        '{"id": "x", "text": "t", "codes": [{"system": "icd10cm"}]}',
        'codes[0] lacks "code"',
    ),
    "code a number": (
        '{"id": "x", "text": "t", "codes": [{"system": "cpt", "code": 99213}]}',
        'codes[0]."code" must be a string, got a number',
    ),
    "unknown system": (
        '{"id": "x", "text": "t", "codes": [{"system": "icd9cm", "code": "401.9"}]}',
        "codes[0] has unknown system 'icd9cm' (known: icd10cm, icd10pcs, hcpcs, cpt)",
    ),
    "unexpected key": (
        '{"id": "x", "text": "t", "codes": [], "evidnce": []}',
        'unexpected "evidnce"',
    ),
    "evidence not a list": (
        '{"id": "x", "text": "t", "codes": [], "evidence": {}}',
        '"evidence" must be a list',
    ),
    "evidence of an unlisted code": (
        '{"id": "x", "text": "t", "codes": [], '
        '"evidence": [{"system": "icd10cm", "code": "I10", "text": "t"}]}',
        "evidence[0] names icd10cm 'I10', which is not in \"codes\"",
    ),
    "evidence without text": (
        '{"id": "x", "text": "t", "codes": [{"system": "icd10cm", "code": "I10"}], '
        '"evidence": [{"system": "icd10cm", "code": "I10", "text": ""}]}',
        'evidence[0]."text" must be a non-empty string',
    ),
    "duplicate id": ('{"id": "a", "text": "t", "codes": []}', "duplicate id 'a' (first on line 1)"),
}


@pytest.mark.parametrize("bad_line, message", BAD_LINES.values(), ids=BAD_LINES.keys())
def test_a_bad_jsonl_line_is_an_error_naming_its_line(
    tmp_path: Path, bad_line: str, message: str
) -> None:
    path = tmp_path / "encounters.jsonl"
    # Put note text on the bad line, to check that no error echoes it.
    bad_line = bad_line.replace('"text": "t"', f'"text": "{SECRET}"')
    path.write_text(f"{GOOD_LINE}\n\n{bad_line}\n", encoding="utf-8")
    with pytest.raises(EncounterFileError) as raised:
        JsonlSource(path).read(known)
    assert str(raised.value).startswith(f"{path}:3: ")
    assert message in str(raised.value)
    assert raised.value.line == 3
    assert SECRET not in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_the_bad_fixture_names_line_3() -> None:
    with pytest.raises(EncounterFileError, match=r"bad\.jsonl:3: codes\[0\] has unknown system"):
        JsonlSource(FIXTURES / "bad.jsonl").read(known)


def test_a_line_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(GOOD_LINE.encode() + b'\n{"id": "b", "text": "caf\xe9", "codes": []}\n')
    with pytest.raises(EncounterFileError, match=r"latin1\.jsonl:2: not UTF-8"):
        JsonlSource(path).read(known)


def test_crlf_line_ends_and_a_bom_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "windows.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD_LINE.encode() + b"\r\n\r\n")
    assert [encounter.id for encounter in JsonlSource(path).read(known).encounters] == ["a"]


def test_a_missing_jsonl_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(EncounterFileError, match=r"nowhere\.jsonl: no such file"):
        JsonlSource(tmp_path / "nowhere.jsonl").read(known)


# ---------------------------------------------------------------- specs


def test_open_source_reads_codiesp_specs() -> None:
    default = open_source(f"codiesp:{CODIESP_MINI}")
    assert isinstance(default, CodiEspSource)
    assert default.folder == CODIESP_MINI and default.splits == ("train", "dev")
    dev = open_source(f"codiesp:{CODIESP_MINI}:dev")
    assert isinstance(dev, CodiEspSource) and dev.splits == ("dev",)
    both = open_source(f"codiesp:{CODIESP_MINI}:train, dev")
    assert isinstance(both, CodiEspSource) and both.splits == ("train", "dev")
    assert [e.id for e in dev.read(known).encounters] == ["D1", "D2"]


def test_open_source_reads_jsonl_paths() -> None:
    for spec in [str(FIXTURES / "good.jsonl"), f"jsonl:{FIXTURES / 'good.jsonl'}"]:
        source = open_source(spec)
        assert isinstance(source, JsonlSource) and source.path == FIXTURES / "good.jsonl"


@pytest.mark.parametrize(
    "spec, message",
    [
        (f"codiesp:{CODIESP_MINI}:test", "held-out"),
        (f"codiesp:{CODIESP_MINI}:train,test", "held-out"),
        (f"codiesp:{CODIESP_MINI}:", "not a CodiEsp split name"),
        ("codiesp:", "no CodiEsp folder"),
        ("notes.csv", "not an encounter source"),
        ("", "not an encounter source"),
    ],
)
def test_open_source_refuses_bad_specs(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        open_source(spec)


# ---------------------------------------------------------------- fingerprint


def test_fingerprint_is_stable_and_independent_of_location_and_line_order(
    tmp_path: Path, jsonl: EncounterSet
) -> None:
    again = JsonlSource(FIXTURES / "good.jsonl").read(known)
    assert again == jsonl
    assert len(jsonl.fingerprint) == 64 and int(jsonl.fingerprint, 16) >= 0
    lines = (FIXTURES / "good.jsonl").read_text(encoding="utf-8").splitlines()
    shuffled = tmp_path / "elsewhere.jsonl"
    shuffled.write_text("\n".join(reversed(lines)) + "\n", encoding="utf-8")
    assert JsonlSource(shuffled).read(known).fingerprint == jsonl.fingerprint


def test_fingerprint_changes_when_a_code_or_a_text_changes(
    tmp_path: Path, jsonl: EncounterSet
) -> None:
    original = (FIXTURES / "good.jsonl").read_text(encoding="utf-8")
    changed_code = tmp_path / "code.jsonl"
    changed_code.write_text(original.replace('"bw03zzz"', '"bw40zzz"'), encoding="utf-8")
    changed_text = tmp_path / "text.jsonl"
    changed_text.write_text(
        original.replace("Follow-up visit.", "Follow-up visit!"), encoding="utf-8"
    )
    fingerprints = {
        jsonl.fingerprint,
        JsonlSource(changed_code).read(known).fingerprint,
        JsonlSource(changed_text).read(known).fingerprint,
    }
    assert len(fingerprints) == 3


def test_codiesp_fingerprint_is_the_same_for_a_copy_and_changes_with_a_code(
    tmp_path: Path, mini: EncounterSet
) -> None:
    copy = tmp_path / "codiesp"
    shutil.copytree(CODIESP_MINI, copy, ignore=shutil.ignore_patterns("test"))
    assert CodiEspSource(copy, ["train", "dev"]).read(known).fingerprint == mini.fingerprint
    devd = copy / "dev" / "devD.tsv"
    devd.write_text(devd.read_text(encoding="utf-8").replace("r07.9", "r60.9"), encoding="utf-8")
    assert CodiEspSource(copy, ["train", "dev"]).read(known).fingerprint != mini.fingerprint


# ---------------------------------------------------------------- the real corpus


@pytest.mark.skipif(not CODIESP.is_dir(), reason="no CodiEsp in the data folder (MEDCODE_DATA_DIR)")
def test_real_codiesp_train_and_dev() -> None:
    """Every D/P row ends up a code or a reported problem; ICD-10-CM checked against
    simple_icd_10_cm, every well-formed PCS code accepted (prefixes included)."""
    import simple_icd_10_cm

    def real_known(system: CodeSystem, code: str) -> bool:
        if system is CM:
            return bool(simple_icd_10_cm.is_valid_item(code))
        return system is PCS

    expected = {"train": (500, 5639 + 1550), "dev": (250, 2677 + 817)}
    fingerprints = set()
    for split, (n_cases, n_rows) in expected.items():
        started = time.perf_counter()
        encounters = CodiEspSource(CODIESP, [split]).read(real_known)
        elapsed = time.perf_counter() - started
        n_codes = sum(len(encounter.codes) for encounter in encounters.encounters)
        n_evidence = sum(len(encounter.evidence) for encounter in encounters.encounters)
        logger.info(
            "%s: %d cases, %d codes, %d evidence pairs, problems %s, read in %.2f s",
            split,
            len(encounters.encounters),
            n_codes,
            n_evidence,
            encounters.problem_counts(),
            elapsed,
        )
        assert len(encounters.encounters) == n_cases
        assert n_codes + len(encounters.problems) == n_rows  # nothing silently dropped
        assert not [p for p in encounters.problems if p.reason == "malformed"]
        # The unknown CM codes are placeholder-x codes lacking their 7th character (s02.0xx).
        assert all(p.raw_code.endswith("x") for p in encounters.problems)
        assert len(encounters.problems) < 0.02 * n_rows
        assert n_evidence > n_cases * 10
        fingerprints.add(encounters.fingerprint)
    both = CodiEspSource(CODIESP, ["train", "dev"]).read(real_known)
    assert len(both.encounters) == 750
    fingerprints.add(both.fingerprint)
    assert len(fingerprints) == 3

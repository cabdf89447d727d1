"""ICD-10-CM aliases from the Alphabetic Index and its Drug, Neoplasm and External-cause tables.

The hand-written fixtures under tests/fixtures/cm_index hold real rows of the CMS files
(some shortened); the last tests run on the real files when shared/data is present.
"""

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
import simple_icd_10_cm

from codes.errors import SourceFileError
from codes.systems import CodeSystem
from nlp.aliases import Alias
from nlp.cm_index_aliases import (
    cm_index_aliases,
    drug_table_aliases,
    external_cause_aliases,
    find_cm_tables,
    neoplasm_table_aliases,
)
from nlp.terms import content_stems

FIXTURES = Path(__file__).parents[1] / "fixtures" / "cm_index"
REAL_DATA = Path(__file__).parents[3] / "shared" / "data"
TABLES = find_cm_tables(FIXTURES)


def is_code(code: str) -> bool:
    return bool(simple_icd_10_cm.is_valid_item(code))


@pytest.fixture(scope="module")
def index() -> list[Alias]:
    return cm_index_aliases(TABLES["index"], is_code)


@pytest.fixture(scope="module")
def drugs() -> list[Alias]:
    return drug_table_aliases(TABLES["drug"], is_code)


@pytest.fixture(scope="module")
def neoplasms() -> list[Alias]:
    return neoplasm_table_aliases(TABLES["neoplasm"], is_code)


@pytest.fixture(scope="module")
def external_causes() -> list[Alias]:
    return external_cause_aliases(TABLES["eindex"], is_code)


Words = dict[frozenset[str], set[str]]


def by_words(aliases: list[Alias]) -> Words:
    """Codes by the content words of their phrases (what the note matcher looks for)."""
    index: Words = {}
    for a in aliases:
        index.setdefault(frozenset(content_stems(a.text)), set()).add(a.code)
    return index


def codes_of(aliases: list[Alias] | Words, phrase: str) -> set[str]:
    """Codes of the aliases with exactly the content words of `phrase`, in any order."""
    words = aliases if isinstance(aliases, dict) else by_words(aliases)
    return words.get(frozenset(content_stems(phrase)), set())


def weight_of(aliases: list[Alias], phrase: str, code: str) -> float:
    wanted = set(content_stems(phrase))
    return max(a.weight for a in aliases if a.code == code and set(content_stems(a.text)) == wanted)


def found_in(aliases: list[Alias], note: str) -> set[str]:
    """What the note matcher would find: aliases whose every content word is in the note."""
    words = set(content_stems(note))
    return {a.code for a in aliases if set(content_stems(a.text)) <= words}


# --- The main index ---------------------------------------------------------------------


def test_inverted_paths_become_phrases_with_every_word_form(index: list[Alias]) -> None:
    for phrase in ("infarct myocardium", "infarction myocardial", "myocardial infarction"):
        assert codes_of(index, phrase) == {"I21.9"}
    assert found_in(index, "Acute myocardial infarction last week.") == {"I21.9"}


def test_see_references_give_the_referring_phrase_the_target_code(index: list[Alias]) -> None:
    assert codes_of(index, "heart attack") == {"I21.9"}
    assert weight_of(index, "heart attack", "I21.9") == pytest.approx(0.9)
    assert weight_of(index, "myocardial infarction", "I21.9") == 1.0
    assert codes_of(index, "high blood pressure") == {"I10"}  # Blood > pressure > high
    assert codes_of(index, "spastic colon syndrome") == {"K58.9"}  # -> irritable bowel
    # "by type" is for the coder to fill in: the reference lands on the generic row.
    assert codes_of(index, "poorly controlled diabetes") == {"E11.65"}
    assert codes_of(index, "steroid-induced diabetes") == {"E09.9"}


def test_connector_subterms_add_no_words(index: list[Alias]) -> None:
    assert codes_of(index, "type 2 diabetes") == {"E11.9"}
    assert codes_of(index, "type 2 diabetes with hyperglycemia") == {"E11.65"}
    assert codes_of(index, "diabetic hyperosmolarity with coma") == {"E11.01"}
    assert codes_of(index, "blood in urine") == {"R31.9"}
    assert not any(a.text.split()[-1] == "with" for a in index)


def test_residual_specified_rows_are_not_phrased(index: list[Alias]) -> None:
    codes = {a.code for a in index}
    assert not codes & {"E13.9", "E13.65", "S72.09"}


def test_a_wordless_subterm_stands_in_only_for_a_code_that_needs_more(
    index: list[Alias],
) -> None:
    # "Attack > without alteration of consciousness" is not what "attack" means.
    assert codes_of(index, "attack") == set()
    # "upper end" is S72.00- (incomplete); its "unspecified" row gives the default.
    assert codes_of(index, "fracture femur upper end") == {"S72.00", "S72.009A"}


def test_single_everyday_words_and_adjectives_are_not_phrases(index: list[Alias]) -> None:
    assert codes_of(index, "old") == set()  # "87 years old"
    assert codes_of(index, "toxic") == set()  # the index says: see condition
    assert codes_of(index, "crush") == set()
    assert codes_of(index, "old myocardial infarction") == {"I25.2"}
    assert codes_of(index, "toxic shock syndrome") == {"A48.3"}
    assert codes_of(index, "pneumonia") == {"J18.9"}
    assert codes_of(index, "hypertension") == {"I10"}


def test_titles_cut_in_the_source_are_skipped(index: list[Alias]) -> None:
    # The CSV keeps "Cancer" of "Cancer(o)phobia" (F45.29): it must not code "cancer".
    assert "F45.29" not in {a.code for a in index}
    # "May(-Hegglin)" is the eponym, not the word "may".
    assert codes_of(index, "may-hegglin") == {"D72.0"}
    assert codes_of(index, "may") == set()


def test_or_lists_and_bracketed_names_give_alternatives(index: list[Alias]) -> None:
    assert codes_of(index, "creutzfeldt-jakob syndrome") == {"A81.00"}
    assert codes_of(index, "creutzfeldt-jakob disease") == {"A81.00"}
    assert codes_of(index, "syndrome") == set()
    e_coli = "infection bacterial as cause of disease classified elsewhere E. coli"
    assert codes_of(index, e_coli) == {"B96.20"}


def test_traumatic_is_the_default_sense_of_fracture(index: list[Alias]) -> None:
    assert codes_of(index, "femur fracture") == {"S72.9"}
    assert codes_of(index, "femoral neck fracture") == {"S72.00"}
    assert codes_of(index, "pathological fracture of femur") == {"M84.45"}


def test_unresolved_references_are_counted(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="nlp.cm_index_aliases"):
        cm_index_aliases(TABLES["index"], is_code)
    assert "'see_unresolved': 1" in caplog.text  # Syndrome > Stokes: not in the fixture
    assert "'title_cut_in_source': 1" in caplog.text


# --- Tables -----------------------------------------------------------------------------


def test_drug_columns_become_intent_and_effect_phrases(drugs: list[Alias]) -> None:
    expected = {
        "acetaminophen poisoning": "T39.1X1A",
        "acetaminophen overdose": "T39.1X1A",
        "intentional overdose of acetaminophen": "T39.1X2A",
        "suicide attempt with acetaminophen": "T39.1X2A",
        "acetaminophen poisoning, assault": "T39.1X3A",
        "acetaminophen adverse effect": "T39.1X5A",
        "side effect of acetaminophen": "T39.1X5A",
        "acetaminophen underdosing": "T39.1X6A",
    }
    for phrase, code in expected.items():
        assert codes_of(drugs, phrase) == {code}, phrase
    assert all(a.weight == pytest.approx(0.8) for a in drugs if "acetaminophen" in a.text)
    # "--" cells: acetic acid has no adverse effect or underdosing code.
    assert codes_of(drugs, "acetic acid poisoning") == {"T54.2X1A"}
    assert codes_of(drugs, "acetic acid adverse effect") == set()


def test_drug_see_references_use_the_target_row(drugs: list[Alias]) -> None:
    assert codes_of(drugs, "aleve overdose") == {"T39.311A"}
    assert weight_of(drugs, "aleve overdose", "T39.311A") == pytest.approx(0.72)
    assert codes_of(drugs, "narcotic overdose") == {"T40.601A"}  # "NEC" is no note word


def test_neoplasm_sites_become_behaviour_phrases(neoplasms: list[Alias]) -> None:
    assert codes_of(neoplasms, "lung cancer") == {"C34.9"}  # the table says C34.9-
    assert codes_of(neoplasms, "carcinoma of the middle lobe of the lung") == {"C34.2"}
    assert codes_of(neoplasms, "liver metastasis") == {"C78.7"}
    assert codes_of(neoplasms, "metastatic to liver") == {"C78.7"}
    assert weight_of(neoplasms, "metastatic liver", "C78.7") < 0.8  # often a liver primary
    assert codes_of(neoplasms, "liver carcinoma in situ") == {"D01.5"}
    assert codes_of(neoplasms, "benign liver tumor") == {"D13.4"}
    assert codes_of(neoplasms, "liver tumor") == {"D49.0"}
    assert codes_of(neoplasms, "cancer of breast, upper-outer quadrant") == {"C50.4"}
    assert codes_of(neoplasms, "accessory sinus cancer") == {"C31.9"}  # see Neoplasm, sinus


def test_neoplasm_morphology_rows_and_the_root_are_phrased_as_they_stand(
    neoplasms: list[Alias],
) -> None:
    assert codes_of(neoplasms, "basal cell carcinoma skin of breast") == {"C44.511"}
    assert not any("basal" in a.text and a.code != "C44.511" for a in neoplasms)
    assert not {"C80.1", "C79.9", "D49.9"} & {a.code for a in neoplasms}  # no site
    assert not any("mass" in a.text for a in neoplasms)  # a mass is a finding (R91.8)


def test_external_causes_follow_the_index_rules(external_causes: list[Alias]) -> None:
    assert codes_of(external_causes, "fall from ladder") == {"W11.XXXA"}
    assert codes_of(external_causes, "fell off a ladder") == set()  # "fell" is not "fall"
    assert codes_of(external_causes, "car accident") == {"V49.9XXA"}  # see transport
    assert codes_of(external_causes, "abandonment") == {"X58.XXXA"}
    assert {a.source for a in external_causes} == {"external_cause"}


# --- Every source -----------------------------------------------------------------------

SOURCES: list[tuple[Callable[[Path, Callable[[str], bool]], list[Alias]], str, str]] = [
    (cm_index_aliases, "index", "cm_index"),
    (drug_table_aliases, "drug", "drug"),
    (neoplasm_table_aliases, "neoplasm", "neoplasm"),
    (external_cause_aliases, "eindex", "external_cause"),
]


@pytest.mark.parametrize(("build", "kind", "source"), SOURCES)
def test_aliases_are_valid_unique_and_sorted(
    build: Callable[[Path, Callable[[str], bool]], list[Alias]], kind: str, source: str
) -> None:
    aliases = build(TABLES[kind], is_code)
    assert aliases
    assert all(a.system is CodeSystem.ICD10CM and a.source == source for a in aliases)
    assert all(is_code(a.code) and not a.code.endswith(("-", ".")) for a in aliases)
    assert all(0 < a.weight <= 1 and content_stems(a.text) for a in aliases)
    keys = [(a.code, frozenset(content_stems(a.text))) for a in aliases]
    assert len(keys) == len(set(keys))
    assert aliases == sorted(aliases, key=lambda a: (a.code, a.text))
    assert build(TABLES[kind], is_code) == aliases


def test_codes_the_catalog_lacks_are_dropped() -> None:
    aliases = cm_index_aliases(TABLES["index"], lambda code: code != "I21.9" and is_code(code))
    assert codes_of(aliases, "myocardial infarction") == set()
    assert codes_of(aliases, "heart attack") == set()


def test_files_of_the_wrong_kind_are_refused(tmp_path: Path) -> None:
    bad_csv = tmp_path / "index.csv"
    bad_csv.write_text("Code,Description\nI10,Hypertension\n", encoding="utf-8")
    with pytest.raises(SourceFileError, match="not an ICD-10-CM index CSV"):
        cm_index_aliases(bad_csv, is_code)
    with pytest.raises(SourceFileError, match="Substance"):
        drug_table_aliases(TABLES["neoplasm"], is_code)
    with pytest.raises(SourceFileError, match="cannot read"):
        external_cause_aliases(tmp_path / "missing.xml", is_code)


def test_find_cm_tables_takes_the_newest_release(tmp_path: Path) -> None:
    names = [
        "icd10cm-index/ICD10CM_2024_Index.csv",
        "icd10cm-index/ICD10CM_2025_Index.csv",
        "icd10cm-tables/icd10cm-drug-2025.xml",
        "icd10cm-tables/icd10cm-drug-April-1-2026-XML.xml",
        "icd10cm-tables/icd10cm-drug-2026.xml",
        "other/icd10cm-eindex-2026.xml",
    ]
    for name in names:
        (tmp_path / "cms" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "cms" / name).write_text("", encoding="utf-8")
    found = find_cm_tables(tmp_path)
    assert {kind: path.name for kind, path in found.items()} == {
        "index": "ICD10CM_2025_Index.csv",
        "drug": "icd10cm-drug-April-1-2026-XML.xml",
        "eindex": "icd10cm-eindex-2026.xml",
    }
    assert find_cm_tables(tmp_path / "nothing") == {}


# --- The real CMS files -----------------------------------------------------------------

real_data = pytest.mark.skipif(
    not (REAL_DATA / "cms" / "icd10cm-index").is_dir(), reason="CMS ICD-10-CM files not present"
)


@pytest.fixture(scope="module")
def real() -> dict[str, list[Alias]]:
    tables = find_cm_tables(REAL_DATA)
    return {kind: build(tables[kind], is_code) for build, kind, _ in SOURCES}


@real_data
def test_real_files_are_found() -> None:
    assert set(find_cm_tables(REAL_DATA)) == {"index", "drug", "neoplasm", "eindex"}


@pytest.fixture(scope="module")
def real_words(real: dict[str, list[Alias]]) -> dict[str, Words]:
    return {kind: by_words(aliases) for kind, aliases in real.items()}


@real_data
def test_real_index_names_common_conditions(real_words: dict[str, Words]) -> None:
    index = real_words["index"]
    assert codes_of(index, "heart attack") == {"I21.9"}
    assert codes_of(index, "myocardial infarction") == {"I21.9"}
    assert codes_of(index, "infarction of myocardium") == {"I21.9"}
    assert codes_of(index, "type 2 diabetes") == {"E11.9"}
    assert codes_of(index, "type 2 diabetes with hyperglycemia") == {"E11.65"}
    assert codes_of(index, "hypertension") == {"I10"}
    assert codes_of(index, "high blood pressure") == {"I10"}
    assert codes_of(index, "pneumonia") == {"J18.9"}
    assert codes_of(index, "stroke") == {"I63.9"}
    assert codes_of(index, "congestive heart failure") == {"I50.9"}
    assert codes_of(index, "femoral neck fracture") == {"S72.00"}
    for word in ("old", "may", "his", "cancer", "disease", "syndrome", "attack"):
        assert codes_of(index, word) == set(), word


@real_data
def test_real_tables_name_poisonings_cancers_and_falls(real_words: dict[str, Words]) -> None:
    real = real_words
    assert codes_of(real["drug"], "acetaminophen poisoning") == {"T39.1X1A"}
    assert codes_of(real["drug"], "acetaminophen overdose") == {"T39.1X1A"}
    assert codes_of(real["drug"], "aleve overdose") == {"T39.311A"}
    assert codes_of(real["neoplasm"], "lung cancer") == {"C34.9"}
    assert codes_of(real["neoplasm"], "breast cancer") == {"C50.9"}
    assert codes_of(real["neoplasm"], "liver metastasis") == {"C78.7"}
    assert codes_of(real["eindex"], "fall from ladder") == {"W11.XXXA"}


@real_data
def test_real_aliases_are_many_and_valid(real: dict[str, list[Alias]]) -> None:
    minimum = {"index": 50_000, "drug": 50_000, "neoplasm": 10_000, "eindex": 5_000}
    for kind, aliases in real.items():
        assert len(aliases) > minimum[kind], kind
        assert all(is_code(a.code) for a in aliases), kind

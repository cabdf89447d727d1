"""What the catalog reads for the coding conventions: code references in instructional
notes, the index's "with" combinations, the Tabular's condition groups and the history
codes' "Conditions classifiable to" notes."""

from pathlib import Path

import pytest
import simple_icd_10_cm

from codes import icd10cm
from codes.cm_conventions import CmConventions, build_cm_conventions
from codes.cm_index import find_cm_tables, read_index_csv, with_combinations
from codes.instructions import EXCLUDES1, USE_ADDITIONAL, code_references, instructions
from codes.records import CodeNote

FIXTURES = Path(__file__).parents[1] / "fixtures" / "cm_index"


def is_code(code: str) -> bool:
    return bool(simple_icd_10_cm.is_valid_item(code))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("gestational diabetes (O24.4-)", ["O244"]),
        ("migraine and other headache syndromes (G43-G44)", ["G43-G44"]),
        ("stage of chronic kidney disease (N18.1-N18.4, N18.9)", ["N181-N184", "N189"]),
        ("type 1 diabetes mellitus (E10.-)", ["E10"]),
        ("Conditions classifiable to C40-C41; C45-C49", ["C40-C41", "C45-C49"]),
        ("Conditions classifiable to C7A.022-C7A.025, C7A.029", ["C7A022-C7A025", "C7A029"]),
        ("no code here", []),
    ],
)
def test_code_references_read_codes_prefixes_and_ranges(text: str, expected: list[str]) -> None:
    assert [str(r) for r in code_references(text)] == expected


def test_a_range_covers_the_codes_between_and_beneath_its_ends() -> None:
    (genital,) = code_references("C51-C63")
    assert genital.covers("C56.9") and genital.covers("C51") and genital.covers("C63.8")
    assert not genital.covers("C64.1") and not genital.covers("C50.911")
    (stages,) = code_references("N18.1-N18.4")
    assert stages.covers("N18.30") and stages.covers("N18.4")
    assert not stages.covers("N18.5") and not stages.covers("N18.9")
    (ulcer,) = code_references("L97.4-")
    assert ulcer.covers("L97.421") and not ulcer.covers("L97.521")


def test_instruction_lines_pair_their_words_with_their_codes() -> None:
    notes = [
        CodeNote(USE_ADDITIONAL, "code to identify control using:"),
        CodeNote(USE_ADDITIONAL, "insulin (Z79.4)"),
        CodeNote(EXCLUDES1, "type 1 diabetes mellitus (E10.-)"),
        CodeNote("code_also", "if applicable peritonitis K65.-"),
    ]
    found = instructions(notes, frozenset({USE_ADDITIONAL, "code_also"}))
    assert [(i.kind, i.words, [str(c) for c in i.codes]) for i in found] == [
        (USE_ADDITIONAL, "insulin", ["Z794"]),
        ("code_also", "if applicable peritonitis K65.-", ["K65"]),
    ]


def test_with_subterms_under_a_coded_row_are_combinations() -> None:
    roots = read_index_csv(find_cm_tables(FIXTURES)["index"])
    found = {(c.base, c.partner, c.code) for c in with_combinations(roots, is_code)}
    assert ("E11.9", "hyperglycemia", "E11.65") in found  # Diabetes, type 2, with, ...
    assert ("E11.00", "coma", "E11.01") in found  # ... hyperosmolarity, with coma
    # "poorly controlled" is a see-reference, not a combination row with a code.
    assert not any(partner == "poorly controlled" for _, partner, _ in found)


@pytest.fixture(scope="module")
def conventions(data_dir: Path) -> CmConventions:
    records = icd10cm.read_icd10cm()
    codes = {r.code for r in records}
    return CmConventions(build_cm_conventions(records, data_dir, codes.__contains__))


def test_real_index_combinations_name_the_guideline_examples(conventions: CmConventions) -> None:
    found = {(c.base, c.partner.lower(), c.code) for c in conventions.combinations}
    assert ("E11.9", "foot ulcer", "E11.621") in found
    assert ("E11.9", "chronic kidney disease", "E11.22") in found
    assert ("I10", "heart failure", "I11.0") in found
    assert ("J44.9", "lower respiratory infection", "J44.0") in found
    # "Gout, in (due to)" is a condition of its own (M10.30), not a connector: its sites
    # are not combinations of gout NOS.
    assert not any(base == "M10.9" and code.startswith("M10.3") for base, _, code in found)


def test_tabular_groups_hold_any_condition_in_their_ranges(conventions: CmConventions) -> None:
    groups = {g.code: g for g in conventions.groups}
    kidney = groups["I12"]
    assert kidney.partner_words == "hypertension"
    assert any(r.covers("N18.30") for r in kidney.members)
    assert any(r.covers("I12.9") for r in groups["I13"].partner_codes)


@pytest.mark.parametrize(
    ("condition", "family", "target"),
    [
        ("C50.911", False, "Z85.3"),
        ("C56.9", True, "Z80.4"),
        ("C56.9", False, "Z85.4"),
        ("I63.9", True, "Z82.3"),
        ("J18.9", False, "Z87.0"),
        ("E11.9", True, "Z83.3"),
    ],
)
def test_history_targets_come_from_conditions_classifiable_to(
    conventions: CmConventions, condition: str, family: bool, target: str
) -> None:
    assert conventions.history_targets(condition, family)[0].code == target

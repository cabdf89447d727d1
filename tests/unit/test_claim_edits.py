"""Claim edits on hand-made final code sets: what must be fixed, what needs an
acknowledgement, and what passes clean."""

from collections.abc import Callable

import pytest

from codes.catalog import Catalog
from codes.systems import CodeSystem
from models.conventions import Conventions
from models.conventions.edits import ClaimCode, ClaimEdit, Severity, claim_edits

CM, PCS = CodeSystem.ICD10CM, CodeSystem.ICD10PCS
Edits = Callable[..., list[ClaimEdit]]


@pytest.fixture(scope="module")
def edits_of(catalog: Catalog) -> "Edits":
    knowledge = Conventions.open(catalog).knowledge

    def edits(*codes: str, system: CodeSystem = CM) -> list[ClaimEdit]:
        return claim_edits(knowledge, [ClaimCode(system, c) for c in codes])

    return edits


def kinds(edits: list[ClaimEdit]) -> set[tuple[str, Severity]]:
    return {(e.kind, e.severity) for e in edits}


def test_a_complete_claim_has_no_edits(edits_of: Edits) -> None:
    assert edits_of("E11.621", "L97.421", "Z79.4") == []
    assert edits_of("I12.9", "N18.30") == []


def test_a_missing_seventh_character_is_a_hard_stop(edits_of: Edits) -> None:
    (edit,) = edits_of("S82.201")
    assert (edit.kind, edit.severity) == ("incomplete", Severity.HARD_STOP)
    assert "7th character" in edit.message and edit.codes == ("S82.201",)
    (heading,) = edits_of("0DTJ", system=PCS)
    assert heading.severity is Severity.HARD_STOP and "7 characters" in heading.message


def test_an_external_cause_is_never_first(edits_of: Edits) -> None:
    assert ("sequencing", Severity.HARD_STOP) in kinds(edits_of("W10.9XXA", "S82.201A"))
    assert edits_of("S82.201A", "W10.9XXA") == []


def test_a_manifestation_needs_its_condition_first(edits_of: Edits) -> None:
    alone = kinds(edits_of("F02.80"))
    assert ("sequencing", Severity.HARD_STOP) in alone
    assert ("code_first", Severity.WARNING) in alone
    assert edits_of("G30.9", "F02.80") == []


def test_a_note_asking_to_identify_something_warns_until_it_is_coded(edits_of: Edits) -> None:
    (edit,) = edits_of("I12.9")
    assert (edit.kind, edit.severity) == ("use_additional", Severity.WARNING)
    assert "stage of chronic kidney disease" in edit.message and "N18.1-N18.4" in edit.message
    # Lists of conditions to add when documented (insulin, tobacco) raise nothing.
    assert all("insulin" not in e.message for e in edits_of("E11.621", "L97.421"))


def test_excludes1_pairs_warn_once(edits_of: Edits) -> None:
    found = [e for e in edits_of("J45.901", "R06.2") if e.kind == "excludes1"]
    assert len(found) == 1 and set(found[0].codes) == {"J45.901", "R06.2"}
    assert found[0].severity is Severity.WARNING and found[0].guideline == "I.A.12.a"


def test_unknown_codes_are_left_to_the_caller(edits_of: Edits) -> None:
    assert edits_of("Q99.999") == []

import pytest

from codes.systems import CodeSystem
from models.guidelines import support_weight
from nlp.mentions import Assertion

CM, PCS = CodeSystem.ICD10CM, CodeSystem.ICD10PCS


@pytest.mark.parametrize("assertion", [Assertion.NEGATED, Assertion.HYPOTHETICAL])
@pytest.mark.parametrize("setting", [None, "inpatient", "outpatient"])
def test_negated_and_hypothetical_evidence_never_supports_a_code(
    assertion: Assertion, setting: str | None
) -> None:
    assert support_weight(assertion, CM, "J18.9", setting) == 0.0  # type: ignore[arg-type]


def test_family_evidence_supports_only_family_history_codes() -> None:
    assert support_weight(Assertion.FAMILY, CM, "Z80.3", None) == 1.0
    assert support_weight(Assertion.FAMILY, CM, "Z84.81", None) == 1.0
    assert support_weight(Assertion.FAMILY, CM, "C50.919", None) == 0.0
    assert support_weight(Assertion.FAMILY, CM, "Z85.3", None) == 0.0  # personal history


def test_uncertain_diagnoses_depend_on_the_setting() -> None:
    assert support_weight(Assertion.POSSIBLE, CM, "J18.9", "inpatient") == 1.0
    assert support_weight(Assertion.POSSIBLE, CM, "J18.9", "outpatient") == 0.0
    assert 0.0 < support_weight(Assertion.POSSIBLE, CM, "J18.9", None) < 1.0


def test_historical_evidence_is_weaker_and_present_evidence_full() -> None:
    assert 0.0 < support_weight(Assertion.HISTORICAL, CM, "I21.9", None) < 1.0
    assert support_weight(Assertion.PRESENT, PCS, "0DTJ4ZZ", "outpatient") == 1.0

import pytest

from codes.errors import MalformedCodeError
from codes.normalize import normalize_code
from codes.systems import CodeSystem

CM, PCS, HCPCS, CPT = CodeSystem.ICD10CM, CodeSystem.ICD10PCS, CodeSystem.HCPCS, CodeSystem.CPT


@pytest.mark.parametrize(
    ("system", "raw", "canonical"),
    [
        (CM, "I219", "I21.9"),
        (CM, "i21.9", "I21.9"),
        (CM, " I21.9", "I21.9"),
        (CM, "I21.9 ", "I21.9"),
        (CM, "i21", "I21"),
        (CM, "s72001a", "S72.001A"),
        (CM, "S72.001 A", "S72.001A"),
        (CM, "a00-a09", "A00-A09"),
        (PCS, "0dtj4zz", "0DTJ4ZZ"),
        (PCS, " 0DT ", "0DT"),
        (HCPCS, "e0601", "E0601"),
        (CPT, "1000z", "1000Z"),
    ],
)
def test_codes_are_normalised_to_their_canonical_spelling(
    system: CodeSystem, raw: str, canonical: str
) -> None:
    assert normalize_code(system, raw) == canonical


@pytest.mark.parametrize(
    ("system", "raw"),
    [
        (CM, ""),
        (CM, "I2"),
        (CM, "121.9"),
        (CM, "I21.99999"),
        (CM, "I21.9;DROP"),
        (PCS, "0DTJ4ZZ1"),
        (PCS, "0DTI4ZZ"),  # PCS has no letter I
        (PCS, "0D"),
        (HCPCS, "E060"),
        (HCPCS, "W0601"),
        (CPT, "9921"),
    ],
)
def test_malformed_codes_are_refused_with_the_system_named(system: CodeSystem, raw: str) -> None:
    with pytest.raises(MalformedCodeError) as refused:
        normalize_code(system, raw)
    assert system.label in refused.value.detail

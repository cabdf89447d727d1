"""The hard rules, with a ranker that scores every candidate 0.9 (tests/unit/conventions_stub.py):
under either profile, what the note denies, only imagines, or says of a relative is never
recommended, nor anything derived from it; an outpatient's uncertain diagnosis is not."""

import pytest

from models.conventions import Profile
from tests.unit.conventions_stub import StubSuggestions

PROFILES = [Profile.US, Profile.LEARNED]


def recommended_in(
    stub: StubSuggestions, text: str, prefix: str, profile: Profile, setting: str | None = None
) -> list[str]:
    return sorted(c for c in stub.recommended(text, profile, setting) if c.startswith(prefix))


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize(
    "text",
    [
        "No pneumonia.",
        "Chest x-ray: no evidence of pneumonia.",
        "Pneumonia was ruled out.",
        "The patient denies pneumonia.",
    ],
)
def test_a_denied_condition_and_its_derived_codes_are_never_recommended(
    stub: StubSuggestions, profile: Profile, text: str
) -> None:
    suggestions = stub(text, profile)
    pneumonia = [s for s in suggestions if s.code.startswith(("J18", "J12", "J13", "J15", "J16"))]
    assert pneumonia, "the stub ranks the denied condition's codes"
    assert not [s.code for s in pneumonia if s.recommended]
    assert all(s.notes for s in pneumonia)


@pytest.mark.parametrize("profile", PROFILES)
def test_a_later_present_mention_supports_what_an_earlier_one_denied(
    stub: StubSuggestions, profile: Profile
) -> None:
    text = "No pneumonia on admission. Pneumonia developed on day 3."
    assert recommended_in(stub, text, "J18", profile)


@pytest.mark.parametrize("profile", PROFILES)
def test_hypothetical_conditions_are_not_recommended(
    stub: StubSuggestions, profile: Profile
) -> None:
    text = "Return to the emergency department if chest pain recurs."
    assert not recommended_in(stub, text, "R07", profile)


@pytest.mark.parametrize("profile", PROFILES)
def test_a_relatives_condition_is_never_the_patients(
    stub: StubSuggestions, profile: Profile
) -> None:
    text = "Family history: mother had breast cancer."
    assert not recommended_in(stub, text, "C50", profile)


@pytest.mark.parametrize("profile", PROFILES)
def test_outpatient_uncertain_diagnoses_are_never_recommended(
    stub: StubSuggestions, profile: Profile
) -> None:
    text = "Probable pneumonia."
    assert not recommended_in(stub, text, "J18", profile, "outpatient")
    assert recommended_in(stub, text, "J18", profile, "inpatient")


def test_under_us_no_heading_is_ever_recommended(stub: StubSuggestions, catalog) -> None:  # type: ignore[no-untyped-def]
    text = (
        "Cough and fever for three days. Type 2 diabetes mellitus. Laparoscopic sigmoid"
        " colectomy was performed. Chest x-ray and CT of the abdomen. Fracture of the femur."
    )
    suggestions = stub(text, Profile.US)
    assert [s for s in suggestions if s.recommended]
    assert not [s.code for s in suggestions if s.recommended and not s.billable]
    # Under the learned profile CodiEsp-style procedure headings may be answers.
    assert [s.code for s in stub(text, Profile.LEARNED) if s.recommended and not s.billable]

"""Each US coding-convention rule on hand-made notes, with a ranker that believes every
official term of the note (tests/unit/conventions_stub.py): what the rule recommends,
and what it keeps off the claim."""

import pytest

from models.conventions import Profile
from tests.unit.conventions_stub import StubSuggestions


def claim(stub: StubSuggestions, text: str, setting: str | None = None) -> set[str]:
    return stub.recommended(text, Profile.US, setting)


def notes_of(stub: StubSuggestions, text: str, code: str) -> list[str]:
    return [n for s in stub(text) if s.code == code for n in s.notes]


def test_headings_give_their_complete_code(named_stub: StubSuggestions) -> None:
    codes = claim(named_stub, "Cough for three days.")
    assert "R05.9" in codes and "R05" not in codes
    assert any("heading" in n for n in notes_of(named_stub, "Cough for three days.", "R05"))


def test_the_unspecified_code_yields_to_the_specific_one(named_stub: StubSuggestions) -> None:
    codes = claim(named_stub, "Iron deficiency anemia secondary to chronic blood loss.")
    assert "D50.0" in codes
    assert not codes & {"D50.9", "D50", "E61.1"}


def test_laterality_and_site_come_from_the_sentence(named_stub: StubSuggestions) -> None:
    assert "M25.562" in claim(named_stub, "Left knee pain after a fall on the right hip.")
    codes = claim(named_stub, "Acute gout of the left knee.")
    assert "M10.062" in codes and "M10.9" not in codes


def test_excludes1_keeps_the_diagnosis_over_the_symptom(named_stub: StubSuggestions) -> None:
    codes = claim(named_stub, "Asthma exacerbation with wheezing.")
    assert "J45.901" in codes
    assert "R06.2" not in codes  # Excludes1 under R06.2: asthma (J45.-)
    assert "J45.909" not in codes


@pytest.mark.parametrize(
    ("text", "diagnosis", "symptoms"),
    [
        ("Urinary tract infection with dysuria.", "N39.0", {"R30.0"}),
        ("Acute diverticulitis with left lower quadrant abdominal pain.", "K57.92", {"R10.32"}),
    ],
)
def test_symptoms_integral_to_a_confirmed_diagnosis_are_not_coded(
    named_stub: StubSuggestions, text: str, diagnosis: str, symptoms: set[str]
) -> None:
    codes = claim(named_stub, text)
    assert diagnosis in codes
    assert not codes & symptoms
    assert any("integral" in n for s in symptoms for n in notes_of(named_stub, text, s))


def test_symptoms_of_another_body_system_stay(named_stub: StubSuggestions) -> None:
    codes = claim(named_stub, "Urinary tract infection. Intermittent headache.")
    assert "N39.0" in codes and "R51.9" in codes  # I.B.6


def test_outpatient_uncertain_diagnoses_give_their_symptoms(named_stub: StubSuggestions) -> None:
    text = "Cough and fever. Possible pneumonia."
    outpatient = claim(named_stub, text, "outpatient")
    assert not any(c.startswith("J18") for c in outpatient)
    assert {"R05.9", "R50.9"} <= outpatient
    inpatient = claim(named_stub, text, "inpatient")
    assert "J18.9" in inpatient
    assert not {"R05.9", "R50.9"} & inpatient  # integral to the pneumonia coded as certain


@pytest.mark.parametrize(
    ("text", "combined", "kept", "replaced"),
    [
        (
            "Type 2 diabetes mellitus with a diabetic foot ulcer of the left heel.",
            "E11.621",
            {"L97.429"},
            {"E11.9"},
        ),
        ("Hypertension. Chronic kidney disease stage 3.", "I12.9", {"N18.30"}, {"I10"}),
        ("COPD with pneumonia.", "J44.0", {"J18.9"}, {"J44.9"}),
    ],
)
def test_combination_codes_replace_their_parts(
    named_stub: StubSuggestions, text: str, combined: str, kept: set[str], replaced: set[str]
) -> None:
    codes = claim(named_stub, text)
    assert combined in codes
    assert kept <= codes  # the combination's notes ask for them
    assert not codes & replaced


def test_use_additional_code_notes_are_followed(named_stub: StubSuggestions) -> None:
    codes = claim(named_stub, "Type 2 diabetes mellitus, on insulin.")
    assert "Z79.4" in codes
    assert "Z79.4" not in claim(named_stub, "Type 2 diabetes mellitus. Insulin was stopped.")


def test_past_conditions_give_personal_history_codes(named_stub: StubSuggestions) -> None:
    codes = claim(named_stub, "History of breast cancer, treated in 2015, no recurrence.")
    assert "Z85.3" in codes
    assert not any(c.startswith("C50") for c in codes)
    assert "I25.2" in claim(named_stub, "History of myocardial infarction 5 years ago.")
    # A chronic condition listed as history is still present.
    assert "I10" in claim(named_stub, "Past medical history: hypertension.")


def test_a_relatives_condition_gives_a_family_history_code(named_stub: StubSuggestions) -> None:
    codes = claim(named_stub, "Mother had ovarian cancer.")
    assert "Z80.41" in codes
    assert not any(c.startswith("C56") for c in codes)


def test_injuries_take_the_encounter_and_their_external_cause(named_stub: StubSuggestions) -> None:
    first = claim(
        named_stub, "Fracture of the shaft of the right tibia after he fell down the stairs."
    )
    assert "S82.201A" in first
    assert any(c.startswith("W10.") and c.endswith("A") for c in first)
    assert not any(c.startswith("W19") for c in first)  # "fell" is read in "fell down"
    later = claim(
        named_stub, "Follow-up visit for a fracture of the right tibial shaft, healing well."
    )
    assert "S82.201D" in later and "S82.201A" not in later


def test_every_recommended_code_is_complete_and_notes_say_why(named_stub: StubSuggestions) -> None:
    text = "Cough. Type 2 diabetes with hyperglycemia. Colectomy."
    suggestions = named_stub(text)
    assert all(s.billable for s in suggestions if s.recommended)
    assert all(s.notes for s in suggestions if not s.recommended and s.evidence and s.score >= 0.5)


@pytest.mark.parametrize(
    ("text", "wanted", "contradicted"),
    [
        ("Assessment: Acute cystitis without hematuria.", "N30.00", "N30.01"),
        (
            "Diagnosis: Intractable migraine without aura, without status migrainosus.",
            "G43.019",
            "G43.011",
        ),
    ],
)
def test_a_code_asserting_what_the_note_says_is_absent_is_not_recommended(
    stub: StubSuggestions, text: str, wanted: str, contradicted: str
) -> None:
    codes = claim(stub, text)  # every candidate scored 0.9: only the rule keeps it off
    assert wanted in codes and contradicted not in codes
    assert any("absent" in n for n in notes_of(stub, text, contradicted))


def test_a_code_no_word_of_the_note_names_stays_off_a_us_claim(stub: StubSuggestions) -> None:
    text = "Seen today for follow-up. Doing well."
    us = [s for s in stub(text, Profile.US) if s.recommended]
    assert all(s.evidence for s in us)
    learned = [s for s in stub(text, Profile.LEARNED) if s.recommended]
    assert any(not s.evidence for s in learned)  # the learned profile keeps them

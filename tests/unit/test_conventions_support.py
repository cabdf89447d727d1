"""Support of derived codes, on hand-made ranked codes: a code proposed without a span of
its own (a sibling, a code that co-occurs with a named one) is judged by the spans it was
derived from, whatever its score."""

import pytest

from codes.catalog import Catalog
from codes.systems import CodeSystem
from models.conventions import Conventions, Profile
from models.ranker_model import Decision
from models.suggestions import EvidenceSpan, RankedCode
from nlp.mentions import Assertion, CandidateCode, CandidateSource, Mention

CM, PCS = CodeSystem.ICD10CM, CodeSystem.ICD10PCS
TEXT = {Assertion.NEGATED: "Not pneumonia.", Assertion.PRESENT: "New pneumonia."}
DENIED = EvidenceSpan(4, 13, "pneumonia", None, Assertion.NEGATED)
PRESENT = EvidenceSpan(4, 13, "pneumonia", None, Assertion.PRESENT)
DECISIONS = {
    "icd10cm": Decision(threshold=0.5, gate=0.0, billable_only=True),
    "icd10pcs": Decision(threshold=0.5, gate=0.0, billable_only=False),
}


def mention(assertion: Assertion) -> Mention:
    candidate = CandidateCode(CM, "J18.9", 0.5, "pneumonia", CandidateSource.LEXICON)
    return Mention(4, 13, "pneumonia", None, assertion, (candidate,))


def recommended(catalog: Catalog, ranked: list[RankedCode], assertion: Assertion) -> set[str]:
    conventions = Conventions.open(catalog)
    found = set()
    for profile in Profile:
        scored = conventions.apply(
            profile, ranked, DECISIONS, TEXT[assertion], [mention(assertion)], None
        )
        found |= {f"{profile.value}:{s.code}" for s in scored if s.recommended}
    return found


def test_codes_derived_only_from_denied_mentions_are_never_recommended(catalog: Catalog) -> None:
    ranked = [
        RankedCode(CM, "J18.9", 0.95, True, evidence=(DENIED,), named=0.5),
        # a sibling seen in training, and a chest x-ray that co-occurs with pneumonia
        RankedCode(CM, "J18.1", 0.95, True, related=(DENIED,)),
        RankedCode(PCS, "BW03ZZZ", 0.95, True, related=(DENIED,)),
    ]
    assert recommended(catalog, ranked, Assertion.NEGATED) == set()


def test_the_same_derivations_from_a_present_mention_are_left_to_the_model(
    catalog: Catalog,
) -> None:
    ranked = [
        RankedCode(CM, "J18.9", 0.95, True, evidence=(PRESENT,), named=0.5),
        RankedCode(PCS, "BW03ZZZ", 0.95, True, related=(PRESENT,)),
    ]
    found = recommended(catalog, ranked, Assertion.PRESENT)
    assert {"us:J18.9", "learned:J18.9", "learned:BW03ZZZ"} <= found
    # A US claim takes only what the note documents: no word names the chest x-ray.
    assert "us:BW03ZZZ" not in found


@pytest.mark.parametrize("profile", list(Profile))
def test_a_code_from_similar_notes_says_so(catalog: Catalog, profile: Profile) -> None:
    conventions = Conventions.open(catalog)
    ranked = [RankedCode(CM, "I10", 0.95, True)]
    (scored,) = conventions.apply(profile, ranked, DECISIONS, "Seen today.", [], None)
    assert scored.recommended is (profile is Profile.LEARNED)
    expected = "similar coded notes" if profile is Profile.LEARNED else "no words of this note"
    assert any(expected in n for n in scored.notes)

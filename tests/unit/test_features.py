"""Feature rows of the learned ranker, on hand-made mentions."""

from collections import Counter

import pytest

from codes.systems import CodeSystem
from models.features import FEATURES, CodeFacts, CodeKey, CodePriors, NoteSignals, note_features
from nlp.mentions import Assertion, CandidateCode, CandidateSource, Mention

CM = CodeSystem.ICD10CM


def mention(start: int, text: str, assertion: Assertion, *candidates: CandidateCode) -> Mention:
    return Mention(start, start + len(text), text, None, assertion, candidates)


FACTS = CodeFacts(
    billable=lambda key: key[1] != "E11",
    default_code=lambda key: ("icd10cm", "E11.9") if key == ("icd10cm", "E11") else None,
    description_stems=lambda key: {"E11.9": ("type", "diabetes", "complication")}.get(key[1], ()),
)
NOTE = "Type 2 diabetes. No pneumonia."
MENTIONS = (
    mention(
        0, "Type 2 diabetes", Assertion.PRESENT, CandidateCode(CM, "E11", 0.9, "type 2 diabetes")
    ),
    mention(
        20,
        "pneumonia",
        Assertion.NEGATED,
        CandidateCode(CM, "J18.9", 0.8, "pneumonia"),
        CandidateCode(CM, "J18.9", 0.4, "pneumonia", CandidateSource.LEARNED),
    ),
)
PRIORS = CodePriors(notes=Counter({("icd10cm", "E11.65"): 3}))


def rows() -> dict[CodeKey, dict[str, float]]:
    signals = NoteSignals(
        MENTIONS, {("icd10cm", "I10"): 0.5}, {}, len(NOTE), frozenset({"type", "diabetes"})
    )
    keys, matrix = note_features(signals, PRIORS, FACTS, {"icd10cm"})
    return {
        key: dict(zip(FEATURES, map(float, row), strict=True))
        for key, row in zip(keys, matrix, strict=True)
    }


def test_every_source_proposes_candidates() -> None:
    assert sorted(rows()) == [
        ("icd10cm", "E11"),  # named
        ("icd10cm", "E11.65"),  # seen in training in the category of a strong candidate
        ("icd10cm", "E11.9"),  # the heading's default code
        ("icd10cm", "I10"),  # similar notes
        ("icd10cm", "J18.9"),  # named, twice
    ]


def test_sources_and_assertions_are_kept_apart() -> None:
    pneumonia = rows()[("icd10cm", "J18.9")]
    assert pneumonia["lexicon_best"] == pytest.approx(0.8)
    assert pneumonia["learned_best"] == pytest.approx(0.4)
    assert pneumonia["lexicon_supported"] == 0.0  # negated evidence supports nothing
    assert pneumonia["negated"] == 2 and pneumonia["present"] == 0
    assert pneumonia["first_mention"] == pytest.approx(20 / len(NOTE))


def test_hierarchy_and_description_features() -> None:
    found = rows()
    default = found[("icd10cm", "E11.9")]
    assert default["heading_default"] == pytest.approx(0.9)
    assert default["description_coverage"] == pytest.approx(2 / 3)
    assert default["description_missing"] == 1
    assert default["category_lexicon_best"] == pytest.approx(0.9)
    sibling = found[("icd10cm", "E11.65")]
    assert sibling["hierarchy_only"] == 1.0 and sibling["train_notes"] > 0
    assert found[("icd10cm", "I10")]["knn"] == pytest.approx(0.5)
    assert found[("icd10cm", "E11")]["billable"] == 0.0


def test_codes_carried_with_a_surely_named_code_get_their_share() -> None:
    priors = CodePriors(
        notes=Counter({("icd10cm", "E11"): 3}),
        partners={("icd10cm", "E11"): Counter({("icd10cm", "I10"): 2})},
    )
    signals = NoteSignals(MENTIONS, {("icd10cm", "I10"): 0.5}, {}, len(NOTE), frozenset())
    keys, matrix = note_features(signals, priors, FACTS, {"icd10cm"})
    row = dict(zip(FEATURES, map(float, matrix[keys.index(("icd10cm", "I10"))]), strict=True))
    assert row["cooccurrence"] == pytest.approx(2 / 4)  # 2 of E11's 3 notes, plus one
    restored = CodePriors.from_json(priors.to_json())
    assert restored.partners == priors.partners and restored.notes == priors.notes

"""Codes a claim does not carry beside others (I.A.9.b, I.B.2, I.A.12.a, I.B.5).

- Specificity: of a code and its ancestor, or an "unspecified" code (or its category's
  default) and a more specific code of the same category, only the specific one.
- Excludes1: two codes whose notes exclude each other are not both coded; a symptom
  yields to the diagnosis, otherwise the better-scored code stays.
- Integral symptoms: a sign or symptom routinely part of a recommended definitive
  diagnosis is not coded (symptoms.json), unless the diagnosis's notes ask for it.
"""

import functools
from dataclasses import dataclass

from codes.instructions import EXCLUDES1, CodeRange, code_references, covered
from codes.systems import CodeSystem
from models.conventions.claim import Claim, Draft, load_data, rule
from models.conventions.knowledge import CodingKnowledge

CM = CodeSystem.ICD10CM
_EXCLUDES = frozenset({EXCLUDES1})
# Factors, external causes and history are not diagnoses that explain a symptom.
_NOT_DEFINITIVE = ("Z", "V", "W", "X", "Y")
_EXTERNAL_CAUSE = ("V", "W", "X", "Y")


@dataclass(frozen=True)
class SymptomTable:
    symptoms: tuple[CodeRange, ...]
    explained_by: tuple[tuple[tuple[CodeRange, ...], tuple[CodeRange, ...]], ...]

    def is_symptom(self, code: str) -> bool:
        return covered(code, self.symptoms)

    def explains(self, diagnosis: str, symptom: str) -> bool:
        return any(
            covered(symptom, symptoms) and covered(diagnosis, diagnoses)
            for symptoms, diagnoses in self.explained_by
        )


@functools.cache
def symptom_table() -> SymptomTable:
    data = load_data("symptoms.json")

    def ranges(texts: list[str]) -> tuple[CodeRange, ...]:
        return tuple(r for text in texts for r in code_references(text))

    return SymptomTable(
        ranges(data["symptom_codes"]),
        tuple((ranges(row["symptoms"]), ranges(row["diagnoses"])) for row in data["explained_by"]),
    )


def keep_most_specific(claim: Claim, knowledge: CodingKnowledge) -> None:
    by_category: dict[str, list[Draft]] = {}
    recommended = claim.recommended(CM)
    for draft in recommended:
        by_category.setdefault(draft.code[:3], []).append(draft)
    for drafts in by_category.values():
        for draft in drafts:
            better = next((d for d in drafts if _more_specific(d, draft, knowledge)), None)
            if better is not None:
                draft.drop(rule("specificity").says(f"{better.code} is documented"))
    for draft in recommended:
        if draft.recommended and knowledge.catch_all(draft.code):
            wider = next((d for d in recommended if _reads_more_of(d, draft)), None)
            if wider is not None:
                draft.drop(rule("specificity").says(f"{wider.code} is documented"))


def _reads_more_of(other: Draft, draft: Draft) -> bool:
    """Whether `other`, an external cause like the draft, was read from longer words
    around all of the draft's evidence: "fell down the stairs" (W10.9) says more than
    "fell" (W19). External-cause index terms are nested phrasings of one event; two
    diagnoses read from nested words ("COPD with pneumonia") may both be coded."""
    if other is draft or not other.recommended or not draft.evidence:
        return False
    if not (other.code.startswith(_EXTERNAL_CAUSE) and draft.code.startswith(_EXTERNAL_CAUSE)):
        return False
    return all(
        any(
            o.start <= s.start and s.end <= o.end and o.end - o.start > s.end - s.start
            for o in other.evidence
        )
        for s in draft.evidence
    )


def _more_specific(other: Draft, draft: Draft, knowledge: CodingKnowledge) -> bool:
    """Whether `other` is a more specific code of the condition `draft` codes: its
    descendant; or, for a catch-all draft, a code that says all the draft says and more
    (E11.22 beside E11.9, J45.901 beside J45.909), or a specific sibling under the same
    heading (K57.32 beside K57.30, "diverticular disease of colon NOS")."""
    if other is draft or not other.recommended:
        return False
    if other.code.startswith(draft.code):
        return True
    if not knowledge.catch_all(draft.code):
        return False
    own, others = knowledge.required_stems(draft.code), knowledge.required_stems(other.code)
    if own < others:
        return True
    siblings = _parent(draft.code) == _parent(other.code)
    return siblings and not knowledge.catch_all(other.code)


def _parent(code: str) -> str:
    return code[:-1].rstrip(".")


def apply_excludes1(claim: Claim, knowledge: CodingKnowledge) -> None:
    table = symptom_table()
    drafts = claim.recommended(CM)
    for draft in drafts:
        excluded = [r for i in knowledge.instructions(draft.code, _EXCLUDES) for r in i.codes]
        for other in drafts:
            if other is draft or not (draft.recommended and other.recommended):
                continue
            if not covered(other.code, excluded) or other.code.startswith(draft.code[:3]):
                continue
            loser = _yielding(draft, other, table)
            winner = other if loser is draft else draft
            loser.drop(rule("excludes1").says(f"with {winner.code}"))


def _yielding(draft: Draft, other: Draft, table: SymptomTable) -> Draft:
    """Which of two mutually excluded codes goes: the symptom, else the one the note
    names less plainly, else the lower score."""
    if table.is_symptom(draft.code) != table.is_symptom(other.code):
        return draft if table.is_symptom(draft.code) else other
    return min((draft, other), key=lambda d: (_longest(d), d.named, d.score, d.code))


def _longest(draft: Draft) -> int:
    """The longest span naming the draft: "iron deficiency" inside "iron deficiency anemia
    secondary to chronic blood loss" names less than the whole does."""
    return max((s.end - s.start for s in draft.evidence), default=0)


def drop_integral_symptoms(claim: Claim, knowledge: CodingKnowledge) -> None:
    table = symptom_table()
    recommended = claim.recommended(CM)
    diagnoses = [
        d
        for d in recommended
        if not table.is_symptom(d.code) and not d.code.startswith(_NOT_DEFINITIVE)
    ]
    for symptom in recommended:
        if not table.is_symptom(symptom.code):
            continue
        explaining = next(
            (
                d
                for d in diagnoses
                if table.explains(d.code, symptom.code)
                and not knowledge.asks_for(d.code, symptom.code)
            ),
            None,
        )
        if explaining is not None:
            symptom.drop(rule("integral_symptom").says(f"integral to {explaining.code}"))

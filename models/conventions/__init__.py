"""The coding-conventions layer: between the ranker and the response, it decides which
ranked codes are recommended, may add codes, and says why in notes a coder reads.

Profiles:
- `us`: the ICD-10-CM and ICD-10-PCS Official Guidelines FY2026 (rules.json lists each
  rule with the guideline section it implements);
- `learned`: what the model's training coders did (e.g. CodiEsp's procedure headings),
  under the same hard clinical-safety rules.

Every ranked candidate stays in the list in the model's order, so a coder can still pick
one; a code a rule adds takes the score of the code it comes from.
"""

from collections.abc import Mapping, Sequence
from typing import Protocol

from codes.catalog import Catalog
from codes.cm_conventions import CmConventions
from models.conventions.claim import Claim, Draft, NoteView, rule
from models.conventions.combination import combine, follow_instructions
from models.conventions.completion import (
    complete_codes,
    reject_contradicted,
    require_documentation,
)
from models.conventions.history import code_history
from models.conventions.injury import add_external_causes
from models.conventions.knowledge import CodingKnowledge
from models.conventions.redundancy import (
    apply_excludes1,
    drop_integral_symptoms,
    keep_most_specific,
)
from models.conventions.safety import explain_unanchored, judge_support
from models.guidelines import Setting
from models.profiles import Profile
from models.suggestions import RankedCode, ScoredCode
from nlp.mentions import Assertion, Mention


class SystemDecision(Protocol):
    """What a model decided for a code system (models.ranker_model.Decision)."""

    @property
    def threshold(self) -> float: ...

    @property
    def billable_only(self) -> bool: ...


class Conventions:
    """Built once per catalog; `apply` is pure per note."""

    def __init__(self, catalog: Catalog, knowledge: CodingKnowledge) -> None:
        self.catalog = catalog
        self.knowledge = knowledge

    @classmethod
    def open(cls, catalog: Catalog) -> "Conventions":
        return cls(catalog, CodingKnowledge(catalog, CmConventions.load(catalog.folder)))

    def apply(
        self,
        profile: Profile,
        ranked: Sequence[RankedCode],
        decisions: Mapping[str, SystemDecision],
        text: str,
        mentions: Sequence[Mention],
        setting: Setting,
    ) -> list[ScoredCode]:
        claim = Claim.of(ranked, {s: d.threshold for s, d in decisions.items()})
        note = NoteView(text, mentions, setting)
        judge_support(claim, note, self.knowledge)
        for draft in claim:
            draft.recommended = draft.supported and draft.above_threshold
        if profile is Profile.LEARNED:
            for draft in claim:
                decision = decisions.get(draft.system.value)
                if decision is not None and decision.billable_only and not self._billable(draft):
                    draft.recommended = False
        else:
            self._us(claim, note)
        explain_unanchored(claim)
        return self._scored(claim)

    def _us(self, claim: Claim, note: NoteView) -> None:
        knowledge = self.knowledge
        require_documentation(claim, note, knowledge)
        code_history(claim, note, knowledge)
        complete_codes(claim, note, knowledge)
        combine(claim, note, knowledge)
        follow_instructions(claim, note, knowledge)
        complete_codes(claim, note, knowledge)  # what they added may be a heading (E11.1)
        keep_most_specific(claim, knowledge)
        apply_excludes1(claim, knowledge)
        drop_integral_symptoms(claim, knowledge)
        add_external_causes(claim, knowledge)
        reject_contradicted(claim, note, knowledge)  # whatever rule proposed the code
        for draft in claim.recommended():
            if not self._billable(draft):
                draft.recommended = False
            elif draft.diagnosis and draft.assertions() == {Assertion.POSSIBLE}:
                draft.say(_uncertain_inpatient_note(note.setting))

    def _billable(self, draft: Draft) -> bool:
        summary = self.catalog.get(draft.system, draft.code)
        return summary is not None and summary.billable

    def _scored(self, claim: Claim) -> list[ScoredCode]:
        scored = []
        for draft in claim:
            summary = self.catalog.get(draft.system, draft.code)
            if summary is None:
                continue
            scored.append(
                ScoredCode(
                    system=draft.system,
                    code=draft.code,
                    description=summary.description,
                    score=draft.score,
                    recommended=draft.recommended,
                    billable=summary.billable,
                    evidence=draft.evidence,
                    notes=tuple(draft.notes),
                )
            )
        return sorted(scored, key=lambda s: (-s.score, s.system.value, s.code))


def _uncertain_inpatient_note(setting: Setting) -> str:
    if setting == "inpatient":
        return rule("uncertain_inpatient").says()
    return rule("uncertain_inpatient").says("no setting given: confirm the setting")

"""Personal and family history codes (I.C.21.c.4, I.C.2.d).

A condition the note documents only as past ("history of breast cancer, no recurrence")
is coded by its personal-history code (Z85.3), not as active; a relative's condition
("mother had ovarian cancer") by its family-history code (Z80.41). Which history code
stands for which condition is read from the Tabular's "Conditions classifiable to" notes
under Z80-Z87 (and a few Alphabetic Index entries outside them, history.json); among a
heading's codes the one whose title shares the condition's words is chosen.

A chronic condition listed in a past medical history is usually still present (the
patient takes medication for it) and is coded as current: only conditions that end
(acute ones, neoplasms, injuries, those with a history code of their own) become history.
"""

import functools
import re

from codes.instructions import CodeRange, code_references, covered
from codes.systems import CodeSystem
from models.conventions.claim import Claim, Draft, NoteView, load_data, rule
from models.conventions.knowledge import NAMED_MIN, CodingKnowledge
from models.guidelines import support_weight
from nlp.mentions import Assertion
from nlp.terms import content_stems

CM = CodeSystem.ICD10CM
_HISTORY_WORDS = frozenset(
    content_stems("personal family history malignant neoplasm other diseases disorders")
)
_CURRENT = frozenset({Assertion.PRESENT, Assertion.POSSIBLE})
_ENDS = re.compile(r"\bacute\b|fracture|injur|infection|poisoning", re.IGNORECASE)


@functools.cache
def _index_history() -> list[tuple[tuple[CodeRange, ...], str]]:
    return [
        (tuple(r for text in row["conditions"] for r in code_references(text)), row["code"])
        for row in load_data("history.json")["personal"]
    ]


def code_history(claim: Claim, note: NoteView, knowledge: CodingKnowledge) -> None:
    current = {d.code[:3] for d in claim if d.diagnosis and _own(d, note) & _CURRENT}
    history_codes = {code for _, code in _index_history()}
    for draft in claim:
        if not draft.diagnosis and draft.evidence and draft.assertions() == {Assertion.HISTORICAL}:
            draft.drop(rule("personal_history").says("a procedure done before this encounter"))
            continue
        if not draft.diagnosis or not draft.evidence or draft.code.startswith("Z"):
            continue
        if draft.code in history_codes:
            continue  # already a history code (I25.2 old myocardial infarction)
        if not (draft.above_threshold or draft.named >= NAMED_MIN):
            continue
        if Assertion.FAMILY in draft.assertions():
            _family(claim, draft, knowledge)
        if _own(draft, note) == {Assertion.HISTORICAL} and draft.code[:3] not in current:
            _personal(claim, draft, knowledge)


def _own(draft: Draft, note: NoteView) -> set[Assertion]:
    """How the note speaks of the patient's own condition: not of a relative's, not
    what it denies, nor an uncertain diagnosis where uncertainty is not coded."""
    return {
        s.assertion
        for s in draft.evidence
        if s.assertion is not Assertion.FAMILY
        and support_weight(s.assertion, draft.system, draft.code, note.setting) > 0
    }


def _family(claim: Claim, draft: Draft, knowledge: CodingKnowledge) -> None:
    targets = knowledge.history_targets(draft.code, family=True)
    if targets:
        code, _ = _closest(targets[0].code, draft.code, knowledge)
        claim.put(CM, code, draft, rule("family_history").says(f"for {draft.code}"))


def _personal(claim: Claim, draft: Draft, knowledge: CodingKnowledge) -> None:
    code = next((c for ranges, c in _index_history() if covered(draft.code, ranges)), None)
    specific = code is not None
    if code is None:
        targets = knowledge.history_targets(draft.code, family=False)
        if not targets:
            return
        code, specific = _closest(targets[0].code, draft.code, knowledge)
    summary = knowledge.summary(CM, draft.code)
    ends = summary is not None and (
        bool(_ENDS.search(summary.description)) or draft.code[0] in "CST" or draft.code < "D50"
    )
    if not (specific or ends):
        return  # a chronic condition listed as history: still present, coded as current
    claim.put(CM, code, draft, rule("personal_history").says(f"for {draft.code}"))
    draft.drop(rule("personal_history").says(f"documented as past: {code}"))


def _closest(heading: str, condition: str, knowledge: CodingKnowledge) -> tuple[str, bool]:
    """The billable history code under `heading` sharing most words with the condition's
    title, and whether any word was shared (else the heading's "other" code)."""
    wanted = knowledge.title_stems(condition) - _HISTORY_WORDS
    choices = knowledge.billable_beneath(heading)

    def overlap(code: str) -> int:
        return len((knowledge.title_stems(code) - _HISTORY_WORDS) & wanted)

    best = max(choices, key=lambda c: (overlap(c), "other" in _title(c, knowledge), c))
    return best, overlap(best) > 0 or knowledge.billable(CM, heading)


def _title(code: str, knowledge: CodingKnowledge) -> str:
    summary = knowledge.summary(CM, code)
    return "" if summary is None else summary.description.lower()

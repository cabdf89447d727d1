"""The hard rules, under every profile: what the note denies is never recommended.

A code is supported by its own evidence spans; a code without any (a sibling seen in
training, a co-occurring code) by the spans it was derived from; a code with neither
comes from similar notes alone and is left to the model. Support follows
`models.guidelines.support_weight`: negated and hypothetical evidence supports nothing,
a relative's condition supports only family-history codes, and an uncertain diagnosis
supports nothing in an outpatient setting (IV.H).
"""

from models.conventions.claim import Claim, Draft, NoteView, rule
from models.guidelines import support_weight
from nlp.mentions import Assertion

_DENIED = frozenset({Assertion.NEGATED, Assertion.HYPOTHETICAL})


def judge_support(claim: Claim, note: NoteView) -> None:
    for draft in claim:
        spans = draft.evidence or draft.related
        if not spans:
            continue
        weights = [
            support_weight(s.assertion, draft.system, draft.code, note.setting) for s in spans
        ]
        if any(w > 0 for w in weights):
            continue
        draft.supported = False
        draft.drop(_why_not(draft, {s.assertion for s in spans}))


def _why_not(draft: Draft, assertions: set[Assertion]) -> str:
    if not draft.evidence:
        return rule("denied_derived").says()
    if assertions <= _DENIED:
        return rule("denied").says()
    if Assertion.FAMILY in assertions:
        return rule("family_only").says()
    return rule("uncertain_outpatient").says()


def explain_unanchored(claim: Claim) -> None:
    """A recommended code with no span says where it came from."""
    for draft in claim:
        if draft.recommended and not draft.evidence:
            draft.say(rule("similar_notes").says())

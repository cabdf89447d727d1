"""The hard rules, under every profile: what the note denies is never recommended.

A code is supported by its own evidence spans; a code without any (a sibling seen in
training, a co-occurring code) by the spans it was derived from; a code with neither
comes from similar notes alone and is left to the model. Support follows
`models.guidelines.support_weight`: negated and hypothetical evidence supports nothing,
a relative's condition supports only family-history codes, and an uncertain diagnosis
supports nothing in an outpatient setting (IV.H).
"""

from codes.systems import CodeSystem
from models.conventions.claim import Claim, Draft, NoteView, rule
from models.conventions.knowledge import NAMED_MIN, CodingKnowledge
from models.guidelines import support_weight
from nlp.mentions import Assertion, CandidateSource
from nlp.terms import content_stems

_DENIED = frozenset({Assertion.NEGATED, Assertion.HYPOTHETICAL})


def judge_support(claim: Claim, note: NoteView, knowledge: CodingKnowledge) -> None:
    denied = _denied_concepts(note, knowledge)
    # Codes a denied mention proposes even loosely ("no liver or lung metastases" names
    # liver metastases only weakly): too weak to show as evidence, enough to deny.
    denied_codes = {
        (c.system.value, c.code)
        for m in note.mentions
        if m.assertion in _DENIED
        for c in m.candidates
        if c.source is not CandidateSource.LEARNED
    }
    for draft in claim:
        if not draft.evidence and (
            draft.key in denied_codes
            or (draft.diagnosis and _names_a_denied_concept(draft, denied, knowledge))
        ):
            draft.supported = False
            draft.drop(rule("denied_derived").says())
            continue
        spans = draft.evidence or draft.related
        if not spans:
            continue
        weights = [
            support_weight(s.assertion, draft.system, draft.code, note.setting) for s in spans
        ]
        if not any(w > 0 for w in weights):
            draft.supported = False
            draft.drop(_why_not(draft, {s.assertion for s in spans}))
        elif draft.diagnosis and draft.evidence:
            denied_part = _denied_part(draft, weights, knowledge)
            if denied_part:
                draft.supported = False
                draft.drop(rule("denied").says(" ".join(sorted(denied_part))))


def _denied_concepts(note: NoteView, knowledge: CodingKnowledge) -> list[frozenset[str]]:
    """The words of the conditions the note plainly denies, as the official term and the
    named code say them ("no evidence of malignancy": malignancy, malignant neoplasm)."""
    found = set()
    for mention in note.mentions:
        if mention.assertion not in _DENIED:
            continue
        for candidate in mention.candidates:
            if (
                candidate.system is CodeSystem.ICD10CM
                and candidate.source is CandidateSource.LEXICON
                and candidate.similarity >= NAMED_MIN
            ):
                for words in (
                    knowledge.required_stems(candidate.code),
                    content_stems(candidate.term),
                ):
                    if words:
                        found.add(frozenset(words))
    return list(found)


def _names_a_denied_concept(
    draft: Draft, denied: list[frozenset[str]], knowledge: CodingKnowledge
) -> bool:
    """Whether a code proposed without a span of its own is a kind of a denied condition:
    gastric cancer from similar notes when the note says there is no malignancy, a back
    strain when it says there was no injury (the chapter of injuries)."""
    if not denied:  # most notes deny nothing: skip building the code's meaning
        return False
    meaning = knowledge.meaning_stems(draft.code) | knowledge.chapter_stems(draft.code)
    return any(words <= meaning for words in denied)


def _denied_part(draft: Draft, weights: list[float], knowledge: CodingKnowledge) -> frozenset[str]:
    """The words of a code's title that only denied spans say: "severe sepsis ... no
    septic shock" supports R65.20, not R65.21 (severe sepsis with septic shock)."""
    said: set[str] = set()
    denied: set[str] = set()
    for span, weight in zip(draft.evidence, weights, strict=True):
        (said if weight > 0 else denied).update(content_stems(span.text))
    return frozenset((knowledge.required_stems(draft.code) & denied) - said)


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

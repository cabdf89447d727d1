"""External causes of injuries (I.C.20.a).

An injury the claim carries is accompanied by the external cause the note names ("fell
down the stairs": W10.-), found by the reader in the External Cause Index, with the same
7th character as the encounter (I.C.20.a.2). Place, activity and status codes (Y92-Y99)
are left to the model: the guidelines make them optional.
"""

from codes.systems import CodeSystem
from models.conventions.claim import Claim, rule
from models.conventions.knowledge import NAMED_MIN, CodingKnowledge
from nlp.mentions import Assertion

CM = CodeSystem.ICD10CM
_INJURIES = ("S", "T")
_CAUSES = ("V", "W", "X", "Y0", "Y1", "Y2", "Y3")


def add_external_causes(claim: Claim, knowledge: CodingKnowledge) -> None:
    injuries = [d for d in claim.recommended(CM) if d.code.startswith(_INJURIES)]
    if not injuries:
        return
    extension = injuries[0].code[-1] if len(injuries[0].code.replace(".", "")) == 7 else "A"
    for draft in claim:
        if (
            draft.system is CM
            and not draft.recommended
            and not draft.notes
            and draft.code.startswith(_CAUSES)
            and draft.named >= NAMED_MIN
            and draft.assertions() == {Assertion.PRESENT}
        ):
            code = _with_extension(draft.code, extension, knowledge)
            claim.put(CM, code, draft, rule("external_cause").says(f"of {injuries[0].code}"))
            if code != draft.code:
                draft.drop(rule("injury_encounter").says(f"replaced by {code}"))


def _with_extension(code: str, extension: str, knowledge: CodingKnowledge) -> str:
    if len(code.replace(".", "")) == 7 and knowledge.seventh_characters(code):
        other = code[:-1] + extension
        if knowledge.is_code(CM, other):
            return other
    return code

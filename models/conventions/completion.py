"""Complete codes: a claim takes only billable codes with every character (I.B.2, PCS A8).

- An ICD-10-CM heading, or an "unspecified" code, becomes the most specific code of its
  category whose title the note's sentence documents in full: site and side (I.B.13),
  type; default words (idiopathic, closed, unspecified) need not be written.
  A heading with nothing more documented takes its default code (R05 -> R05.9).
- A code with a 7th character takes it from the encounter (I.C.19.a): initial while
  the injury is actively treated, subsequent after that, sequela for late effects; an
  open fracture only when the note says so (I.C.19.c).
- An ICD-10-PCS heading takes the complete code the note reader composed from the
  procedure statement (root operation, body part, approach, device, qualifier).
"""

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from codes.systems import CodeSystem
from models.conventions.claim import Claim, Draft, NoteView, load_data, rule
from models.conventions.knowledge import NAMED_MIN, CodingKnowledge
from models.suggestions import EvidenceSpan

CM, PCS = CodeSystem.ICD10CM, CodeSystem.ICD10PCS
_SIDES = frozenset({"left", "right", "bilateral"})


def complete_codes(claim: Claim, note: NoteView, knowledge: CodingKnowledge) -> None:
    for draft in claim.recommended():
        if draft.system is CM:
            _complete_diagnosis(claim, draft, note, knowledge)
        elif draft.system is PCS and len(draft.code) < 7:
            _complete_procedure(claim, draft)
    for draft in claim.recommended():
        if draft.system is CM:
            _set_seventh_character(claim, draft, note, knowledge)
    _one_code_per_procedure(claim)


def _one_code_per_procedure(claim: Claim) -> None:
    """Codes composed from the same words for the same body part are readings of one
    procedure ("appendectomy": Resection or Excision of the appendix): the likeliest one."""
    readings: dict[tuple[frozenset[tuple[int, int]], str], list[Draft]] = {}
    for draft in claim.recommended(PCS):
        if len(draft.code) == 7 and draft.composed and draft.evidence:
            words = frozenset((s.start, s.end) for s in draft.evidence)
            readings.setdefault((words, draft.code[:2] + draft.code[3]), []).append(draft)
    for drafts in readings.values():
        best = max(drafts, key=lambda d: (d.composed, d.score, d.code))
        for draft in drafts:
            if draft is not best:
                draft.drop(rule("pcs_complete").says(f"{best.code} reads the same words better"))


def _complete_diagnosis(
    claim: Claim, draft: Draft, note: NoteView, knowledge: CodingKnowledge
) -> None:
    billable = knowledge.billable(CM, draft.code)
    if billable and not knowledge.catch_all(draft.code):
        return
    better = more_specific(draft, note, knowledge)
    if better is not None:
        added = knowledge.required_stems(better) - knowledge.required_stems(draft.code)
        which = "laterality" if added & _SIDES else "specificity"
        claim.put(CM, better, draft, rule(which).says(f"more specific than {draft.code}"))
        draft.drop(rule("specificity").says(f"replaced by {better}"))
        return
    if not billable:
        default = knowledge.default_code(CM, draft.code)
        if default is not None and knowledge.billable(CM, default):
            claim.put(CM, default, draft, rule("complete_codes").says(f"default of {draft.code}"))
        draft.drop(rule("complete_codes").says())


def more_specific(draft: Draft, note: NoteView, knowledge: CodingKnowledge) -> str | None:
    """The most specific billable code of the draft's category that the sentences of its
    evidence document in full and that says everything the draft's code says."""
    if not draft.evidence:
        return None
    words = note.words_around(draft.evidence)
    own = knowledge.required_stems(draft.code)
    documented = words | own
    best: tuple[int, bool, float, str] | None = None
    for code in knowledge.billable_codes_near(draft.code):
        count = knowledge.documented_words(code, documented)
        if code == draft.code or count is None:
            continue
        if not own <= knowledge.meaning_stems(code):
            continue  # another condition, not a more specific code of this one
        if count <= len(own) and knowledge.billable(CM, draft.code):
            continue  # no more specific than what the draft already says
        # On equal words, a named site before the residual "other part", then the words
        # nearest the evidence.
        rank = (
            -count,
            knowledge.residual(code),
            _distance(knowledge, code, own, draft.evidence, note),
            code,
        )
        if best is None or rank < best:
            best = rank
    if best is None:
        return None
    # Another 7th character of the draft's own code is no more specific: the encounter
    # rule chooses among those.
    better = _with_current_extension(best[-1], draft.code, knowledge)
    return None if better == draft.code else better


def _distance(
    knowledge: CodingKnowledge,
    code: str,
    own: frozenset[str],
    spans: Sequence[EvidenceSpan],
    note: NoteView,
) -> float:
    """How far the words that make a code more specific stand from the evidence: with
    "left knee pain after a fall on the right hip", the side nearest the knee wins. Of
    an "and/or" group ("heel and midfoot") the nearest word counts."""
    positions = note.stem_positions()
    centre = sum((s.start + s.end) / 2 for s in spans) / len(spans)

    def far(word: str) -> float:
        return min((abs(p - centre) for p in positions.get(word, ())), default=1e6)

    groups = knowledge.alternatives(code)
    grouped = frozenset().union(*groups) if groups else frozenset()
    single = knowledge.required_stems(code) - own - grouped
    return sum(far(w) for w in single) + sum(min(far(w) for w in g) for g in groups)


def _with_current_extension(code: str, current: str, knowledge: CodingKnowledge) -> str:
    """A 7-character choice keeps the draft's 7th character when it can; the encounter
    step decides it next."""
    if len(code.replace(".", "")) == 7 and len(current.replace(".", "")) == 7:
        same = code[:-1] + current[-1]
        if knowledge.is_code(CM, same):
            return same
    return code


def _complete_procedure(claim: Claim, draft: Draft) -> None:
    composed = [
        d
        for d in claim
        if d.system is PCS and len(d.code) == 7 and d.code.startswith(draft.code) and d.composed
    ]
    if composed:
        best = max(composed, key=lambda d: (d.composed, d.score, d.code))
        claim.put(PCS, best.code, draft, rule("pcs_complete").says(f"from {draft.code}"))
        draft.drop(rule("complete_codes").says(f"{best.code} composed from the note"))
    else:
        draft.drop(rule("complete_codes").says("the note does not say enough to complete it"))


# ---- 7th characters --------------------------------------------------------------------


_HEALING = ("routine healing", "delayed healing", "nonunion", "malunion")


@dataclass(frozen=True)
class Encounter:
    stage: str  # initial, subsequent, sequela
    open_fracture: bool
    healing: str  # routine healing, delayed healing, nonunion, malunion


@functools.cache
def _cues() -> dict[str, dict[str, list[str]]]:
    data: dict[str, dict[str, list[str]]] = load_data("encounter.json")
    return {k: v for k, v in data.items() if k != "description"}


def read_encounter(text: str) -> Encounter:
    lowered = text.lower()

    def said(phrases: Iterable[str]) -> bool:
        return any(re.search(rf"\b{re.escape(p)}\b", lowered) for p in phrases)

    cues = _cues()
    stage = next((s for s in ("sequela", "subsequent") if said(cues["encounter"][s])), "initial")
    healing = next((h for h, p in cues["healing"].items() if said(p)), "routine healing")
    return Encounter(stage, said(cues["fracture"]["open"]), healing)


def choose_extension(sevenths: Sequence[tuple[str, str]], encounter: Encounter) -> str | None:
    """The 7th character whose meaning fits the encounter; None when none does."""
    for character, meaning in sevenths:
        lowered = meaning.lower()
        if encounter.stage not in lowered:
            continue
        if ("open" in lowered) != encounter.open_fracture and "fracture" in lowered:
            continue
        named = [h for h in _HEALING if h in lowered]
        if named and encounter.healing not in named:
            continue
        return character
    return None


def _set_seventh_character(
    claim: Claim, draft: Draft, note: NoteView, knowledge: CodingKnowledge
) -> None:
    compact = draft.code.replace(".", "")
    sevenths = knowledge.seventh_characters(draft.code)
    if len(compact) != 7 or not sevenths:
        return
    wanted = choose_extension(sevenths, note.memo("encounter", lambda: read_encounter(note.text)))
    if wanted is None or wanted == compact[-1]:
        return
    other = draft.code[:-1] + wanted
    if knowledge.is_code(CM, other):
        claim.put(CM, other, draft, rule("injury_encounter").says(f"{wanted} for this encounter"))
        draft.drop(rule("injury_encounter").says(f"replaced by {other}"))


def require_documentation(claim: Claim, note: NoteView, knowledge: CodingKnowledge) -> None:
    """A diagnosis code no official term names outright (it comes from a heading above it,
    a near match or a learned phrase) is recommended only when the sentences of its
    evidence document every word its title asserts: "acute pancreatitis" does not
    document biliary pancreatitis (K85.10), nor "migraine" status migrainosus."""
    for draft in claim.recommended():
        if not draft.evidence:
            draft.drop(rule("documented").says("no words of this note name it"))
    for draft in claim.recommended(CM):
        if draft.named >= NAMED_MIN:
            continue
        documented = note.words_around(draft.evidence) | note.term_words(draft.evidence)
        missing = knowledge.required_stems(draft.code) - documented
        groups = knowledge.alternatives(draft.code)
        missing -= frozenset().union(*groups) if groups else frozenset()
        unmet = [g for g in groups if not g & documented]
        if missing or unmet:
            words = sorted(missing | {min(g) for g in unmet})
            draft.drop(rule("documented").says(", ".join(words)))


def reject_contradicted(claim: Claim, note: NoteView, knowledge: CodingKnowledge) -> None:
    """A diagnosis code whose title asserts what the sentences of its evidence say is
    absent is not documented, however its words resemble the note's: "acute cystitis
    without hematuria" is not N30.01, "without status migrainosus" not G43.011."""
    for draft in claim.recommended(CM):
        denied = knowledge.required_stems(draft.code) & note.absent_words(draft.evidence)
        if denied:
            draft.drop(
                rule("documented").says("the note says it is absent: " + ", ".join(sorted(denied)))
            )

"""Combination codes (I.A.15, I.B.9) and instructional notes that ask for more codes (I.A.13).

Two sources say which conditions are one code, both read from the classification:
- the Alphabetic Index's "with" subterms: type 2 diabetes (E11.9) documented with a foot
  ulcer is E11.621; COPD (J44.9) with a lower respiratory infection is J44.0;
- the Tabular's "any condition in ... due to / with ..." categories: a condition of N18
  with hypertension is I12 (I.C.9.a.2), one of I11 with one of I12 is I13.
The combination takes the place of the code it extends; the partner's own code stays only
when the combination's notes ask for it ("use additional code to identify the stage of
chronic kidney disease", "code also to identify the infection").

Then every recommended code's "use additional code" and "code also" notes are followed
where the note documents the other condition: long-term insulin (Z79.4) beside E11 when
the note says the patient takes insulin.
"""

import functools
from collections.abc import Iterable

from codes.instructions import CodeRange, code_references, covered
from codes.systems import CodeSystem
from models.conventions.claim import Claim, Draft, NoteView, load_data, rule
from models.conventions.knowledge import ABSENT, ASKS_FOR_MORE, NAMED_MIN, CodingKnowledge
from nlp.mentions import Assertion, CandidateSource
from nlp.terms import content_stems

CM = CodeSystem.ICD10CM
# A combination needs a clearly named partner; rounds let one combination feed another.
MAX_ROUNDS = 3
_SUPPORTING = frozenset({Assertion.PRESENT, Assertion.POSSIBLE})
# Instruction words a note may state plainly are short ("insulin", "aspirin").
MAX_INSTRUCTION_WORDS = 3


@functools.cache
def _partner_classes() -> dict[frozenset[str], tuple[CodeRange, ...]]:
    return {
        frozenset(content_stems(row["partner"])): tuple(
            r for text in row["codes"] for r in code_references(text)
        )
        for row in load_data("partners.json")["classes"]
    }


def combine(claim: Claim, note: NoteView, knowledge: CodingKnowledge) -> None:
    for _ in range(MAX_ROUNDS):
        formed = _index_combinations(claim, note, knowledge)
        formed |= _group_combinations(claim, knowledge)
        if not formed:
            return


def _documented(claim: Claim) -> list[Draft]:
    """Recommended codes this note names: a code proposed only by similar notes cannot be
    half of a combination, which needs both conditions documented."""
    return [d for d in claim.recommended(CM) if d.evidence]


def _index_combinations(claim: Claim, note: NoteView, knowledge: CodingKnowledge) -> bool:
    recommended = _documented(claim)
    by_category: dict[str, list[Draft]] = {}
    for draft in recommended:
        by_category.setdefault(draft.code[:3], []).append(draft)
    spoken = note.memo("spoken_terms", lambda: _SpokenTerms(_spoken_terms(note)))
    formed = False
    for category, drafts in sorted(by_category.items()):
        for phrase in knowledge.combinations_by_base.get(category, ()):
            combination = phrase.combination
            if not knowledge.is_code(CM, combination.code):
                continue
            base = _base_draft(claim, combination.base, drafts, knowledge)
            if base is None:
                continue
            partners = _partners(phrase.stems, recommended, base, knowledge)
            if partners is not None:
                partners = [p for p in partners if p.code != combination.code] or None
            if partners is None and not spoken.say(phrase.stems):
                continue
            # The base is replaced when it is the category's catch-all (E11.9, J44.9, I10),
            # not when it is another complication the combination sits beside (E11.22).
            catch_all = base.code == base.code[:3] or knowledge.catch_all(base.code)
            formed |= _replace(
                claim,
                combination.code,
                base,
                [base] if catch_all else [],
                partners or [],
                combination.path,
                knowledge,
            )
            recommended = _documented(claim)
    return formed


def _base_draft(
    claim: Claim, base: str, drafts: list[Draft], knowledge: CodingKnowledge
) -> Draft | None:
    """The draft a combination extends: the base code itself when recommended; when the
    base is its category's default ("Diabetes, type 2, with ..." is E11.9), a recommended
    code of the category will do, and the base's own draft (recommended or already
    replaced by another combination) lends its evidence."""
    exact = [d for d in drafts if d.code == base]
    if exact:
        return exact[0]
    if knowledge.default_code(CM, base[:3]) != base and base != base[:3]:
        return None
    own = claim.get(CM, base)
    if own is not None and own.evidence and own.supported:
        return own
    return max(drafts, key=lambda d: (d.score, d.code), default=None)


def _partners(
    stems: frozenset[str], recommended: list[Draft], base: Draft, knowledge: CodingKnowledge
) -> list[Draft] | None:
    """The recommended codes that are the partner condition, by title or by class."""
    classes = _partner_classes().get(stems, ())
    # A partner named by its title must be named by the note too: a code the note only
    # hints at (a heading's evidence) is not a documented second condition.
    found = [
        d
        for d in recommended
        if d.code[:3] != base.code[:3]
        and (
            (stems <= knowledge.title_stems(d.code) and d.named >= NAMED_MIN)
            or covered(d.code, classes)
        )
    ]
    if not found:
        return None
    # The partner is the code that says the least besides the partner's words: N18.30
    # for "chronic kidney disease", not I12.9, which is itself a combination.
    extra = {d.code: len(knowledge.title_stems(d.code) - stems) for d in found}
    fewest = min(extra.values())
    return [d for d in found if extra[d.code] == fewest or covered(d.code, classes)]


class _SpokenTerms:
    """The words of the terms a note states, indexed by word: whether one term says all
    of some words is asked of the terms holding the rarest of them, not of every term."""

    def __init__(self, terms: list[frozenset[str]]) -> None:
        self.terms = terms
        self.holding: dict[str, list[int]] = {}
        for i, term in enumerate(terms):
            for word in term:
                self.holding.setdefault(word, []).append(i)

    def say(self, words: frozenset[str]) -> bool:
        if not words:
            return bool(self.terms)
        rarest = min(words, key=lambda w: len(self.holding.get(w, ())))
        return any(words <= self.terms[i] for i in self.holding.get(rarest, ()))


@functools.lru_cache(maxsize=65_536)
def _term_words(term: str) -> frozenset[str]:
    """An official term's words; terms are the lexicon's (never note text), so they are
    kept: a note names the same few thousand terms hundreds of times."""
    return frozenset(content_stems(ABSENT.sub(" ", term)))


def _spoken_terms(note: NoteView) -> list[frozenset[str]]:
    """The words of each official term the note states as present (a partner may be
    named without a code of its own being recommended)."""
    spoken = []
    for mention in note.mentions:
        if mention.assertion not in _SUPPORTING:
            continue
        said = frozenset(content_stems(ABSENT.sub(" ", mention.text)))
        for candidate in mention.candidates:
            if candidate.source is not CandidateSource.LEXICON or candidate.system is not CM:
                continue
            term = _term_words(candidate.term)
            # A term matched in part says only the words the note has: "appendicitis with
            # localized peritonitis" does not say the gangrene of the term it resembles.
            spoken.append(term if candidate.similarity >= 1.0 else term & said)
    return spoken


def _replace(
    claim: Claim,
    code: str,
    source: Draft,
    replaced: Iterable[Draft],
    parts: Iterable[Draft],
    why: str,
    knowledge: CodingKnowledge,
) -> bool:
    """Recommend the combination code in place of `replaced` and of the `parts` its notes
    do not ask to keep; whether anything changed (a combination the model recommended
    itself still takes its parts' places)."""
    existing = claim.get(CM, code)
    changed = existing is None or not existing.recommended
    combined = claim.put(CM, code, source, rule("combination").says(why))
    for part in parts:
        combined.evidence = tuple(
            sorted({*combined.evidence, *part.evidence}, key=lambda s: (s.start, s.end))
        )
    for draft in replaced:
        if draft.code != code and draft.recommended:
            draft.drop(rule("combination").says(f"replaced by {code}"))
            changed = True
    for part in parts:
        if part.code == code or not part.recommended or knowledge.asks_for(code, part.code):
            continue
        part.drop(rule("combination").says(f"included in {code}"))
        changed = True
    return changed


def _group_combinations(claim: Claim, knowledge: CodingKnowledge) -> bool:
    formed = False
    for group in knowledge.groups:
        recommended = _documented(claim)
        members = [d for d in recommended if covered(d.code, group.members)]
        if not members:
            continue
        if group.partner_codes:
            partners = [d for d in recommended if covered(d.code, group.partner_codes)]
        else:
            # The words name the condition itself: "hypertension" is I10, not pulmonary
            # hypertension (I27.20).
            words = frozenset(content_stems(group.partner_words))
            partners = [
                d
                for d in recommended
                if d not in members and knowledge.required_stems(d.code) == words
            ]
        if not partners:
            continue
        present = [d for d in recommended if d.code.startswith(group.code)]
        code = present[0].code if present else _group_code(group.code, recommended, knowledge)
        if code is None:
            continue
        source = max([*members, *partners], key=lambda d: (d.score, d.code))
        formed |= _replace(
            claim, code, source, [], [*members, *partners], f"{group.code} includes them", knowledge
        )
    return formed


def _group_code(group: str, present: list[Draft], knowledge: CodingKnowledge) -> str | None:
    """The group's billable code whose notes ask for the most of the present codes (I12.0
    asks for N18.5 and N18.6, I12.9 for N18.1-N18.4 and N18.9), else its default."""
    choices = knowledge.billable_beneath(group)
    if not choices:
        return None

    def asked(code: str) -> int:
        named, _ = knowledge.asked_for(code)
        return sum(1 for d in present if covered(d.code, named))

    best = max(choices, key=lambda c: (asked(c), c == knowledge.default_code(CM, group), c))
    return best


def follow_instructions(claim: Claim, note: NoteView, knowledge: CodingKnowledge) -> None:
    """Codes a recommended code's "use additional code" / "code also" notes ask for: the
    best named candidate of the codes a note lists, else, for a single code whose words
    the note states plainly ("insulin (Z79.4)"), that code."""
    for draft in claim.recommended(CM):
        for instruction in knowledge.instructions(draft.code, ASKS_FOR_MORE):
            covering = claim.covered_by(CM, instruction.codes)
            if any(d.recommended for d in covering):
                continue
            named = [
                d
                for d in covering
                if d.supported
                and not d.notes
                and (d.named >= NAMED_MIN or d.above_threshold)
                and knowledge.billable(CM, d.code)
            ]
            why = rule("use_additional").says(f"{draft.code}: {instruction.words}")
            if named:
                best = max(named, key=lambda d: (d.named, d.score, d.code))
                claim.put(CM, best.code, best, why)
                continue
            if len(instruction.codes) != 1 or instruction.codes[0].low != instruction.codes[0].high:
                continue
            code = _dotted(instruction.codes[0].low)
            words = frozenset(content_stems(instruction.words))
            if (
                knowledge.billable(CM, code)
                and 0 < len(words) <= MAX_INSTRUCTION_WORDS
                and note.says_plainly(words)
            ):
                claim.put(CM, code, draft, why)


def _dotted(compact: str) -> str:
    return f"{compact[:3]}.{compact[3:]}" if len(compact) > 3 else compact

"""Per-(note, code) features for the learned ranker, from every candidate source.

A note's candidates are the union of: codes its mentions name (official terms, near
matches and the model's learned phrases), codes of similar training notes (kNN), codes the
per-code classifiers score highest, and the code hierarchy around strong candidates (the
code a coder assigns for a heading that says no more, and codes seen in training in the
same category). Each candidate gets one feature row.
"""

import functools
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from codes.systems import CodeSystem
from models.guidelines import support_weight
from nlp import budget
from nlp.mentions import Assertion, CandidateSource, Mention

CodeKey = tuple[str, str]  # (system, code)

FEATURES = (
    "lexicon_best",  # best similarity of an official term naming the code
    "lexicon_supported",  # the same, weighed by what the mention's assertion allows
    "lexicon_mentions",
    "near_best",  # best similarity of an approximately linked official term
    "learned_best",  # best quality x precision of a learned evidence phrase
    "learned_supported",
    "learned_mentions",
    "present",
    "negated",
    "possible",
    "historical",
    "family",
    "hypothetical",
    "diagnosis_section",  # mentions in assessment / diagnoses sections
    "first_mention",  # where the first mention stands in the note, 0 (start) .. 1 (end)
    "knn",
    "classifier",
    "heading_default",  # similarity of a heading this code is the default code of
    "hierarchy_only",  # proposed only because a strong candidate shares its category
    "category_lexicon_best",  # best official similarity of any code in the same category
    "category_learned_best",
    "category_candidates",
    "family_lexicon_best",  # the same over codes sharing the first four characters
    "family_learned_best",
    "family_knn",  # best kNN score in the family: similar notes coded a near relative
    "family_train_notes",
    "train_notes",  # log(1 + notes coded with it in training)
    "category_train_notes",
    "lexicon_precision",  # how often an official-term proposal of this code was right
    "description_coverage",  # share of the code's description words found in the note
    "description_missing",  # how many of them the note lacks (laterality, site, approach)
    "billable",
    "code_length",
    "procedure",
    "sources",
    "note_mentions",  # log(1 + mentions in the note): long notes carry more codes
    "cooccurrence",  # best P(code | a surely named code) in training: BW03ZZZ with J18.9
    "composed_best",  # best similarity of a complete PCS code composed from a statement
)
_DIAGNOSIS_SECTIONS = frozenset(
    {"assessment_and_plan", "diagnoses", "discharge_diagnoses", "impression"}
)
_COLUMN = {name: i for i, name in enumerate(FEATURES)}
(
    _KNN,
    _CLASSIFIER,
    _HEADING_DEFAULT,
    _HIERARCHY_ONLY,
    _CATEGORY_LEXICON_BEST,
    _CATEGORY_LEARNED_BEST,
    _CATEGORY_CANDIDATES,
    _FAMILY_LEXICON_BEST,
    _FAMILY_LEARNED_BEST,
    _FAMILY_KNN,
    _FAMILY_TRAIN_NOTES,
    _TRAIN_NOTES,
    _CATEGORY_TRAIN_NOTES,
    _LEXICON_PRECISION,
    _DESCRIPTION_COVERAGE,
    _DESCRIPTION_MISSING,
    _BILLABLE,
    _CODE_LENGTH,
    _PROCEDURE,
    _SOURCES,
    _NOTE_MENTIONS,
    _COOCCURRENCE,
) = (
    _COLUMN[name]
    for name in (
        "knn",
        "classifier",
        "heading_default",
        "hierarchy_only",
        "category_lexicon_best",
        "category_learned_best",
        "category_candidates",
        "family_lexicon_best",
        "family_learned_best",
        "family_knn",
        "family_train_notes",
        "train_notes",
        "category_train_notes",
        "lexicon_precision",
        "description_coverage",
        "description_missing",
        "billable",
        "code_length",
        "procedure",
        "sources",
        "note_mentions",
        "cooccurrence",
    )
)
_ICD10CM = CodeSystem.ICD10CM.value
# Enum .value is a descriptor call, and a note has thousands of candidates.
SYSTEM_VALUE = {system: system.value for system in CodeSystem}
(
    _LEXICON_BEST,
    _LEXICON_SUPPORTED,
    _LEXICON_MENTIONS,
    _NEAR_BEST,
    _LEARNED_BEST,
    _LEARNED_SUPPORTED,
    _LEARNED_MENTIONS,
    _DIAGNOSIS_SECTION,
    _FIRST_MENTION,
    _COMPOSED_BEST,
) = (
    _COLUMN[name]
    for name in (
        "lexicon_best",
        "lexicon_supported",
        "lexicon_mentions",
        "near_best",
        "learned_best",
        "learned_supported",
        "learned_mentions",
        "diagnosis_section",
        "first_mention",
        "composed_best",
    )
)
_BEST_OF_SOURCE = {CandidateSource.LEXICON: _LEXICON_BEST, CandidateSource.COMPOSED: _COMPOSED_BEST}
# A category is worth exploring for siblings seen in training when one of its codes was
# named this surely (two of three content words).
HIERARCHY_MIN_SIMILARITY = 0.6


@dataclass
class CodePriors:
    """What training notes say about each code, independent of the note at hand."""

    notes: Counter[CodeKey] = field(default_factory=Counter)
    category_notes: Counter[CodeKey] = field(default_factory=Counter)
    family_notes: Counter[CodeKey] = field(default_factory=Counter)
    lexicon_hits: Counter[CodeKey] = field(default_factory=Counter)
    lexicon_proposals: Counter[CodeKey] = field(default_factory=Counter)
    # code -> how many training notes carried it together with each other code
    partners: dict[CodeKey, Counter[CodeKey]] = field(default_factory=dict)

    @classmethod
    def fit(
        cls, labels: Sequence[Collection[CodeKey]], proposals: Sequence[Collection[CodeKey]]
    ) -> "CodePriors":
        priors = cls()
        for gold, proposed in zip(labels, proposals, strict=True):
            priors.notes.update(gold)
            priors.category_notes.update({category(k) for k in gold})
            priors.family_notes.update({family(k) for k in gold})
            priors.lexicon_proposals.update(proposed)
            priors.lexicon_hits.update(k for k in proposed if k in gold)
            for key in gold:
                priors.partners.setdefault(key, Counter()).update(k for k in gold if k != key)
        return priors

    def lexicon_precision(self, key: CodeKey) -> float:
        # Smoothed towards 0.1, about the share of proposals that are right overall.
        return (self.lexicon_hits[key] + 0.1) / (self.lexicon_proposals[key] + 1.0)

    def seen_in_category(self) -> dict[CodeKey, list[CodeKey]]:
        """Category -> the codes training notes carried in it, sorted."""
        members: dict[CodeKey, list[CodeKey]] = defaultdict(list)
        for key in sorted(self.notes):
            members[category(key)].append(key)
        return members

    def to_json(self) -> dict[str, Any]:
        def rows(counter: Counter[CodeKey]) -> list[list[Any]]:
            return [[s, c, n] for (s, c), n in sorted(counter.items())]

        return {
            "notes": rows(self.notes),
            "category_notes": rows(self.category_notes),
            "family_notes": rows(self.family_notes),
            "lexicon_hits": rows(self.lexicon_hits),
            "lexicon_proposals": rows(self.lexicon_proposals),
            "partners": [
                [s, c, partner_system, partner_code, n]
                for (s, c), partners in sorted(self.partners.items())
                for (partner_system, partner_code), n in sorted(partners.items())
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "CodePriors":
        def counter(name: str) -> Counter[CodeKey]:
            return Counter({(str(s), str(c)): int(n) for s, c, n in data[name]})

        partners: dict[CodeKey, Counter[CodeKey]] = {}
        for system, code, partner_system, partner_code, n in data["partners"]:
            partners.setdefault((system, code), Counter())[(partner_system, partner_code)] = n
        return cls(
            counter("notes"),
            counter("category_notes"),
            counter("family_notes"),
            counter("lexicon_hits"),
            counter("lexicon_proposals"),
            partners,
        )


def category(key: CodeKey) -> CodeKey:
    return (key[0], key[1][:3])


def family(key: CodeKey) -> CodeKey:
    """The first four characters: an ICD-10-CM subcategory, an ICD-10-PCS body part."""
    return (key[0], key[1].replace(".", "")[:4])


@dataclass(frozen=True)
class NoteSignals:
    """Everything known about one note before ranking."""

    mentions: Sequence[Mention]
    knn: Mapping[CodeKey, float]
    classifier: Mapping[CodeKey, float]
    note_length: int
    note_stems: frozenset[str]


@dataclass(frozen=True)
class CodeFacts:
    """What the catalog says about a code, as plain functions (tests pass their own)."""

    billable: Callable[[CodeKey], bool]
    default_code: Callable[[CodeKey], CodeKey | None]  # heading -> the code to assign
    description_stems: Callable[[CodeKey], tuple[str, ...]]
    # A heading's billable codes beneath it (nearest first), for choosing the subcode.
    billable_below: Callable[[CodeKey], tuple[CodeKey, ...]] = lambda key: ()
    # The stems of the code's names and its ancestors' (descriptions, inclusion and index
    # terms): what a span must speak of to be shown as the code's evidence.
    vocabulary: Callable[[CodeKey], frozenset[str]] = lambda key: frozenset()


@dataclass(frozen=True, slots=True)
class _Fixed:
    """A code's feature values that do not depend on the note."""

    category: CodeKey
    family: CodeKey
    described: tuple[str, ...]  # its description's content stems
    row: npt.NDArray[np.float32]  # a row holding only them (FEATURES order), read-only


class CodeConstants:
    """Per code, the feature values that depend only on the training priors and the catalog,
    made once and kept: a note has hundreds of candidates, most of them met before (the
    same kNN and hierarchy codes come back note after note), and making these values was
    a third of the cost of a row."""

    def __init__(self, priors: CodePriors, facts: CodeFacts, size: int = 100_000) -> None:
        self.priors = priors
        self.facts = facts
        self.of = functools.lru_cache(maxsize=size)(self._fixed)

    def _fixed(self, key: CodeKey) -> _Fixed:
        priors = self.priors
        code_category, code_family = category(key), family(key)
        values = [0.0] * len(FEATURES)
        values[_FAMILY_TRAIN_NOTES] = math.log1p(priors.family_notes[code_family])
        values[_TRAIN_NOTES] = math.log1p(priors.notes[key])
        values[_CATEGORY_TRAIN_NOTES] = math.log1p(priors.category_notes[code_category])
        values[_BILLABLE] = float(self.facts.billable(key))
        values[_CODE_LENGTH] = len(key[1].replace(".", ""))
        # HCPCS and CPT, like PCS, code what was done or supplied.
        values[_PROCEDURE] = float(key[0] != _ICD10CM)
        row = np.array(values, dtype=np.float32)
        row.flags.writeable = False
        return _Fixed(code_category, code_family, self.facts.description_stems(key), row)


def official_codes(mentions: Iterable[Mention]) -> set[CodeKey]:
    """Codes the official terms (exact or near) propose: what lexicon precision counts."""
    return {
        (c.system.value, c.code)
        for m in mentions
        for c in m.candidates
        if c.source is not CandidateSource.LEARNED
    }


def note_features(
    signals: NoteSignals,
    priors: CodePriors,
    facts: CodeFacts,
    systems: Collection[str],
    seen_in_category: Mapping[CodeKey, Sequence[CodeKey]] | None = None,
    constants: "CodeConstants | None" = None,
) -> tuple[list[CodeKey], npt.NDArray[np.float32]]:
    """Candidate codes of one note, sorted, and their feature rows (FEATURES order).

    `constants`: the note-independent values of `priors` and `facts`, kept across notes.
    """
    named = _mention_features(signals)
    hierarchy = _hierarchy_candidates(named, facts, seen_in_category or priors.seen_in_category())
    keys = sorted(
        k
        for k in set(named) | set(signals.knn) | set(signals.classifier) | set(hierarchy)
        if k[0] in systems
    )
    group_best: dict[CodeKey, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for key, row in named.items():
        for group in (category(key), family(key)):
            best = group_best[group]
            best[0] = max(best[0], row[_LEXICON_BEST], row[_NEAR_BEST], row[_COMPOSED_BEST])
            best[1] = max(best[1], row[_LEARNED_BEST])
    for key, score in signals.knn.items():
        best = group_best[family(key)]
        best[2] = max(best[2], score)
    fixed = [(constants or CodeConstants(priors, facts)).of(k) for k in keys]
    # Built by column over all candidates at once: a note has hundreds of them, and a
    # Python row per candidate cost more than the rest of ranking.
    matrix = (
        np.stack([f.row for f in fixed])
        if fixed
        else np.zeros((0, len(FEATURES)), dtype=np.float32)
    )
    mentioned = [i for i, key in enumerate(keys) if key in named]
    if mentioned:
        # The fixed values and the mention values fill different columns.
        matrix[mentioned] += np.array([named[keys[i]] for i in mentioned], dtype=np.float32)
    knn, classifier = signals.knn, signals.classifier
    category_count: Counter[CodeKey] = Counter(f.category for f in fixed)
    category_best = [group_best.get(f.category) for f in fixed]
    family_best = [group_best.get(f.family) for f in fixed]
    together = _cooccurrence(named, priors)
    note_stems = signals.note_stems
    found = [sum(1 for w in f.described if w in note_stems) for f in fixed]
    described = [len(f.described) for f in fixed]
    columns: dict[int, list[float] | float] = {
        _KNN: [knn.get(k, 0.0) for k in keys],
        _CLASSIFIER: [classifier.get(k, 0.0) for k in keys],
        _HEADING_DEFAULT: [hierarchy.get(k, 0.0) for k in keys],
        _HIERARCHY_ONLY: [
            float(k in hierarchy and not (k in named or k in knn or k in classifier)) for k in keys
        ],
        _CATEGORY_LEXICON_BEST: [b[0] if b else 0.0 for b in category_best],
        _CATEGORY_LEARNED_BEST: [b[1] if b else 0.0 for b in category_best],
        _CATEGORY_CANDIDATES: [category_count[f.category] for f in fixed],
        _FAMILY_LEXICON_BEST: [b[0] if b else 0.0 for b in family_best],
        _FAMILY_LEARNED_BEST: [b[1] if b else 0.0 for b in family_best],
        _FAMILY_KNN: [b[2] if b else 0.0 for b in family_best],
        _LEXICON_PRECISION: [priors.lexicon_precision(k) if k in named else 0.0 for k in keys],
        _DESCRIPTION_COVERAGE: [n / d if d else 0.0 for n, d in zip(found, described, strict=True)],
        _DESCRIPTION_MISSING: [d - n for n, d in zip(found, described, strict=True)],
        _SOURCES: [(k in named) + (k in knn) + (k in classifier) + (k in hierarchy) for k in keys],
        _NOTE_MENTIONS: math.log1p(len(signals.mentions)),
        _COOCCURRENCE: [together.get(k, 0.0) for k in keys],
    }
    for column, values in columns.items():
        matrix[:, column] = values
    return keys, matrix


def _mention_features(signals: NoteSignals) -> dict[CodeKey, list[float]]:
    """Per code named by a mention: a row (FEATURES order) of the best similarities, counts
    and assertions, zero elsewhere. Lists indexed by column: a note has thousands of
    mention candidates, and rows of named values cost twice as much."""
    named: dict[CodeKey, list[float]] = {}
    length = max(signals.note_length, 1)
    width = len(FEATURES)
    for mention in budget.checked(signals.mentions):
        assertion = mention.assertion
        assertion_column = _COLUMN[Assertion(assertion).value]
        in_diagnoses = mention.section in _DIAGNOSIS_SECTIONS
        position = mention.start / length
        # The weight depends on the code only for family evidence (family history codes).
        weights: dict[CodeSystem, float] = {}
        for candidate in mention.candidates:
            system = candidate.system
            key = (SYSTEM_VALUE[system], candidate.code)
            row = named.get(key)
            if row is None:
                row = named[key] = [0.0] * width
                row[_FIRST_MENTION] = position
            if assertion is Assertion.FAMILY:
                weight = support_weight(assertion, system, candidate.code, None)
            else:
                weight = weights.get(system, -1.0)
                if weight < 0:
                    weight = weights[system] = support_weight(assertion, system, "", None)
            similarity = candidate.similarity
            supported = similarity * weight
            if candidate.source is CandidateSource.LEARNED:
                best, supported_column = _LEARNED_BEST, _LEARNED_SUPPORTED
                row[_LEARNED_MENTIONS] += 1
            else:
                best = _BEST_OF_SOURCE.get(candidate.source, _NEAR_BEST)
                supported_column = _LEXICON_SUPPORTED
                row[_LEXICON_MENTIONS] += 1
            if similarity > row[best]:
                row[best] = similarity
            if supported > row[supported_column]:
                row[supported_column] = supported
            row[assertion_column] += 1
            row[_DIAGNOSIS_SECTION] += in_diagnoses
    return named


def _strength(row: Sequence[float]) -> float:
    """How surely the note names a code: its best official or learned match."""
    return max(row[_LEXICON_BEST], row[_LEARNED_BEST])


def _cooccurrence(
    named: Mapping[CodeKey, Sequence[float]], priors: CodePriors
) -> dict[CodeKey, float]:
    """Per code, its best share of the training notes of a surely named code that also
    carried it (smoothed by one note)."""
    shares: dict[CodeKey, float] = {}
    for anchor, row in named.items():
        if _strength(row) < HIERARCHY_MIN_SIMILARITY:
            continue
        notes = priors.notes[anchor] + 1
        for partner, together in priors.partners.get(anchor, {}).items():
            shares[partner] = max(shares.get(partner, 0.0), together / notes)
    return shares


def _hierarchy_candidates(
    named: Mapping[CodeKey, Sequence[float]],
    facts: CodeFacts,
    seen_in_category: Mapping[CodeKey, Sequence[CodeKey]],
) -> dict[CodeKey, float]:
    """Codes around strongly named ones: a heading's default code and the billable codes
    beneath it, and the codes training notes carried in the same category. Value: the
    similarity of the heading that makes the code its default (0 for the others)."""
    found: dict[CodeKey, float] = {}
    for key, row in named.items():
        strength = _strength(row)
        if strength < HIERARCHY_MIN_SIMILARITY:
            continue
        default = facts.default_code(key)
        if default is not None:
            found[default] = max(found.get(default, 0.0), strength)
        for below in facts.billable_below(key):
            found.setdefault(below, 0.0)
        for sibling in seen_in_category.get(category(key), ()):
            found.setdefault(sibling, 0.0)
    return found

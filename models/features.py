"""Per-(note, code) features for the learned ranker, from every candidate source.

A note's candidates are the union of: codes its mentions name (official terms, near
matches and the model's learned phrases), codes of similar training notes (kNN), codes the
per-code classifiers score highest, and the code hierarchy around strong candidates (the
code a coder assigns for a heading that says no more, and codes seen in training in the
same category). Each candidate gets one feature row.
"""

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
_SYSTEM_VALUE = {system: system.value for system in CodeSystem}
_BEST_OF_SOURCE = {
    CandidateSource.LEXICON: "lexicon_best",
    CandidateSource.COMPOSED: "composed_best",
}
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
) -> tuple[list[CodeKey], npt.NDArray[np.float32]]:
    """Candidate codes of one note, sorted, and their feature rows (FEATURES order)."""
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
            best[0] = max(best[0], row["lexicon_best"], row["near_best"], row["composed_best"])
            best[1] = max(best[1], row["learned_best"])
    for key, score in signals.knn.items():
        best = group_best[family(key)]
        best[2] = max(best[2], score)
    category_count: Counter[CodeKey] = Counter(category(k) for k in keys)
    note_mentions = math.log1p(len(signals.mentions))
    together = _cooccurrence(named, priors)
    rows = []
    for key in keys:
        # One list per row, filled by column: a dict of every feature per candidate cost
        # more than the rest of ranking (a note has hundreds of candidates).
        values = [0.0] * len(FEATURES)
        mentioned = named.get(key) or {}
        for name, value in mentioned.items():
            values[_COLUMN[name]] = value
        in_knn, in_classifier = key in signals.knn, key in signals.classifier
        described = facts.description_stems(key)
        found = sum(1 for w in described if w in signals.note_stems)
        code_category, code_family = category(key), family(key)
        category_best, family_best = group_best.get(code_category), group_best.get(code_family)
        values[_KNN] = signals.knn.get(key, 0.0)
        values[_CLASSIFIER] = signals.classifier.get(key, 0.0)
        values[_HEADING_DEFAULT] = hierarchy.get(key, 0.0)
        values[_HIERARCHY_ONLY] = float(
            key in hierarchy and not (mentioned or in_knn or in_classifier)
        )
        if category_best is not None:
            values[_CATEGORY_LEXICON_BEST] = category_best[0]
            values[_CATEGORY_LEARNED_BEST] = category_best[1]
        values[_CATEGORY_CANDIDATES] = category_count[code_category]
        if family_best is not None:
            values[_FAMILY_LEXICON_BEST] = family_best[0]
            values[_FAMILY_LEARNED_BEST] = family_best[1]
            values[_FAMILY_KNN] = family_best[2]
        values[_FAMILY_TRAIN_NOTES] = math.log1p(priors.family_notes[code_family])
        values[_TRAIN_NOTES] = math.log1p(priors.notes[key])
        values[_CATEGORY_TRAIN_NOTES] = math.log1p(priors.category_notes[code_category])
        values[_LEXICON_PRECISION] = priors.lexicon_precision(key) if mentioned else 0.0
        values[_DESCRIPTION_COVERAGE] = found / len(described) if described else 0.0
        values[_DESCRIPTION_MISSING] = len(described) - found
        values[_BILLABLE] = float(facts.billable(key))
        values[_CODE_LENGTH] = len(key[1].replace(".", ""))
        # HCPCS and CPT, like PCS, code what was done or supplied.
        values[_PROCEDURE] = float(key[0] != _ICD10CM)
        values[_SOURCES] = sum((bool(mentioned), in_knn, in_classifier, key in hierarchy))
        values[_NOTE_MENTIONS] = note_mentions
        values[_COOCCURRENCE] = together.get(key, 0.0)
        rows.append(values)
    matrix = np.array(rows, dtype=np.float32).reshape(len(keys), len(FEATURES))
    return keys, matrix


def _mention_features(signals: NoteSignals) -> dict[CodeKey, dict[str, float]]:
    """Per code named by a mention: the best similarities, counts and assertions."""
    named: dict[CodeKey, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    length = max(signals.note_length, 1)
    for mention in budget.checked(signals.mentions):
        assertion = mention.assertion
        assertion_column = Assertion(assertion).value
        in_diagnoses = mention.section in _DIAGNOSIS_SECTIONS
        position = mention.start / length
        for candidate in mention.candidates:
            system = candidate.system
            key = (_SYSTEM_VALUE[system], candidate.code)
            row = named[key]
            weight = support_weight(assertion, system, candidate.code, None)
            similarity = candidate.similarity
            source = candidate.source
            if source is CandidateSource.LEARNED:
                row["learned_best"] = max(row["learned_best"], similarity)
                row["learned_supported"] = max(row["learned_supported"], similarity * weight)
                row["learned_mentions"] += 1
            else:
                best = _BEST_OF_SOURCE.get(source, "near_best")
                row[best] = max(row[best], similarity)
                row["lexicon_supported"] = max(row["lexicon_supported"], similarity * weight)
                row["lexicon_mentions"] += 1
            row[assertion_column] += 1
            row["diagnosis_section"] += in_diagnoses
            if "first_mention" not in row:
                row["first_mention"] = position
    return named


def _cooccurrence(
    named: Mapping[CodeKey, Mapping[str, float]], priors: CodePriors
) -> dict[CodeKey, float]:
    """Per code, its best share of the training notes of a surely named code that also
    carried it (smoothed by one note)."""
    shares: dict[CodeKey, float] = {}
    for anchor, row in named.items():
        if (
            max(row.get("lexicon_best", 0.0), row.get("learned_best", 0.0))
            < HIERARCHY_MIN_SIMILARITY
        ):
            continue
        notes = priors.notes[anchor] + 1
        for partner, together in priors.partners.get(anchor, {}).items():
            shares[partner] = max(shares.get(partner, 0.0), together / notes)
    return shares


def _hierarchy_candidates(
    named: Mapping[CodeKey, Mapping[str, float]],
    facts: CodeFacts,
    seen_in_category: Mapping[CodeKey, Sequence[CodeKey]],
) -> dict[CodeKey, float]:
    """Codes around strongly named ones: a heading's default code and the billable codes
    beneath it, and the codes training notes carried in the same category. Value: the
    similarity of the heading that makes the code its default (0 for the others)."""
    found: dict[CodeKey, float] = {}
    for key, row in named.items():
        strength = max(row.get("lexicon_best", 0.0), row.get("learned_best", 0.0))
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

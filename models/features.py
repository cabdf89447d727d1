"""Per-(note, code) features for the learned ranker, from every candidate source.

A note's candidates are the union of: codes its mentions name (lexicon and near
matches), codes mined-evidence phrases name, codes of similar training notes (kNN) and
codes the per-code classifiers score highest. Each candidate gets one feature row.
"""

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from codes.systems import CodeSystem
from models.guidelines import support_weight
from nlp.mentions import Assertion, Mention

CodeKey = tuple[str, str]  # (system, code)

FEATURES = (
    "lexicon_best",  # best similarity of a lexicon mention naming the code
    "lexicon_supported",  # the same, weighed by what its assertion allows
    "lexicon_mentions",
    "present",
    "negated",
    "possible",
    "historical",
    "family",
    "hypothetical",
    "diagnosis_section",  # mentions in assessment / diagnoses sections
    "evidence_best",  # best weight x quality of a mined evidence phrase
    "evidence_phrases",
    "knn",
    "classifier",
    "category_lexicon_best",  # best lexicon similarity of any code in the same category
    "category_candidates",
    "train_notes",  # log(1 + notes coded with it in training)
    "category_train_notes",
    "lexicon_precision",  # how often a lexicon proposal of this code was right in training
    "billable",
    "code_length",
    "procedure",
    "sources",
)
_DIAGNOSIS_SECTIONS = frozenset(
    {"assessment_and_plan", "diagnoses", "discharge_diagnoses", "impression"}
)
_ASSERTION_FEATURE = {a: a.value for a in Assertion}


@dataclass
class CodePriors:
    """What training notes say about each code, independent of the note at hand."""

    notes: Counter[CodeKey] = field(default_factory=Counter)
    category_notes: Counter[CodeKey] = field(default_factory=Counter)
    lexicon_hits: Counter[CodeKey] = field(default_factory=Counter)
    lexicon_proposals: Counter[CodeKey] = field(default_factory=Counter)

    @classmethod
    def fit(
        cls, labels: Sequence[Collection[CodeKey]], proposals: Sequence[Collection[CodeKey]]
    ) -> "CodePriors":
        priors = cls()
        for gold, proposed in zip(labels, proposals, strict=True):
            priors.notes.update(gold)
            priors.category_notes.update({category(k) for k in gold})
            priors.lexicon_proposals.update(proposed)
            priors.lexicon_hits.update(k for k in proposed if k in gold)
        return priors

    def lexicon_precision(self, key: CodeKey) -> float:
        # Smoothed towards 0.1, about the share of proposals that are right overall.
        return (self.lexicon_hits[key] + 0.1) / (self.lexicon_proposals[key] + 1.0)


def category(key: CodeKey) -> CodeKey:
    return (key[0], key[1][:3])


@dataclass(frozen=True)
class NoteSignals:
    """Everything known about one note before ranking."""

    mentions: Sequence[Mention]
    evidence: Mapping[CodeKey, tuple[float, int]]  # best score, phrase count
    knn: Mapping[CodeKey, float]
    classifier: Mapping[CodeKey, float]


def lexicon_codes(mentions: Sequence[Mention]) -> set[CodeKey]:
    return {(c.system.value, c.code) for m in mentions for c in m.candidates}


def note_features(
    signals: NoteSignals,
    priors: CodePriors,
    billable: Callable[[CodeKey], bool],
    systems: Collection[str],
) -> tuple[list[CodeKey], npt.NDArray[np.float32]]:
    """Candidate codes of one note, sorted, and their feature rows (FEATURES order)."""
    lexicon: dict[CodeKey, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for mention in signals.mentions:
        for candidate in mention.candidates:
            key = (candidate.system.value, candidate.code)
            row = lexicon[key]
            weight = support_weight(mention.assertion, candidate.system, candidate.code, None)
            row["lexicon_best"] = max(row["lexicon_best"], candidate.similarity)
            row["lexicon_supported"] = max(row["lexicon_supported"], candidate.similarity * weight)
            row["lexicon_mentions"] += 1
            row[_ASSERTION_FEATURE[mention.assertion]] += 1
            row["diagnosis_section"] += mention.section in _DIAGNOSIS_SECTIONS
    keys = sorted(
        k
        for k in set(lexicon) | set(signals.evidence) | set(signals.knn) | set(signals.classifier)
        if k[0] in systems
    )
    category_best: dict[CodeKey, float] = defaultdict(float)
    category_count: Counter[CodeKey] = Counter(category(k) for k in keys)
    for key, row in lexicon.items():
        category_best[category(key)] = max(category_best[category(key)], row["lexicon_best"])
    matrix = np.zeros((len(keys), len(FEATURES)), dtype=np.float32)
    for i, key in enumerate(keys):
        row = lexicon.get(key, {})
        evidence_best, evidence_count = signals.evidence.get(key, (0.0, 0))
        values = {
            **row,
            "evidence_best": evidence_best,
            "evidence_phrases": evidence_count,
            "knn": signals.knn.get(key, 0.0),
            "classifier": signals.classifier.get(key, 0.0),
            "category_lexicon_best": category_best[category(key)],
            "category_candidates": category_count[category(key)],
            "train_notes": math.log1p(priors.notes[key]),
            "category_train_notes": math.log1p(priors.category_notes[category(key)]),
            "lexicon_precision": priors.lexicon_precision(key) if key in lexicon else 0.0,
            "billable": float(billable(key)),
            "code_length": len(key[1].replace(".", "")),
            "procedure": float(key[0] == CodeSystem.ICD10PCS.value),
            "sources": sum(
                (
                    key in lexicon,
                    key in signals.evidence,
                    key in signals.knn,
                    key in signals.classifier,
                )
            ),
        }
        matrix[i] = [values.get(name, 0.0) for name in FEATURES]
    return keys, matrix

"""Train the learned ranker on out-of-fold candidate features.

Every learned candidate source (evidence phrases, kNN, per-code classifiers, code
priors) is fitted on the other folds before it scores a fold's notes, so the ranker
learns from features as noisy as the ones it meets on new notes.
"""

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.ensemble import HistGradientBoostingClassifier

from codes.text import fold
from models.features import (
    CodeKey,
    CodePriors,
    NoteSignals,
    lexicon_codes,
    note_features,
)
from models.text_sources import CodeClassifierSource, KnnCodeSource, NoteVectorizer
from nlp.evidence_phrases import EvidenceRow, mine_evidence_aliases
from nlp.mentions import Mention
from nlp.pipeline import NoteReader
from nlp.term_matcher import TermMatcher
from nlp.tokens import Token
from training.encounters import Encounter

logger = logging.getLogger(__name__)

SYSTEMS = ("icd10cm", "icd10pcs")


@dataclass(frozen=True)
class PreparedNote:
    """A labelled note read once: mentions, sentence tokens, gold codes."""

    encounter: Encounter
    mentions: Sequence[Mention]
    sentences: Sequence[Sequence[Token]]
    gold: frozenset[CodeKey]


def prepare(encounters: Sequence[Encounter], reader: NoteReader) -> list[PreparedNote]:
    prepared = []
    for encounter in encounters:
        doc = reader.document(encounter.text)
        sentences = [
            [Token(t.idx, t.idx + len(t.text), t.text, fold(t.text)) for t in sentence]
            for sentence in doc.sents
        ]
        prepared.append(
            PreparedNote(
                encounter,
                reader.read(encounter.text),
                sentences,
                frozenset((c.system.value, c.code) for c in encounter.codes),
            )
        )
    return prepared


class SignalModel:
    """The learned sources, fitted on training notes, producing NoteSignals for any note."""

    def __init__(self, knn_k: int = 40, classifier_top: int = 30) -> None:
        self.knn_k = knn_k
        self.classifier_top = classifier_top

    def fit(self, notes: Sequence[PreparedNote]) -> "SignalModel":
        texts = [n.encounter.text for n in notes]
        self.vectorizer_ = NoteVectorizer().fit(texts)
        vectors = self.vectorizer_.transform(texts)
        self.knn_: dict[str, KnnCodeSource] = {}
        self.classifiers_: dict[str, CodeClassifierSource] = {}
        for system in SYSTEMS:
            labels = [{k for k in n.gold if k[0] == system} for n in notes]
            self.knn_[system] = KnnCodeSource(k=self.knn_k).fit(vectors, labels)
            self.classifiers_[system] = CodeClassifierSource(top=self.classifier_top).fit(
                vectors, labels
            )
        self.priors_ = CodePriors.fit(
            [n.gold for n in notes], [lexicon_codes(n.mentions) for n in notes]
        )
        rows = [
            EvidenceRow(n.encounter.id, code.system, code.code, sentence)
            for n in notes
            for code, sentence in n.encounter.evidence
        ]
        aliases = mine_evidence_aliases(
            rows,
            {n.encounter.id: n.encounter.text for n in notes},
            min_support=1,
            min_precision=0.1,
        )
        self.evidence_ = TermMatcher.from_aliases(aliases)
        return self

    def signals(self, notes: Sequence[PreparedNote]) -> list[NoteSignals]:
        vectors = self.vectorizer_.transform([n.encounter.text for n in notes])
        knn: list[dict[CodeKey, float]] = [{} for _ in notes]
        classifier: list[dict[CodeKey, float]] = [{} for _ in notes]
        for system in SYSTEMS:
            for i, scores in enumerate(self.knn_[system].scores(vectors)):
                knn[i].update(scores)
            for i, scores in enumerate(self.classifiers_[system].scores(vectors)):
                classifier[i].update(scores)
        return [
            NoteSignals(n.mentions, self._evidence(n), knn[i], classifier[i])
            for i, n in enumerate(notes)
        ]

    def _evidence(self, note: PreparedNote) -> dict[CodeKey, tuple[float, int]]:
        found: dict[CodeKey, tuple[float, int]] = {}
        for tokens in note.sentences:
            for match in self.evidence_.match(tokens):
                for alias in match.phrase.aliases:
                    key = (alias.system.value, alias.code)
                    best, count = found.get(key, (0.0, 0))
                    found[key] = (max(best, match.quality * alias.weight), count + 1)
        return found


@dataclass(frozen=True)
class FeatureRows:
    keys: list[tuple[int, CodeKey]]  # (note index, code)
    matrix: npt.NDArray[np.float32]
    labels: npt.NDArray[np.int8]


def feature_rows(
    notes: Sequence[PreparedNote],
    signals: Sequence[NoteSignals],
    priors: CodePriors,
    billable: Callable[[CodeKey], bool],
    offset: int = 0,
) -> FeatureRows:
    keys: list[tuple[int, CodeKey]] = []
    blocks = []
    labels: list[int] = []
    for i, (note, signal) in enumerate(zip(notes, signals, strict=True)):
        codes, matrix = note_features(signal, priors, billable, SYSTEMS)
        keys += [(offset + i, code) for code in codes]
        labels += [int(code in note.gold) for code in codes]
        blocks.append(matrix)
    matrix = np.vstack(blocks) if blocks else np.zeros((0, 0), dtype=np.float32)
    return FeatureRows(keys, matrix, np.array(labels, dtype=np.int8))


def out_of_fold_rows(
    notes: Sequence[PreparedNote], billable: Callable[[CodeKey], bool], folds: int, seed: int
) -> FeatureRows:
    order = np.random.default_rng(seed).permutation(len(notes))
    parts = [sorted(order[k::folds].tolist()) for k in range(folds)]
    keys: list[tuple[int, CodeKey]] = []
    matrices, labels = [], []
    for k, held_out in enumerate(parts):
        held = set(held_out)
        train = [notes[i] for i in range(len(notes)) if i not in held]
        test = [notes[i] for i in held_out]
        model = SignalModel().fit(train)
        rows = feature_rows(test, model.signals(test), model.priors_, billable)
        keys += [(held_out[i], code) for i, code in rows.keys]
        matrices.append(rows.matrix)
        labels.append(rows.labels)
        logger.info("fold %d/%d: %d candidate rows", k + 1, folds, len(rows.keys))
    return FeatureRows(keys, np.vstack(matrices), np.concatenate(labels))


def fit_ranker(rows: FeatureRows, seed: int) -> HistGradientBoostingClassifier:
    ranker = HistGradientBoostingClassifier(
        max_iter=300, learning_rate=0.05, l2_regularization=1.0, random_state=seed
    )
    return ranker.fit(rows.matrix, rows.labels)

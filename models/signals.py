"""The learned candidate sources of a model, fitted on labelled notes.

A `SignalModel` holds what a model learns from training notes besides the ranker itself:
the note vectorizer, kNN and per-code classifiers per code system, and the code priors.
(The learned evidence phrases are matched inside the note reader: see `RankerModel`.)
Everything here works on plain data, so training and serving share it.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.features import CodeKey, CodePriors, NoteSignals, official_codes
from models.text_sources import CodeClassifierSource, KnnCodeSource, NoteVectorizer
from nlp.mentions import Mention
from nlp.terms import content_stems

PRIORS_FILE = "priors.json"


@dataclass(frozen=True)
class LabelledNote:
    """A note read by the note reader, with the codes a coder assigned."""

    text: str
    mentions: Sequence[Mention]
    gold: frozenset[CodeKey]


@dataclass(frozen=True)
class SignalParameters:
    knn_k: int = 40
    classifier_top: int = 30
    classifier_min_notes: int = 3


class SignalModel:
    """kNN, per-code classifiers and priors; `signals` turns read notes into NoteSignals."""

    def __init__(self, systems: Sequence[str], parameters: SignalParameters) -> None:
        self.systems = tuple(systems)
        self.parameters = parameters

    def fit(self, notes: Sequence[LabelledNote]) -> "SignalModel":
        texts = [n.text for n in notes]
        self.vectorizer_ = NoteVectorizer().fit(texts)
        vectors = self.vectorizer_.transform(texts)
        self.knn_: dict[str, KnnCodeSource] = {}
        self.classifiers_: dict[str, CodeClassifierSource] = {}
        for system in self.systems:
            labels = [{k for k in n.gold if k[0] == system} for n in notes]
            self.knn_[system] = KnnCodeSource(k=self.parameters.knn_k).fit(vectors, labels)
            self.classifiers_[system] = CodeClassifierSource(
                min_notes=self.parameters.classifier_min_notes, top=self.parameters.classifier_top
            ).fit(vectors, labels)
        self.priors_ = CodePriors.fit(
            [n.gold for n in notes], [official_codes(n.mentions) for n in notes]
        )
        self.seen_in_category_ = self.priors_.seen_in_category()
        return self

    def signals(
        self, texts: Sequence[str], mentions: Sequence[Sequence[Mention]]
    ) -> list[NoteSignals]:
        vectors = self.vectorizer_.transform(list(texts))
        knn: list[dict[CodeKey, float]] = [{} for _ in texts]
        classifier: list[dict[CodeKey, float]] = [{} for _ in texts]
        for system in self.systems:
            for i, scores in enumerate(self.knn_[system].scores(vectors)):
                knn[i].update(scores)
            for i, scores in enumerate(self.classifiers_[system].scores(vectors)):
                classifier[i].update(scores)
        return [
            NoteSignals(
                found, knn[i], classifier[i], len(text), frozenset(content_stems(text, False))
            )
            for i, (text, found) in enumerate(zip(texts, mentions, strict=True))
        ]

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.vectorizer_.save(folder / "vectorizer")
        for system in self.systems:
            self.knn_[system].save(folder / f"knn-{system}")
            self.classifiers_[system].save(folder / f"classifier-{system}")
        (folder / PRIORS_FILE).write_text(json.dumps(self.priors_.to_json()), encoding="utf-8")

    @classmethod
    def load(
        cls, folder: Path, systems: Sequence[str], parameters: SignalParameters
    ) -> "SignalModel":
        model = cls(systems, parameters)
        model.vectorizer_ = NoteVectorizer.load(folder / "vectorizer")
        model.knn_ = {s: KnnCodeSource.load(folder / f"knn-{s}") for s in systems}
        model.classifiers_ = {
            s: CodeClassifierSource.load(folder / f"classifier-{s}") for s in systems
        }
        data: Mapping[str, Any] = json.loads((folder / PRIORS_FILE).read_text(encoding="utf-8"))
        model.priors_ = CodePriors.from_json(data)
        model.seen_in_category_ = model.priors_.seen_in_category()
        return model

"""The served model: learned phrases, learned sources, a gradient-boosted ranker and the
decision rules per code system, loaded from one artifact folder.

    note -> reader (lexicon + this model's learned phrases) -> mentions
         -> candidates from mentions, kNN, classifiers, hierarchy -> feature rows
         -> ranker probability per candidate -> per system: gate, order, recommended

Files in the artifact folder (besides the store's metadata.json):
    model.json        format, systems, parameters, decisions, feature names
    phrases/          the learned evidence phrases (lexicon format)
    signals/          vectorizer, kNN and classifiers per system, priors
    ranker/           the gradient-boosted trees as arrays (models/tree_ensemble.py)
"""

import functools
import json
import shutil
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from codes.catalog import Catalog
from codes.errors import MedcodeError
from codes.folders import read_built_json
from codes.systems import CodeSystem
from models.artifacts import ArtifactInfo, ArtifactStore
from models.evidence import note_evidence
from models.features import FEATURES, CodeConstants, CodeFacts, CodeKey, note_features
from models.signals import SignalModel, SignalParameters
from models.suggestions import RankedCode
from models.tree_ensemble import TreeEnsemble
from nlp.aliases import Alias
from nlp.lexicon import TERMS_FILE, load_lexicon, load_terms, save_lexicon
from nlp.mentions import Mention
from nlp.pipeline import NoteReader
from nlp.term_matcher import TermMatcher
from nlp.terms import content_stems

KIND = "medcode-ranker"
FORMAT_VERSION = 1
MODEL_FILE = "model.json"
RETRAIN = "train a model with `medcode train`"
PHRASES_FOLDER = "phrases"
SIGNALS_FOLDER = "signals"
RANKER_FOLDER = "ranker"
# Levels whose names are too broad to tell what a span is about ("Diseases of the
# circulatory system", "Imaging").
_NAMELESS_LEVELS = frozenset({"chapter", "block", "section"})
# A heading proposes at most this many billable codes beneath it, nearest levels first.
MAX_CODES_BELOW = 40
# Scores are rounded so that the same note gives byte-identical answers everywhere.
SCORE_DIGITS = 6
# Codes scoring below this are not ranked for the conventions nor served. A note has some
# 600 candidates and most score far below it (kNN codes of similar notes that nothing in
# this note names); judging each cost about an eighth of a request. On CodiEsp dev (model
# trained on train) MAP and F1 are the same to three decimals with or without it; at
# 0.003 ICD-10-CM MAP fell by 0.001.
SERVED_FLOOR = 0.001


class ModelFileError(MedcodeError):
    """A model folder whose files cannot be read as this kind of model."""

    status_code = 422
    error = "incompatible_artifact"


@dataclass(frozen=True)
class Decision:
    """How a system's ranked codes become an answer.

    threshold: a code is recommended when its score reaches it (tuned for micro F1).
    gate: a note whose best code of the system scores below it gets no codes of that system:
        a note without a procedure should get no procedure suggestions at all.
    billable_only: only billable codes are recommended. Learned from the training data:
        true when its coders (nearly) always assigned complete codes; false when they also
        assigned headings (CodiEsp's procedure coders did so for half of their codes).
    """

    threshold: float
    gate: float
    billable_only: bool = True


def catalog_facts(catalog: Catalog) -> CodeFacts:
    def billable(key: CodeKey) -> bool:
        summary = catalog.get(CodeSystem(key[0]), key[1])
        return summary is not None and summary.billable

    @functools.lru_cache(maxsize=100_000)
    def default_code(key: CodeKey) -> CodeKey | None:
        code = catalog.default_code(CodeSystem(key[0]), key[1])
        return None if code is None else (key[0], code)

    @functools.lru_cache(maxsize=100_000)
    def description_stems(key: CodeKey) -> tuple[str, ...]:
        summary = catalog.get(CodeSystem(key[0]), key[1])
        return () if summary is None else content_stems(summary.description)

    @functools.lru_cache(maxsize=100_000)
    def billable_below(key: CodeKey) -> tuple[CodeKey, ...]:
        system = CodeSystem(key[0])
        found: list[CodeKey] = []
        level = [key[1]]
        while level and len(found) < MAX_CODES_BELOW:
            summaries = [c for code in level for c in catalog.children(system, code)]
            found += [(key[0], c.code) for c in summaries if c.billable]
            level = [c.code for c in summaries if not c.billable]
        return tuple(found[:MAX_CODES_BELOW])

    @functools.lru_cache(maxsize=100_000)
    def vocabulary(key: CodeKey) -> frozenset[str]:
        system = CodeSystem(key[0])
        stems: set[str] = set()
        for code in [key[1], *(a.code for a in catalog.ancestors(system, key[1]))]:
            summary = catalog.get(system, code)
            if summary is None or summary.kind in _NAMELESS_LEVELS:
                break
            record = catalog.record(system, code)
            for name in (record.description, *record.terms):
                stems.update(content_stems(name))
        return frozenset(stems)

    return CodeFacts(billable, default_code, description_stems, billable_below, vocabulary)


class RankerModel:
    def __init__(
        self,
        systems: Sequence[str],
        learned_aliases: Sequence[Alias],
        signals: SignalModel,
        ranker: TreeEnsemble,
        decisions: Mapping[str, Decision],
        parameters: Mapping[str, Any],
        saved_phrases: tuple[TermMatcher, Path] | None = None,
    ) -> None:
        """`saved_phrases`: the learned phrases' matcher as a model folder saved them, and
        that folder (then `learned_aliases` is empty: saving copies the folder)."""
        self.systems = tuple(systems)
        self.learned_aliases = list(learned_aliases)
        if saved_phrases is None:
            self.learned = TermMatcher.from_aliases(self.learned_aliases)
            self._phrases_folder: Path | None = None
        else:
            self.learned, self._phrases_folder = saved_phrases
        self.signals = signals
        self.ranker = ranker
        self.decisions = dict(decisions)
        self.parameters = dict(parameters)
        # The codes' note-independent feature values, for the catalog last asked about (a
        # service has one catalog).
        self._constants: CodeConstants | None = None

    # ---- scoring ---------------------------------------------------------------------------

    def read(self, reader: NoteReader, text: str) -> list[Mention]:
        return reader.read(text, self.learned)

    def score(
        self,
        texts: Sequence[str],
        mentions: Sequence[Sequence[Mention]],
        facts: CodeFacts,
        systems: Collection[str] | None = None,
    ) -> list[list[tuple[CodeKey, float]]]:
        """Per note, every candidate code of `systems` (default: the model's) with its
        score, best first (ties by code).

        A system the model was not trained on (HCPCS and CPT, when the training encounters
        carry none) is scored from its dictionary evidence like the others, with no gate
        and no threshold: its codes are ranked but never recommended.
        """
        wanted = self.systems if systems is None else tuple(systems)
        signals = self.signals.signals(texts, mentions)
        ranked = []
        for signal in signals:
            keys, matrix = note_features(
                signal,
                self.signals.priors_,
                facts,
                wanted,
                self.signals.seen_in_category_,
                self._constants_of(facts),
            )
            scores = self.probabilities(matrix)
            scored = [
                (key, round(float(s), SCORE_DIGITS)) for key, s in zip(keys, scores, strict=True)
            ]
            ranked.append(self._gated(sorted(scored, key=lambda item: (-item[1], item[0]))))
        return ranked

    def _constants_of(self, facts: CodeFacts) -> CodeConstants:
        kept = self._constants
        if kept is None or kept.facts is not facts:
            # Threads racing here each make an equal one; the last kept wins.
            kept = self._constants = CodeConstants(self.signals.priors_, facts)
        return kept

    def probabilities(self, matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        if not len(matrix):
            return np.zeros(0)
        return self.ranker.probabilities(matrix)

    def _gated(self, scored: list[tuple[CodeKey, float]]) -> list[tuple[CodeKey, float]]:
        best: dict[str, float] = {}
        for key, score in scored:
            best[key[0]] = max(best.get(key[0], 0.0), score)
        open_systems = {
            s for s, top in best.items() if s not in self.decisions or top >= self.decisions[s].gate
        }
        return [(key, score) for key, score in scored if key[0] in open_systems]

    def above_threshold(self, key: CodeKey, score: float) -> bool:
        """The model's own decision: its system's threshold (the gate is already applied)."""
        decision = self.decisions.get(key[0])
        if decision is None:  # not trained on this system: nothing learned to decide by
            return False
        return score >= decision.threshold

    def rank(
        self,
        text: str,
        mentions: Sequence[Mention],
        facts: CodeFacts,
        systems: Collection[str],
    ) -> list[RankedCode]:
        """Every candidate code of the wanted systems scoring at least SERVED_FLOOR, best
        first, with its evidence.

        `facts`: `catalog_facts(catalog)`, made once per catalog (it caches lookups).
        """
        spans = note_evidence(mentions, facts, self.signals.priors_.partners)
        ranked = []
        for key, score in self.score([text], [mentions], facts, sorted(systems))[0]:
            if score < SERVED_FLOOR:
                break  # best first: the rest score lower still
            evidence, named = spans.evidence(key)
            ranked.append(
                RankedCode(
                    system=CodeSystem(key[0]),
                    code=key[1],
                    score=score,
                    above_threshold=self.above_threshold(key, score),
                    evidence=evidence,
                    related=() if evidence else spans.related(key),
                    named=named,
                    composed=spans.composed.get(key, 0.0),
                )
            )
        return ranked

    # ---- files -----------------------------------------------------------------------------

    def save(self, folder: Path) -> dict[str, Any]:
        """Write the model files; returns what the artifact metadata should say of them."""
        if self._phrases_folder is None:
            save_lexicon(folder / PHRASES_FOLDER, self.learned_aliases, {"source": "learned"})
        else:
            shutil.copytree(self._phrases_folder, folder / PHRASES_FOLDER)
        self.signals.save(folder / SIGNALS_FOLDER)
        (folder / RANKER_FOLDER).mkdir()
        self.ranker.save(folder / RANKER_FOLDER)
        description = {
            "format": FORMAT_VERSION,
            "systems": list(self.systems),
            "features": list(FEATURES),
            "decisions": {s: asdict(d) for s, d in sorted(self.decisions.items())},
            "parameters": self.parameters,
        }
        (folder / MODEL_FILE).write_text(json.dumps(description, indent=2), encoding="utf-8")
        saved = self._phrases_folder is not None
        count = self.learned.alias_count if saved else len(self.learned_aliases)
        return {"systems": list(self.systems), "learned_phrases": count}

    @classmethod
    def load(cls, folder: Path) -> "RankerModel":
        description = read_built_json(
            folder / MODEL_FILE, "model", FORMAT_VERSION, ModelFileError, RETRAIN
        )
        if description.get("features") != list(FEATURES):
            raise ModelFileError(
                f"{folder} was trained on other features than this medcode computes:"
                f" {RETRAIN} again"
            )
        systems = description["systems"]
        parameters = description["parameters"]
        aliases, saved = _learned_phrases(folder / PHRASES_FOLDER)
        signals = SignalModel.load(
            folder / SIGNALS_FOLDER, systems, SignalParameters(**parameters["signals"])
        )
        decisions = {s: Decision(**d) for s, d in description["decisions"].items()}
        return cls(
            systems,
            aliases,
            signals,
            TreeEnsemble.load(folder / RANKER_FOLDER),
            decisions,
            parameters,
            saved,
        )


def _learned_phrases(folder: Path) -> tuple[list[Alias], tuple[TermMatcher, Path] | None]:
    """A model's learned phrases: the matcher's saved index where the folder has one (models
    saved since it was added), read as it is: a model holds some 150,000 learned aliases,
    which took a second and 300,000 long-lived objects to read and group. Else the aliases,
    grouped anew."""
    if (folder / TERMS_FILE).is_file():
        return [], (load_terms(folder)[0], folder)
    phrases, _ = load_lexicon(folder)
    return [alias for phrase in phrases for alias in phrase.aliases], None


def load_artifact(store: ArtifactStore, version: str) -> tuple[ArtifactInfo, RankerModel]:
    """A verified artifact of this model kind and format, loaded; refuses anything else
    with an error that says what is wrong and what to do."""
    info = store.verify(version, kind=KIND, format_version=FORMAT_VERSION)
    return info, RankerModel.load(info.path)

"""The note-text candidate sources on CodiEsp: fit on train (500 notes), score dev (250).

Reports fit times, scoring time per note (one note per call, as the service scores), the
saved size, and per source and code system: candidate recall (share of dev gold
(case, code) pairs among the source's codes) and MAP of ranking by the source's own score
(mean over dev cases with gold codes of that system). The quick experiment measured kNN
top 40: diagnoses recall 0.378 / MAP 0.167; logistic regression top 30: 0.366 / 0.184;
procedure recall 0.548 (kNN) and 0.540 (logistic regression). Run with `make bench-all`.
"""

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest
from scipy.sparse import csr_matrix

from codes.systems import CodeSystem
from models.text_sources import CodeClassifierSource, CodeKey, KnnCodeSource, NoteVectorizer
from training.encounters import CodiEspSource

pytestmark = pytest.mark.bench

SYSTEMS = (CodeSystem.ICD10CM, CodeSystem.ICD10PCS)
Scores = list[dict[CodeKey, float]]


def average_precision(ranked: Sequence[CodeKey], gold: set[CodeKey]) -> float:
    hits, total = 0, 0.0
    for rank, code in enumerate(ranked, 1):
        if code in gold:
            hits += 1
            total += hits / rank
    return total / len(gold)


def recall_and_map(
    scores: Scores, cases: Sequence[str], gold: Mapping[str, set[CodeKey]], top: int | None
) -> tuple[float, float]:
    found = total = 0
    precisions = []
    for case, note in zip(cases, scores, strict=True):
        wanted = gold.get(case, set())
        if not wanted:
            continue
        ranked = list(note)[:top]
        found += len(wanted & set(ranked))
        total += len(wanted)
        precisions.append(average_precision(ranked, wanted))
    return found / total, statistics.mean(precisions)


def ms_per_note(score: Callable[[csr_matrix], Scores], vectors: csr_matrix) -> float:
    rows = [vectors[i] for i in range(vectors.shape[0])]
    started = time.perf_counter()
    for row in rows:
        score(row)
    return (time.perf_counter() - started) / len(rows) * 1000


def notes_and_gold(codiesp: Path, split: str) -> tuple[dict[str, str], dict[str, set[CodeKey]]]:
    """case id -> note text and -> gold codes; every well-formed code is kept (no catalog)."""
    encounters = CodiEspSource(codiesp, [split]).read(lambda system, code: True).encounters
    notes = {e.id: e.text for e in encounters}
    gold = {e.id: {(c.system.value, c.code) for c in e.codes} for e in encounters}
    return notes, gold


def folder_mb(folder: Path) -> float:
    return sum(path.stat().st_size for path in folder.iterdir()) / 1e6


def test_text_sources_on_codiesp_dev(data_dir: Path, tmp_path: Path) -> None:
    codiesp = data_dir / "codiesp"
    if not (codiesp / "train").is_dir() or not (codiesp / "dev").is_dir():
        pytest.skip("no CodiEsp train/dev in the data folder")
    train_notes, train_gold = notes_and_gold(codiesp, "train")
    dev_notes, dev_gold = notes_and_gold(codiesp, "dev")
    train_cases, dev_cases = sorted(train_notes), sorted(dev_notes)

    started = time.perf_counter()
    vectorizer = NoteVectorizer().fit([train_notes[c] for c in train_cases])
    print(
        f"\nvectorizer: {vectorizer.n_features} n-grams, fit {time.perf_counter() - started:.2f} s"
    )
    train_vectors = vectorizer.transform([train_notes[c] for c in train_cases])
    texts = [dev_notes[c] for c in dev_cases]
    started = time.perf_counter()
    for text in texts:
        vectorizer.transform([text])
    print(f"vectorizer: {(time.perf_counter() - started) / len(texts) * 1000:.2f} ms per note")
    dev_vectors = vectorizer.transform(texts)

    for system in SYSTEMS:
        labels = [{k for k in train_gold.get(c, set()) if k[0] == system} for c in train_cases]
        gold = {c: {k for k in codes if k[0] == system} for c, codes in dev_gold.items()}

        started = time.perf_counter()
        knn = KnnCodeSource(k=40).fit(train_vectors, labels)
        knn_fit = time.perf_counter() - started
        started = time.perf_counter()
        classifier = CodeClassifierSource(min_notes=3, top=30).fit(train_vectors, labels)
        classifier_fit = time.perf_counter() - started
        knn.save(tmp_path / f"knn_{system}")
        classifier.save(tmp_path / f"classifier_{system}")

        knn_ms = ms_per_note(knn.scores, dev_vectors)
        classifier_ms = ms_per_note(classifier.scores, dev_vectors)
        knn_scores, classifier_scores = knn.scores(dev_vectors), classifier.scores(dev_vectors)
        print(
            f"{system}: fit kNN {knn_fit:.3f} s, classifier {classifier_fit:.2f} s"
            f" ({len(classifier.codes_)} of {len(knn.codes_)} codes learnable);"
            f" score kNN {knn_ms:.2f} + classifier {classifier_ms:.2f} ms per note;"
            f" saved kNN {folder_mb(tmp_path / f'knn_{system}'):.1f} MB,"
            f" classifier {folder_mb(tmp_path / f'classifier_{system}'):.1f} MB"
        )
        candidates = statistics.mean(len(s) for s in knn_scores)
        for name, scores, top in (
            (f"kNN all codes ({candidates:.0f}/note)", knn_scores, None),
            ("kNN top 40", knn_scores, 40),
            ("classifier top 30", classifier_scores, 30),
        ):
            recall, mean_ap = recall_and_map(scores, dev_cases, gold, top)
            print(f"{system} {name}: recall {recall:.3f}, MAP {mean_ap:.3f}")
            assert recall > 0.0

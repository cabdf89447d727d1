import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import TfidfVectorizer

from models.text_sources import (
    META,
    CodeClassifierSource,
    CodeKey,
    KnnCodeSource,
    KnnEvidence,
    NoteVectorizer,
    TextSourceArtifactError,
)

MI = ("icd10cm", "I21.9")
PNEUMONIA = ("icd10cm", "J18.9")
FRACTURE = ("icd10cm", "S72.001A")
HYPERTENSION = ("icd10cm", "I10")

# Three separable kinds of note, four of each, with the words varied a little.
NOTES: list[tuple[str, set[CodeKey]]] = [
    ("Chest pain radiating to the left arm, troponin raised, ST elevation.", {MI}),
    ("Crushing chest pain; troponin high; ECG shows ST elevation.", {MI, HYPERTENSION}),
    ("Acute chest pain with raised troponin, coronary occlusion on angiography.", {MI}),
    ("ST elevation and troponin rise after chest pain at rest.", {MI}),
    ("Cough and fever for a week, chest x-ray shows a lobar infiltrate.", {PNEUMONIA}),
    ("Productive cough, fever, crackles; infiltrate in the right lower lobe.", {PNEUMONIA}),
    ("Fever with cough and a lobar infiltrate treated with antibiotics.", {PNEUMONIA}),
    ("Infiltrate on x-ray, cough, fever and dyspnoea.", {PNEUMONIA, HYPERTENSION}),
    ("Fall from standing, hip pain, x-ray shows a femoral neck fracture.", {FRACTURE}),
    ("Femoral neck fracture after a fall; the leg is shortened and rotated.", {FRACTURE}),
    ("Hip fracture of the femoral neck, fixed surgically after the fall.", {FRACTURE}),
    ("After a fall, pain in the hip; fracture of the femoral neck.", {FRACTURE}),
]
TEXTS = [text for text, _ in NOTES]
LABELS = [codes for _, codes in NOTES]


@pytest.fixture(scope="module")
def vectorizer() -> NoteVectorizer:
    return NoteVectorizer().fit(TEXTS)


@pytest.fixture(scope="module")
def train_vectors(vectorizer: NoteVectorizer) -> csr_matrix:
    return vectorizer.transform(TEXTS)


# Hand-checkable kNN: three training notes in a two-word space.
A, B, C = ("x", "a"), ("x", "b"), ("x", "c")
KNN_TRAIN = csr_matrix(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
KNN_LABELS: list[set[CodeKey]] = [{A}, {B}, {A, C}]
QUERY = csr_matrix(np.array([[2.0, 1.0]]))
# Cosine of the query with each training note.
SIM_0, SIM_1, SIM_2 = 2 / math.sqrt(5), 1 / math.sqrt(5), 3 / math.sqrt(10)


def test_vectorizer_matches_scikit_learn_tfidf() -> None:
    ours = NoteVectorizer().fit(TEXTS)
    reference = TfidfVectorizer(
        ngram_range=(1, 2), sublinear_tf=True, min_df=2, strip_accents="unicode"
    ).fit(TEXTS)
    notes = [*TEXTS, "chest pain chest pain and fever"]
    assert abs(ours.transform(notes) - reference.transform(notes)).max() < 1e-12
    assert "chest pain" in ours.vocabulary_  # bigrams
    assert "crushing" not in ours.vocabulary_  # in one note only: below min_df


def test_vectorizer_folds_case_and_accents(vectorizer: NoteVectorizer) -> None:
    plain = vectorizer.transform(["troponin fever"])
    folded = vectorizer.transform(["TROPONÍN Fèver"])
    assert plain.nnz > 0
    assert abs(plain - folded).max() == 0


def test_unknown_words_give_an_empty_vector(vectorizer: NoteVectorizer) -> None:
    vectors = vectorizer.transform(["zzz qqq", ""])
    assert vectors.shape == (2, vectorizer.n_features)
    assert vectors.nnz == 0
    assert vectorizer.transform([]).shape == (0, vectorizer.n_features)


def test_knn_scores_are_similarity_weighted_shares_of_the_k_nearest() -> None:
    source = KnnCodeSource(k=2).fit(KNN_TRAIN, KNN_LABELS)
    # The two nearest are notes 2 (A, C) and 0 (A): note 1 (B) is cut off.
    total = SIM_2 + SIM_0
    assert source.scores(QUERY) == [{A: pytest.approx(1.0), C: pytest.approx(SIM_2 / total)}]

    source = KnnCodeSource(k=3).fit(KNN_TRAIN, KNN_LABELS)
    total = SIM_0 + SIM_1 + SIM_2
    [scores] = source.scores(QUERY)
    assert list(scores) == [A, C, B]  # best first
    assert scores[A] == pytest.approx((SIM_0 + SIM_2) / total)
    assert scores[B] == pytest.approx(SIM_1 / total)
    assert scores[C] == pytest.approx(SIM_2 / total)


def test_knn_evidence_names_the_best_neighbour_and_how_many_carry_the_code() -> None:
    source = KnnCodeSource(k=3).fit(KNN_TRAIN, KNN_LABELS)
    [evidence] = source.evidence(QUERY)
    total = SIM_0 + SIM_1 + SIM_2
    assert evidence[A] == KnnEvidence(
        pytest.approx((SIM_0 + SIM_2) / total), pytest.approx(SIM_2), 2
    )
    assert evidence[B] == KnnEvidence(pytest.approx(SIM_1 / total), pytest.approx(SIM_1), 1)


def test_knn_ties_are_broken_by_code_and_by_training_row() -> None:
    # Two identical training notes: with k=1 the first one is the neighbour, every time.
    train = csr_matrix(np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    source = KnnCodeSource(k=1).fit(train, [{C, A}, {B}, set()])
    assert list(source.scores(csr_matrix(np.array([[1.0, 0.0]])))[0]) == [A, C]


def test_knn_ignores_unrelated_training_notes(
    vectorizer: NoteVectorizer, train_vectors: csr_matrix
) -> None:
    source = KnnCodeSource(k=40).fit(train_vectors, LABELS)
    [scores] = source.scores(vectorizer.transform(["troponin; ST elevation"]))
    assert next(iter(scores)) == MI
    assert FRACTURE not in scores  # no shared n-gram, so never a neighbour
    assert all(0.0 < share <= 1.0 for share in scores.values())


def test_classifier_picks_the_code_of_the_matching_kind(
    vectorizer: NoteVectorizer, train_vectors: csr_matrix
) -> None:
    source = CodeClassifierSource(min_notes=3).fit(train_vectors, LABELS)
    assert source.codes_ == [MI, PNEUMONIA, FRACTURE]  # I10 is in 2 notes: not learnable
    notes = [
        "Troponin rise with chest pain and ST elevation.",
        "Fever and cough, lobar infiltrate.",
        "Fracture of the femoral neck after a fall.",
    ]
    best = [next(iter(scores)) for scores in source.scores(vectorizer.transform(notes))]
    assert best == [MI, PNEUMONIA, FRACTURE]


def test_classifier_returns_at_most_top_codes_best_first(
    vectorizer: NoteVectorizer, train_vectors: csr_matrix
) -> None:
    source = CodeClassifierSource(min_notes=2, top=2).fit(train_vectors, LABELS)
    [scores] = source.scores(vectorizer.transform(["chest pain, troponin raised"]))
    assert len(scores) == 2
    values = list(scores.values())
    assert values == sorted(values, reverse=True)
    assert all(0.0 < value < 1.0 for value in values)


def test_classifier_gives_nothing_for_a_note_without_known_words(
    vectorizer: NoteVectorizer, train_vectors: csr_matrix
) -> None:
    source = CodeClassifierSource().fit(train_vectors, LABELS)
    assert source.scores(vectorizer.transform(["zzz qqq", ""])) == [{}, {}]


def test_codes_too_rare_or_on_every_note_are_left_out(train_vectors: csr_matrix) -> None:
    everywhere = ("icd10cm", "Z00.0")
    labels = [{*codes, everywhere} for codes in LABELS]
    source = CodeClassifierSource(min_notes=5).fit(train_vectors, labels)
    assert source.codes_ == []  # each kind has 4 notes; Z00.0 has no negative note
    assert source.scores(train_vectors[:2]) == [{}, {}]


def test_no_notes_to_score_and_no_notes_to_learn_from(train_vectors: csr_matrix) -> None:
    for source in (KnnCodeSource(), CodeClassifierSource()):
        source.fit(train_vectors, LABELS)
        assert source.scores(train_vectors[:0]) == []
        with pytest.raises(ValueError, match="without training notes"):
            type(source)().fit(train_vectors[:0], [])
        with pytest.raises(ValueError, match="label sets"):
            type(source)().fit(train_vectors, LABELS[:3])
        with pytest.raises(ValueError, match="features"):
            source.scores(csr_matrix((1, 3)))


def test_unfitted_objects_say_so() -> None:
    with pytest.raises(NotFittedError):
        NoteVectorizer().transform(["fever"])
    with pytest.raises(NotFittedError):
        KnnCodeSource().scores(KNN_TRAIN)
    with pytest.raises(NotFittedError):
        CodeClassifierSource().scores(KNN_TRAIN)


def test_fitting_twice_gives_identical_scores(
    vectorizer: NoteVectorizer, train_vectors: csr_matrix
) -> None:
    queries = vectorizer.transform(["chest pain and fever", "fall with hip pain and cough"])
    for make in (lambda: KnnCodeSource(k=5), lambda: CodeClassifierSource(min_notes=2)):
        first = make().fit(train_vectors, LABELS).scores(queries)
        second = make().fit(train_vectors, LABELS).scores(queries)
        assert first == second
        assert [list(s) for s in first] == [list(s) for s in second]


def test_scores_do_not_depend_on_the_batch(
    vectorizer: NoteVectorizer, train_vectors: csr_matrix
) -> None:
    queries = vectorizer.transform(["chest pain and fever", "fall with hip pain and cough"])
    for source in (
        KnnCodeSource(k=5).fit(train_vectors, LABELS),
        CodeClassifierSource(min_notes=2).fit(train_vectors, LABELS),
    ):
        one_by_one = [source.scores(queries[i])[0] for i in range(queries.shape[0])]
        assert source.scores(queries) == one_by_one


def test_saved_and_loaded_objects_score_identically(
    tmp_path: Path, vectorizer: NoteVectorizer, train_vectors: csr_matrix
) -> None:
    notes = ["Chest pain with fever and a fall", "zzz"]
    vectorizer.save(tmp_path / "vectorizer")
    loaded_vectorizer = NoteVectorizer.load(tmp_path / "vectorizer")
    queries = vectorizer.transform(notes)
    assert (loaded_vectorizer.transform(notes) != queries).nnz == 0

    knn = KnnCodeSource(k=5).fit(train_vectors, LABELS)
    knn.save(tmp_path / "knn")
    loaded_knn = KnnCodeSource.load(tmp_path / "knn")
    assert loaded_knn.k == 5
    assert loaded_knn.evidence(queries) == knn.evidence(queries)

    classifier = CodeClassifierSource(min_notes=2, top=3).fit(train_vectors, LABELS)
    classifier.save(tmp_path / "classifier")
    loaded_classifier = CodeClassifierSource.load(tmp_path / "classifier")
    assert loaded_classifier.get_params() == classifier.get_params()
    assert loaded_classifier.scores(queries) == classifier.scores(queries)
    assert [list(s) for s in loaded_classifier.scores(queries)] == [
        list(s) for s in classifier.scores(queries)
    ]


def test_loading_refuses_what_it_cannot_read(tmp_path: Path, train_vectors: csr_matrix) -> None:
    with pytest.raises(TextSourceArtifactError, match="no saved"):
        KnnCodeSource.load(tmp_path / "missing")

    CodeClassifierSource().fit(train_vectors, LABELS).save(tmp_path / "classifier")
    with pytest.raises(TextSourceArtifactError, match="expected 'knn_code_source'"):
        KnnCodeSource.load(tmp_path / "classifier")

    meta_path = tmp_path / "classifier" / META
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["codes"] = meta["codes"][:-1]
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(TextSourceArtifactError, match="do not belong together"):
        CodeClassifierSource.load(tmp_path / "classifier")

    del meta["params"]
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(TextSourceArtifactError, match="incomplete or damaged"):
        CodeClassifierSource.load(tmp_path / "classifier")

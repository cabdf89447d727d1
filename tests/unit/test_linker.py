import itertools
import json
import random
from pathlib import Path

import numpy as np
import pytest

from codes.systems import CodeSystem
from nlp.aliases import Alias
from nlp.linker import (
    FORMAT_VERSION,
    MANIFEST,
    ApproximateLinker,
    LinkedCandidate,
    LinkerArtifactError,
)

CM = CodeSystem.ICD10CM
PCS = CodeSystem.ICD10PCS
ALIASES = [
    Alias(CM, "J18.9", "Pneumonia, unspecified organism", "description"),
    Alias(CM, "J18.9", "Pneumonia NOS", "cm_index", 0.9),
    Alias(CM, "J15.9", "Unspecified bacterial pneumonia", "description"),
    Alias(CM, "I10", "Essential (primary) hypertension", "description"),
    Alias(CM, "I10", "Hypertension", "inclusion"),
    Alias(CM, "I21.9", "Acute myocardial infarction, unspecified", "description"),
    Alias(CM, "E11.9", "Type 2 diabetes mellitus without complications", "description"),
    Alias(CM, "M35.3", "Polymyalgia rheumatica", "description"),
    Alias(CM, "H81.09", "Ménière's disease, unspecified ear", "description"),
    # One phrase, several codes: every one of them is a candidate.
    Alias(CM, "S72.90XA", "Fracture of femur", "cm_index"),
    Alias(CM, "S72.91XA", "Fracture of femur", "cm_index"),
    Alias(CM, "S72.92XA", "Fracture of femur", "cm_index"),
    Alias(PCS, "0DTJ4ZZ", "Resection of appendix", "pcs_index"),
]
QUERIES = [
    "pneumonia",
    "pnuemonia unspecified organism",
    "hypertensive",
    "acute myocardial infarct",
    "type 2 diabetes mellitus",
    "fracture of the femur",
    "menieres disease",
    "",
    "zzz",
]


@pytest.fixture(scope="module")
def linker() -> ApproximateLinker:
    return ApproximateLinker.build(ALIASES)


def codes(candidates: list[LinkedCandidate]) -> list[str]:
    return [c.code for c in candidates]


def link_one(
    linker: ApproximateLinker, text: str, k: int = 10, threshold: float = 0.7
) -> list[LinkedCandidate]:
    [candidates] = linker.link([text], k=k, threshold=threshold)
    return candidates


def test_an_exact_alias_links_with_similarity_one_regardless_of_case_and_accents(
    linker: ApproximateLinker,
) -> None:
    best = link_one(linker, "PNEUMONIA, UNSPECIFIED ORGANISM")[0]
    assert best == LinkedCandidate(CM, "J18.9", "pneumonia, unspecified organism", 1.0)
    assert link_one(linker, "Meniere's disease, unspecified ear")[0].code == "H81.09"


def test_misspellings_and_other_word_forms_link_to_the_right_code(
    linker: ApproximateLinker,
) -> None:
    best = link_one(linker, "pnuemonia unspecifed organism")[0]
    assert best.code == "J18.9"
    assert 0.7 <= best.similarity < 1.0
    assert link_one(linker, "acute myocardial infarct")[0].code == "I21.9"
    assert link_one(linker, "hypertensive")[0].code == "I10"


def test_candidates_come_best_first_one_per_code_with_its_nearest_alias(
    linker: ApproximateLinker,
) -> None:
    candidates = link_one(linker, "hypertension", threshold=0.0)
    assert codes(candidates).count("I10") == 1
    assert candidates[0] == LinkedCandidate(CM, "I10", "hypertension", 1.0)
    similarities = [c.similarity for c in candidates]
    assert similarities == sorted(similarities, reverse=True)


def test_a_shared_alias_yields_each_of_its_codes_in_code_order(linker: ApproximateLinker) -> None:
    candidates = link_one(linker, "fracture of femur")
    assert codes(candidates) == ["S72.90XA", "S72.91XA", "S72.92XA"]
    assert {c.similarity for c in candidates} == {1.0}


def test_k_limits_the_number_of_codes(linker: ApproximateLinker) -> None:
    assert codes(link_one(linker, "fracture of femur", k=2)) == ["S72.90XA", "S72.91XA"]
    assert len(link_one(linker, "pneumonia", k=1, threshold=0.0)) == 1
    assert len(link_one(linker, "pneumonia", k=20, threshold=0.0)) > 3


def test_threshold_drops_distant_aliases(linker: ApproximateLinker) -> None:
    loose = link_one(linker, "bacterial pneumonia", threshold=0.3)
    assert {"J15.9", "J18.9"} <= set(codes(loose))
    strict = link_one(linker, "bacterial pneumonia", threshold=0.8)
    assert codes(strict) == ["J15.9"]
    assert all(c.similarity >= 0.8 for c in strict)
    assert link_one(linker, "pneumonia", threshold=1.0) == []


def test_texts_without_shared_3grams_or_without_text_get_no_candidates(
    linker: ApproximateLinker,
) -> None:
    assert linker.link(["", "   ", "zzz", "pneumonia"])[:3] == [[], [], []]
    assert linker.link([]) == []


def test_one_answer_per_mention_in_order(linker: ApproximateLinker) -> None:
    results = linker.link(QUERIES)
    assert len(results) == len(QUERIES)
    assert [codes(r)[:1] for r in results[:3]] == [["J18.9"], ["J18.9"], ["I10"]]


def test_bad_arguments_are_refused(linker: ApproximateLinker) -> None:
    with pytest.raises(ValueError, match="k must be"):
        linker.link(["pneumonia"], k=0)
    with pytest.raises(ValueError, match="threshold"):
        linker.link(["pneumonia"], threshold=1.5)
    with pytest.raises(ValueError, match="alias"):
        ApproximateLinker.build([Alias(CM, "I10", "  ", "description")])


def test_same_aliases_in_any_order_build_the_same_index(tmp_path: Path) -> None:
    # A few hundred aliases: enough that HNSW gives some of them upper levels, whose random
    # draw is what could make two builds in one process differ.
    words = ["acute", "chronic", "left", "fracture", "infection", "femur", "tibia", "lung"]
    aliases = [
        Alias(CM, f"T{i:03}", " ".join(phrase), "description")
        for i, phrase in enumerate(itertools.permutations(words, 3))
    ]
    shuffled = aliases.copy()
    random.Random(7).shuffle(shuffled)
    first = ApproximateLinker.build(aliases)
    second = ApproximateLinker.build(shuffled)
    queries = ["fracture of left femur", "acute lung infection", "chronic tibia"]
    assert first.link(queries) == second.link(queries) == first.link(queries)
    first.save(tmp_path / "a")
    second.save(tmp_path / "b")
    for name in ("hnsw.bin", "hnsw.bin.dat", "ngrams.json", MANIFEST):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    with np.load(tmp_path / "a" / "aliases.npz") as a, np.load(tmp_path / "b" / "aliases.npz") as b:
        assert a.files == b.files and all(np.array_equal(a[f], b[f]) for f in a.files)


def test_a_saved_linker_loads_and_answers_the_same(
    linker: ApproximateLinker, tmp_path: Path
) -> None:
    linker.save(tmp_path)
    loaded = ApproximateLinker.load(tmp_path)
    assert loaded.link(QUERIES, threshold=0.3) == linker.link(QUERIES, threshold=0.3)
    assert not list(tmp_path.glob("*.pkl")) and not list(tmp_path.glob("*.joblib"))


def test_loading_a_missing_linker_says_so(tmp_path: Path) -> None:
    with pytest.raises(LinkerArtifactError, match="no approximate linker"):
        ApproximateLinker.load(tmp_path / "nowhere")


def test_loading_another_format_version_says_so(linker: ApproximateLinker, tmp_path: Path) -> None:
    linker.save(tmp_path)
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    (tmp_path / MANIFEST).write_text(json.dumps({**manifest, "format": FORMAT_VERSION + 1}))
    with pytest.raises(LinkerArtifactError, match="format"):
        ApproximateLinker.load(tmp_path)


@pytest.mark.parametrize("name", ["idf.npy", "aliases.npz", "hnsw.bin", "hnsw.bin.dat"])
def test_loading_an_incomplete_linker_says_so(
    linker: ApproximateLinker, tmp_path: Path, name: str
) -> None:
    linker.save(tmp_path)
    (tmp_path / name).unlink()
    with pytest.raises(LinkerArtifactError, match="build it again"):
        ApproximateLinker.load(tmp_path)

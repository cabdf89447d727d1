"""Candidate recall on CodiEsp dev: the ceiling for ranking.

The lexicon is built from the catalog, the ICD-10-CM index and tables, and evidence
phrases mined from the train split only. For each dev note, every code among its mentions'
candidates counts; recall is the share of gold (note, code) pairs found, exactly and by
3-character category. Run with `make bench`.
"""

import statistics
from collections import defaultdict
from pathlib import Path

import pytest

from codes.catalog import Catalog
from codes.normalize import try_normalize_code
from codes.systems import CodeSystem
from nlp.lexicon_build import build_lexicon
from nlp.linker import ApproximateLinker
from nlp.pipeline import NoteReader, build_language
from nlp.term_matcher import group_phrases

pytestmark = pytest.mark.bench

GOLD_FILES = {CodeSystem.ICD10CM: "devD.tsv", CodeSystem.ICD10PCS: "devP.tsv"}


def read_gold(dev: Path) -> dict[str, set[tuple[CodeSystem, str]]]:
    gold: dict[str, set[tuple[CodeSystem, str]]] = defaultdict(set)
    for system, name in GOLD_FILES.items():
        for line in (dev / name).read_text(encoding="utf-8").splitlines():
            case, raw = line.split("\t")[:2]
            code = try_normalize_code(system, raw)
            if code:
                gold[case].add((system, code))
    return gold


def test_candidate_recall_on_dev(catalog: Catalog, data_dir: Path) -> None:
    dev = data_dir / "codiesp" / "dev"
    aliases, provenance = build_lexicon(catalog, data_dir, ["train"])
    reader = NoteReader(build_language(group_phrases(aliases)), ApproximateLinker.build(aliases))
    gold = read_gold(dev)
    found = {s: 0 for s in GOLD_FILES}
    found_category = {s: 0 for s in GOLD_FILES}
    total = {s: 0 for s in GOLD_FILES}
    per_note = {s: [] for s in GOLD_FILES}  # type: ignore[var-annotated]
    for path in sorted((dev / "text_files_en").glob("*.txt")):
        mentions = reader.read(path.read_text(encoding="utf-8"))
        candidates = {(c.system, c.code) for m in mentions for c in m.candidates}
        for system in GOLD_FILES:
            mine = {code for s, code in candidates if s is system}
            per_note[system].append(len(mine))
            categories = {code[:3] for code in mine}
            for s, code in gold.get(path.stem, set()):
                if s is system:
                    total[system] += 1
                    found[system] += code in mine
                    found_category[system] += code[:3] in categories
    print(f"\nlexicon: {provenance['aliases']}")
    for system in GOLD_FILES:
        print(
            f"{system.label}: recall {found[system] / total[system]:.3f} exact,"
            f" {found_category[system] / total[system]:.3f} category"
            f" ({total[system]} gold pairs); candidates per note:"
            f" mean {statistics.mean(per_note[system]):.0f},"
            f" median {statistics.median(per_note[system]):.0f}"
        )

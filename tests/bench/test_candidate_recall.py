"""Candidate recall of the official lexicon on CodiEsp dev (what `make install` built).

For each dev note, every code among its mentions' candidates counts (exact terms and near
matches; a model's learned phrases and note-level sources come on top, see
test_ranker_dev.py). Recall is the share of gold (note, code) pairs found, exactly and by
3-character category. Run with `make bench-all`.
"""

import statistics
from pathlib import Path

import pytest

from app.config import Settings
from codes.catalog import Catalog
from codes.systems import CodeSystem
from nlp.pipeline import LinkingSettings, NoteReader
from training.encounters import CodiEspSource

pytestmark = pytest.mark.bench

SYSTEMS = (CodeSystem.ICD10CM, CodeSystem.ICD10PCS)


def test_candidate_recall_on_dev(data_dir: Path) -> None:
    settings = Settings()
    if not (settings.lexicon_dir / "lexicon.json").is_file():
        pytest.skip("nothing built in var/: run `make install` first")
    catalog = Catalog.open(settings.catalog_dir)
    reader = NoteReader.load(
        settings.lexicon_dir, LinkingSettings(settings.link_k, settings.link_threshold)
    )
    dev = CodiEspSource(data_dir / "codiesp", ["dev"]).read(
        lambda system, code: catalog.get(system, code) is not None
    )
    found = dict.fromkeys(SYSTEMS, 0)
    found_category = dict.fromkeys(SYSTEMS, 0)
    total = dict.fromkeys(SYSTEMS, 0)
    per_note: dict[CodeSystem, list[int]] = {s: [] for s in SYSTEMS}
    for encounter in dev.encounters:
        candidates = {(c.system, c.code) for m in reader.read(encounter.text) for c in m.candidates}
        for system in SYSTEMS:
            mine = {code for s, code in candidates if s is system}
            per_note[system].append(len(mine))
            categories = {code[:3] for code in mine}
            for gold in encounter.codes:
                if gold.system is system:
                    total[system] += 1
                    found[system] += gold.code in mine
                    found_category[system] += gold.code[:3] in categories
    print(f"\nlexicon: {reader.provenance.get('aliases')}")
    for system in SYSTEMS:
        print(
            f"{system.label}: recall {found[system] / total[system]:.3f} exact,"
            f" {found_category[system] / total[system]:.3f} category"
            f" ({total[system]} gold pairs); candidates per note:"
            f" mean {statistics.mean(per_note[system]):.0f},"
            f" median {statistics.median(per_note[system]):.0f}"
        )

"""The learned ranker on CodiEsp dev, trained on train only, on what `make install` built.

Run with `make bench-all`; prints MAP, MAP@30 and micro P/R/F1 per system, the training time
and the time to score a note. `make dev-figures` reaches the same figures through the
`medcode train` and `medcode evaluate` commands, with the HTML report.
"""

import time
from pathlib import Path

import numpy as np
import pytest

from app.config import Settings
from codes.catalog import Catalog
from models.suggester import Suggester
from nlp.pipeline import LinkingSettings, NoteReader
from training.encounters import CodiEspSource
from training.evaluation import figures, gold_by_system, predict
from training.train import train

pytestmark = pytest.mark.bench


def test_learned_ranker_on_dev(data_dir: Path) -> None:
    settings = Settings()
    if not (settings.lexicon_dir / "lexicon.json").is_file():
        pytest.skip("nothing built in var/: run `make install` first")
    catalog = Catalog.open(settings.catalog_dir)
    linking = LinkingSettings(k=settings.link_k, threshold=settings.link_threshold)
    reader = NoteReader.load(settings.lexicon_dir, linking)

    def known(system: object, code: str) -> bool:
        return catalog.get(system, code) is not None  # type: ignore[arg-type]

    codiesp = data_dir / "codiesp"
    training = CodiEspSource(codiesp, ["train"]).read(known).encounters
    dev = CodiEspSource(codiesp, ["dev"]).read(known).encounters
    result = train(training, reader, catalog)
    print(f"\ntrained on {len(training)} notes in {result.seconds:.0f} s")
    print(f"out of fold: {result.out_of_fold}")

    started = time.perf_counter()
    # Under the conventions the service applies by default, as /suggest answers.
    suggester = Suggester.open(catalog)
    predictions = predict(result.model, dev, reader, suggester, settings.conventions)
    per_note = (time.perf_counter() - started) / len(dev) * 1000
    print(f"scored {len(dev)} dev notes, {per_note:.0f} ms per note (reading included)")
    for system, figure in figures(predictions, gold_by_system(dev, result.model.systems)).items():
        shown = {k: round(v, 4) if isinstance(v, float) else v for k, v in figure.as_dict().items()}
        print(f"{system}: {shown}")
        assert np.isfinite(figure.map)

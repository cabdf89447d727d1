"""The reader on adversarial notes (tests/slow_shapes.py) at the 200,000-character
request limit. For each shape, the time of a full read at 200,000 characters (it must
stay under 5 s) and the cost per character at 20k, 50k, 100k and 200k, which stays flat
when the read is linear. The /suggest use case (reading, ranking, conventions) is timed
at 200k beside it, without a reading budget, and its cost per character at 200k must stay
within MAX_GROWTH of that at 50k.

Run with `make bench-all` on what `make install` built (var/).
"""

import gc
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.config import Settings
from app.services.models import ModelSwitchboard
from app.services.suggest import SuggestService
from codes.catalog import Catalog
from codes.errors import MedcodeError
from models.artifacts import ArtifactStore
from nlp.pipeline import LinkingSettings, NoteReader
from tests.slow_shapes import joined_codiesp, shapes

pytestmark = pytest.mark.bench

LENGTHS = (20_000, 50_000, 100_000, 200_000)
LIMIT_SECONDS = 5.0
# Suggest's cost per character at the limit against at 50k: linear, with room for noise.
MAX_GROWTH = 1.5


@dataclass(frozen=True)
class Loaded:
    reader: NoteReader
    service: SuggestService | None  # None when no promoted model loads
    why_not: str = ""


@pytest.fixture(scope="module")
def loaded() -> Iterator[Loaded]:
    """The reader, and the suggest service around it, as the app builds them."""
    settings = Settings()
    if not (settings.lexicon_dir / "lexicon.json").is_file():
        pytest.skip("nothing built in var/: run `make install` first")
    linking = LinkingSettings(k=settings.link_k, threshold=settings.link_threshold)
    reader = NoteReader.load(settings.lexicon_dir, linking)
    reader.read("warm up: no fever, possible pneumonia.")
    try:
        models = ModelSwitchboard(ArtifactStore(settings.models_dir))
        service = SuggestService(Catalog.open(settings.catalog_dir), reader, models)
        built = Loaded(reader, service)
    except MedcodeError as error:  # the reader is still worth timing
        built = Loaded(reader, None, error.error)
    # A full pass of the garbage collector over what was loaded (millions of lexicon
    # objects) takes seconds whatever the note: a pause, not a cost of reading, which the
    # service avoids the same way (gc.freeze() once loaded).
    started = time.perf_counter()
    gc.collect()
    collection = time.perf_counter() - started
    print(f"\none full garbage collection with the reader loaded: {collection:.1f} s")
    gc.freeze()
    yield built
    gc.unfreeze()


@pytest.fixture(scope="module")
def codiesp(data_dir: Path) -> str:
    return joined_codiesp(data_dir, 2 * max(LENGTHS))  # to spare: one shape drops stops


def timed(work: Callable[..., object], *args: object) -> float:
    """Seconds `work(*args)` takes, after a collection of what came before."""
    gc.collect()
    started = time.perf_counter()
    work(*args)
    return time.perf_counter() - started


def test_worst_case_notes_read_in_linear_time_under_the_limit(loaded: Loaded, codiesp: str) -> None:
    header = "".join(f"{n // 1000:>6}k" for n in LENGTHS)
    print(f"\n{'input':24}{'read s':>8}{'suggest s':>10}   µs per character at{header}")
    slow, superlinear = [], []
    for shape in shapes(codiesp):
        per_char = []
        seconds = 0.0
        for length in LENGTHS:
            text = shape.make(length)
            assert len(text) == length
            seconds = timed(loaded.reader.read, text)
            per_char.append(seconds / length * 1e6)
        suggest = "-"
        if loaded.service is not None:
            # The whole use case, without a budget: ranking and the conventions must be
            # linear too (a code's evidence once grew with every repeat of its words).
            small, large = (
                timed(loaded.service.suggest, shape.make(n), None, 20, None)
                for n in (LENGTHS[1], LENGTHS[-1])
            )
            growth = (large / LENGTHS[-1]) / (small / LENGTHS[1])
            suggest = f"{large:.2f}"
            if shape.held_to_limit and growth > MAX_GROWTH:
                superlinear.append(f"{shape.name}: {growth:.1f} times the cost per character")
        costs = "".join(f"{c:7.1f}" for c in per_char)
        mark = "" if shape.held_to_limit else f"   (not held to the limit: {shape.note})"
        print(f"{shape.name:24}{seconds:8.2f}{suggest:>10}{'':22}{costs}{mark}")
        if shape.held_to_limit and seconds >= LIMIT_SECONDS:
            slow.append(f"{shape.name}: {seconds:.1f} s")
    if loaded.service is None:
        print(f"suggest not timed: no promoted model loads ({loaded.why_not})")
    assert not slow, f"over {LIMIT_SECONDS:g} s at {max(LENGTHS):,} characters: {slow}"
    assert not superlinear, f"suggest from {LENGTHS[1]:,} to {LENGTHS[-1]:,}: {superlinear}"

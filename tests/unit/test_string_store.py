"""The reader renews its spaCy pipeline to let go of the strings notes brought, and a
note reads the same before and after: mentions, sections, assertions, candidate codes
(official, near, learned and composed).

The long stream of notes is tests/soak/test_reader_memory.py.
"""

import contextlib
import gc
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import spacy

from codes.systems import CodeSystem
from nlp.aliases import Alias
from nlp.mentions import Assertion, CandidateSource, Mention
from nlp.pipeline import RENEW_AFTER_STRINGS, NoteReader, build_language
from nlp.term_matcher import TermMatcher
from tests.soak.notes import case_report_sentences, distinct_notes

CM = CodeSystem.ICD10CM
# A model's learned phrases, as RankerModel builds them: matched beside the lexicon's terms.
LEARNED = TermMatcher.from_aliases(
    [
        Alias(CM, "I10", "raised blood pressure", "evidence", weight=0.8),
        Alias(CM, "R51.9", "pounding head", "evidence", weight=0.7),
    ]
)
NOTE = """History of present illness: 67-year-old Mr. Zorvatek, MRN 4471902, with raised
blood pressure and type 2 diabetes mellitus without complications, admitted with acute
kidney injury (AKI). He denies chest pain; no pneumonia on chest x-ray. Pounding head since
Monday. Possible pulmonary embolism.
Family history: mother with breast cancer.
Procedure: laparoscopic appendectomy; open reduction of the right femur fracture.
Plan: AKI resolving, metformin 850 mg held."""


@pytest.fixture(scope="module")
def notes(data_dir: Path) -> list[str]:
    dev = sorted((data_dir / "codiesp" / "dev" / "text_files_en").glob("*.txt"))[:5]
    return [NOTE, *(path.read_text("utf-8") for path in dev)]


@pytest.fixture(scope="module")
def made_up(data_dir: Path) -> list[str]:
    """Distinct notes full of words no pipeline has seen."""
    return list(distinct_notes(case_report_sentences(data_dir), 400, seed=1))


def reader_like(reader: NoteReader, renew_after: int = RENEW_AFTER_STRINGS) -> NoteReader:
    """A reader of its own (the session's stays as it is), sharing the loaded parts."""
    language = build_language(reader.terms, reader.composer)
    own = NoteReader(
        language, reader.linker, reader.linking, reader.provenance, reader.composer, renew_after
    )
    own.renew()  # a pipeline as renewals build them (see test_the_old_pipeline_is_freed_at_once)
    return own


def readings(reader: NoteReader, notes: list[str]) -> list[list[Mention]]:
    return [reader.read(note, LEARNED) for note in notes]


def test_a_note_reads_the_same_after_a_renewal(
    reader: NoteReader, notes: list[str], made_up: list[str]
) -> None:
    own = reader_like(reader)
    fresh = len(own.nlp.vocab.strings)
    before = readings(own, notes)
    sources = {c.source for mentions in before for m in mentions for c in m.candidates}
    assert sources == set(CandidateSource)  # official, near, learned and composed codes
    assertions = {m.assertion for mentions in before for m in mentions}
    assert {Assertion.NEGATED, Assertion.POSSIBLE, Assertion.FAMILY} <= assertions
    for note in made_up:
        own.read(note)
    grown = own.nlp
    assert len(grown.vocab.strings) > fresh + 1_000
    assert readings(own, notes) == before  # on a pipeline that has read much

    own.renew()

    assert own.nlp is not grown
    assert len(own.nlp.vocab.strings) == fresh
    assert readings(own, notes) == before


def test_a_pipeline_is_renewed_once_it_holds_renew_after_new_strings(
    reader: NoteReader, made_up: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    own = reader_like(reader, renew_after=2_000)
    fresh = len(own.nlp.vocab.strings)
    most = 0
    with caplog.at_level(logging.INFO, logger="nlp.pipeline"):
        for note in made_up:
            own.read(note)
            most = max(most, len(own.nlp.vocab.strings))
        wait_for(lambda: own.renewals >= 1)
    # Reads go on while the next pipeline is built, but wait for it at twice the bound.
    assert most < fresh + 2 * 2_000 + 200
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "renewed the reading pipeline" in messages
    assert "MRN" not in messages and "Mr." not in messages  # no note text in the log


def test_the_old_pipeline_is_freed_at_once(reader: NoteReader, made_up: list[str]) -> None:
    """Freed when its last read ends, without waiting for the garbage collector, which in
    a process holding the lexicon runs a full pass seldom and for seconds."""
    own = reader_like(reader)
    with paused_collector():
        for note in made_up[:50]:
            own.read(note, LEARNED)
        old = weakref.ref(own.nlp)
        own.renew()
        assert old() is None


def test_reads_under_way_during_renewals_give_the_same_mentions(
    reader: NoteReader, made_up: list[str]
) -> None:
    expected = [reader.read(note, LEARNED) for note in made_up]  # no renewal at this size
    # Renewed every 100-odd notes: the readers run into renewals under way and finished.
    own = reader_like(reader, renew_after=500)
    failures: list[BaseException] = []
    mismatches: list[int] = []
    deadline = time.monotonic() + 90

    def read_until_renewed(part: int) -> None:
        try:
            while own.renewals < 4 and time.monotonic() < deadline:
                for i in range(part, len(made_up), 4):
                    if own.read(made_up[i], LEARNED) != expected[i]:
                        mismatches.append(i)
        except BaseException as error:  # the test reports it
            failures.append(error)

    threads = [threading.Thread(target=read_until_renewed, args=(part,)) for part in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    assert not mismatches
    assert own.renewals >= 4


def test_a_failed_renewal_leaves_reading_as_it_was(
    reader: NoteReader,
    made_up: list[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    own = reader_like(reader, renew_after=200)
    first, renewals = own.nlp, own.renewals
    expected = [reader.read(note) for note in made_up[:100]]

    def broken(*args: object) -> spacy.language.Language:
        raise RuntimeError("cannot build")

    monkeypatch.setattr("nlp.pipeline.build_language", broken)
    with caplog.at_level(logging.ERROR, logger="nlp.pipeline"):
        assert [own.read(note) for note in made_up[:100]] == expected
        wait_for(lambda: "could not renew" in caplog.text)
    assert own.nlp is first and own.renewals == renewals


def test_the_reader_refuses_a_pipeline_it_could_not_renew() -> None:
    with pytest.raises(ValueError, match="build_language"):
        NoteReader(spacy.blank("en"))


def wait_for(condition: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@contextlib.contextmanager
def paused_collector() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()

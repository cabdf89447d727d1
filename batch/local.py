"""`medcode batch --engine local`: notes from a file coded on this machine, into a
resumable output (batch.io), by this process or by worker processes.

The catalog, reader and model are loaded once, in this process, before any worker starts;
workers are forked from it, so they share what was loaded (copy-on-write: the service
froze it out of the garbage collector's reach, which would otherwise touch every page)
and start at once. A medspaCy Doc cannot cross a process boundary, and need not: a worker
gets plain note dicts and gives back plain record dicts. Records are written in input
order, whatever the number of workers, so runs are deterministic.
"""

import logging
import multiprocessing
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import Any

from tqdm import tqdm

from app.config import Settings
from batch.core import BatchOptions, NoteCoder
from batch.io import open_notes, open_results
from batch.records import BatchSummary
from codes.errors import MedcodeError

logger = logging.getLogger(__name__)

# Notes per task sent to a worker, and tasks queued per worker: a worker never waits for
# its next note, notes of very different lengths still spread evenly, and only a few notes
# per worker are read ahead of the output.
NOTES_PER_TASK = 2
TASKS_AHEAD = 4

Coding = Callable[[Iterable[Mapping[str, Any]]], Iterator[dict[str, Any]]]


def run_local(
    settings: Settings,
    options: BatchOptions,
    in_path: Path,
    out_path: Path,
    *,
    workers: int = 1,
    progress: bool = True,
    coder: NoteCoder | None = None,
) -> BatchSummary:
    """Code the notes of `in_path` that `out_path` does not hold yet, and append their records.

    The input is checked and the output opened (its written notes read, a torn last line
    cut off) before the catalog and model are loaded, so a refusal comes at once.

    workers: processes coding notes; 1 codes in this process.
    coder: a NoteCoder already open (its options are used, `options` is not), to run
        several batches on one load.
    """
    if workers < 1:
        raise ValueError("--workers must be at least 1")
    if workers > 1 and "fork" not in multiprocessing.get_all_start_methods():
        raise MedcodeError("--workers above 1 needs the fork start method (Linux)")
    pinned = coder.options if coder is not None else options.pinned(settings)
    conventions = pinned.conventions or (
        coder.service.conventions.value if coder is not None else settings.conventions.value
    )
    summary = BatchSummary(workers=workers)
    every = open_notes(in_path)
    with open_results(out_path) as results:
        results.require_run(pinned.model_version, conventions)
        notes = every.without(results.written)
        summary.skipped = notes.skipped
        logger.info(
            "%d notes in %s, %d already written, %d to code with model %s",
            notes.total,
            in_path,
            notes.skipped,
            notes.remaining,
            pinned.model_version,
        )
        if not notes.remaining:
            return summary
        started = time.perf_counter()
        if coder is None:
            coder = NoteCoder.open(settings, pinned)
        summary.load_seconds = time.perf_counter() - started
        with (
            _coding(coder, workers) as code,
            tqdm(
                total=notes.remaining,
                unit="note",
                desc="coding",
                file=sys.stderr,
                disable=not progress,
                smoothing=0.05,
            ) as bar,
        ):
            started = time.perf_counter()
            try:
                for record in code(notes):
                    results.write(record)
                    summary.add(record)
                    bar.update()
            finally:
                summary.seconds = time.perf_counter() - started
    return summary


@contextmanager
def _coding(coder: NoteCoder, workers: int) -> Iterator[Coding]:
    """A function from notes to their records in input order: in this process, or spread
    over `workers` forked processes (started here, before any other thread of the run)."""
    if workers == 1:
        yield lambda notes: (coder.code(note) for note in notes)
        return
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_adopt,
        initargs=(coder,),  # forked, not pickled: the loaded coder is inherited as is
    )
    try:
        pool.submit(int).result()  # fork every worker now, while this process is quiet
        yield lambda notes: _in_order(pool, notes, workers)
    finally:
        # On an error or Ctrl-C, queued tasks are dropped; running ones end first.
        pool.shutdown(wait=True, cancel_futures=True)


def _in_order(
    pool: ProcessPoolExecutor, notes: Iterable[Mapping[str, Any]], workers: int
) -> Iterator[dict[str, Any]]:
    pending: deque[Future[list[dict[str, Any]]]] = deque()
    pieces = iter(notes)  # each a plain dict of batch.io: it crosses to a worker pickled
    while chunk := list(islice(pieces, NOTES_PER_TASK)):
        pending.append(pool.submit(_code_chunk, chunk))
        if len(pending) >= workers * TASKS_AHEAD:
            yield from pending.popleft().result()
    while pending:
        yield from pending.popleft().result()


# The coder of a worker process, inherited from the parent when the worker was forked.
_coder: NoteCoder | None = None


def _adopt(coder: NoteCoder) -> None:
    global _coder
    _coder = coder
    # Ctrl-C reaches every process of the terminal: the parent alone decides what stops,
    # so the records already coded are written before the run ends.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _code_chunk(notes: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    assert _coder is not None, "a worker codes only after _adopt"
    return [_coder.code(note) for note in notes]

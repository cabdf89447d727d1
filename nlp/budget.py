"""A time budget for reading one note: a deadline the caller sets, the components check.

    with budget.limit(5.0):
        reader.read(text)  # BudgetExceededError once 5 s of work are done

The reader's components call `check()` when they start and, at a stride (`checked`),
inside their per-sentence and per-cue loops, so a read over budget stops within
milliseconds of its deadline instead of running on. The deadline lives in a context
variable: each request (thread or task) has its own, and code outside any `limit` pays one
lookup per check and is never stopped.

The clock is the processor time of the thread that set the limit, not the wall clock: the
budget bounds the work one note may cost. Under load a request shares the processor with
others and waits its turn; that wait is the service being busy (its in-flight cap answers
503 for it), and must not turn a note of ordinary length into a refusal to read it.
"""

import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import NamedTuple, TypeVar

from codes.errors import MedcodeError

# Items between two checks in `checked`. A check costs ~0.1 µs and an item of the loops
# that use it 1-100 µs: every 64th item makes checking free and still stops within
# milliseconds.
STRIDE = 64

_T = TypeVar("_T")


class _Limit(NamedTuple):
    deadline: float  # the _now() after which reading stops
    seconds: float  # the budget it was set with, for the error's detail
    thread: int  # the thread whose clock it counts: checks elsewhere do not apply it


_limit: ContextVar[_Limit | None] = ContextVar("medcode_reading_limit", default=None)


def _now() -> float:
    """The processor time of this thread; its own function, so a test can step it."""
    return time.thread_time()


class BudgetExceededError(MedcodeError):
    """The note took more work to read than its budget. The client can send it in shorter
    parts; the detail names the budget only, never the note."""

    status_code = 422
    error = "reading_budget_exceeded"

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"reading the note took more than its budget of {seconds:g} s of processor time;"
            " send it in shorter parts"
        )
        self.seconds = seconds


@contextmanager
def limit(seconds: float) -> Iterator[None]:
    """Reading inside this block, in this thread, stops with BudgetExceededError after
    `seconds` of the thread's processor time.

    A limit inside another never extends it: the earlier deadline holds.
    """
    mine = _Limit(_now() + seconds, seconds, threading.get_ident())
    outer = _limit.get()
    kept = outer is not None and outer.thread == mine.thread and outer.deadline <= mine.deadline
    token = _limit.set(outer if kept else mine)
    try:
        yield
    finally:
        _limit.reset(token)


def check() -> None:
    """Raise BudgetExceededError if the deadline in force has passed; without one, nothing."""
    current = _limit.get()
    if (
        current is not None
        and current.thread == threading.get_ident()
        and _now() > current.deadline
    ):
        raise BudgetExceededError(current.seconds)


def checked(items: Iterable[_T], every: int = STRIDE) -> Iterator[_T]:
    """The items, checking the budget before the first and then every `every` items."""
    if _limit.get() is None:
        yield from items  # no limit in force: not even counting
        return
    for i, item in enumerate(items):
        if i % every == 0:
            check()
        yield item

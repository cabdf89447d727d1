"""A time budget for reading one note: a deadline the caller sets, the components check.

    with budget.limit(5.0):
        reader.read(text)  # BudgetExceededError once 5 s have passed

The reader's components call `check()` when they start and, at a stride (`checked`),
inside their per-sentence and per-cue loops, so a read over budget stops within
milliseconds of its deadline instead of running on. The deadline lives in a context
variable: each request (thread or task) has its own, and code outside any `limit` pays one
lookup per check and is never stopped.
"""

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
    deadline: float  # time.monotonic() after which reading stops
    seconds: float  # the budget it was set with, for the error's detail


_limit: ContextVar[_Limit | None] = ContextVar("medcode_reading_limit", default=None)


def _now() -> float:
    """The budget's own clock, so a test can step it without touching other threads' time."""
    return time.monotonic()


class BudgetExceededError(MedcodeError):
    """The note took longer to read than its budget. The client can send it in shorter
    parts; the detail names the budget only, never the note."""

    status_code = 422
    error = "reading_budget_exceeded"

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"reading the note took longer than its budget of {seconds:g} s;"
            " send it in shorter parts"
        )
        self.seconds = seconds


@contextmanager
def limit(seconds: float) -> Iterator[None]:
    """Reading inside this block stops with BudgetExceededError after `seconds`.

    A limit inside another never extends it: the earlier deadline holds.
    """
    mine = _Limit(_now() + seconds, seconds)
    outer = _limit.get()
    token = _limit.set(outer if outer is not None and outer.deadline <= mine.deadline else mine)
    try:
        yield
    finally:
        _limit.reset(token)


def check() -> None:
    """Raise BudgetExceededError if the deadline in force has passed; without one, nothing."""
    current = _limit.get()
    if current is not None and _now() > current.deadline:
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

"""The reading budget (nlp/budget.py): a deadline the caller sets stops the reader; without
one, nothing changes."""

import contextvars
import threading
import time
from collections.abc import Iterator

import pytest
from spacy.language import Language

from codes.errors import MedcodeError
from nlp import budget
from nlp.budget import BudgetExceededError
from nlp.context import MENTIONS_KEY, assertion_of
from nlp.mentions import Assertion
from nlp.pipeline import NoteReader
from tests.unit.pipelines import assertion_pipeline

NOTE = (
    "Chief complaint: chest pain.\n"
    "HPI: no fever, possible pneumonia; history of stroke 5 years ago.\n"
    "Assessment: community-acquired pneumonia, type 2 diabetes mellitus.\n"
)


@pytest.fixture(scope="module")
def pipeline() -> Language:
    return assertion_pipeline()


def test_without_a_limit_nothing_is_checked_or_stopped() -> None:
    budget.check()
    assert list(budget.checked(range(1000), every=1)) == list(range(1000))


def test_a_limit_that_has_passed_stops_the_reader(reader: NoteReader) -> None:
    before = reader.read(NOTE)
    with budget.limit(-1.0), pytest.raises(BudgetExceededError):
        reader.read(NOTE)
    assert reader.read(NOTE) == before  # nothing left half done


def test_a_limit_not_reached_changes_nothing(reader: NoteReader) -> None:
    before = reader.read(NOTE)
    with budget.limit(3600.0):
        assert reader.read(NOTE) == before


@pytest.mark.parametrize("component", ["medcode_sentences", "medcode_sections", "medcode_context"])
def test_each_component_checks_the_budget(pipeline: Language, component: str) -> None:
    doc = pipeline.make_doc(NOTE)
    for name, step in pipeline.pipeline:
        if name == component:
            with budget.limit(-1.0), pytest.raises(BudgetExceededError):
                step(doc)
            return
        doc = step(doc)


def test_the_mention_matcher_checks_the_budget(reader: NoteReader) -> None:
    doc = reader.document(NOTE)
    matcher = reader.nlp.get_pipe("medcode_mentions")
    with budget.limit(-1.0), pytest.raises(BudgetExceededError):
        matcher(doc)


class StepClock:
    """The budget's clock: 0 for the first `calls` readings, then far later."""

    def __init__(self, calls: int) -> None:
        self.calls = calls
        self.readings = 0

    def __call__(self) -> float:
        self.readings += 1
        return 0.0 if self.readings <= self.calls else 1e9


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[StepClock]:
    # One reading sets the deadline, one per component checks it on the way in. Only the
    # budget's clock is stepped: time.monotonic itself is shared with every other thread
    # (a reader's renewal, a server left by another test), whose readings would count.
    step = StepClock(calls=1 + 3)
    monkeypatch.setattr(budget, "_now", step)
    yield step


def test_a_read_over_budget_stops_inside_a_long_sentence(
    pipeline: Language, clock: StepClock
) -> None:
    """The deadline passes once every component has started: the checks inside their
    loops stop the read, not the next component."""
    text = " ".join(["no fever but cough"] * 2000)
    doc = pipeline.make_doc(text)
    with budget.limit(10.0), pytest.raises(BudgetExceededError) as stopped:
        for name, step in pipeline.pipeline:
            if name == "medcode_context":
                doc.spans[MENTIONS_KEY] = [doc[i : i + 1] for i, t in enumerate(doc) if t.is_alpha]
            doc = step(doc)
    assert any(entry.name == "checked" for entry in stopped.traceback)
    assert clock.readings > 1 + 3


def test_a_nested_limit_never_extends_the_outer_one() -> None:
    with budget.limit(-1.0), budget.limit(3600.0), pytest.raises(BudgetExceededError) as stopped:
        budget.check()
    assert "-1 s" in stopped.value.detail  # the budget in force is the outer one


def test_a_limit_ends_with_its_block_even_when_reading_fails() -> None:
    with pytest.raises(BudgetExceededError), budget.limit(-1.0):
        budget.check()
    budget.check()


@pytest.mark.parametrize("handed_the_context", [False, True])
def test_a_limit_holds_in_its_own_thread_only(handed_the_context: bool) -> None:
    """Each request has its own deadline: a thread started without one is never stopped,
    nor one handed the context (the budget counts the processor time of the thread that
    set it, and another thread has another clock)."""
    failures: list[BaseException] = []

    def read_elsewhere() -> None:
        try:
            budget.check()
        except BaseException as error:  # reported below
            failures.append(error)

    with budget.limit(-1.0):
        if handed_the_context:
            context = contextvars.copy_context()
            thread = threading.Thread(target=context.run, args=(read_elsewhere,))
        else:
            thread = threading.Thread(target=read_elsewhere)
        thread.start()
        thread.join()
        with pytest.raises(BudgetExceededError):
            budget.check()  # here, it holds
    assert failures == []


def test_the_budget_is_work_done_not_time_waited() -> None:
    """Waiting (for the processor, a lock, the GIL) spends no budget."""
    with budget.limit(0.2):
        time.sleep(0.5)
        budget.check()


def test_the_error_is_a_domain_error_that_names_the_budget_only(
    pipeline: Language,
) -> None:
    with budget.limit(-1.0), pytest.raises(BudgetExceededError) as stopped:
        pipeline(NOTE)
    error = stopped.value
    assert isinstance(error, MedcodeError)
    assert 400 <= error.status_code < 500  # the client can send a shorter note
    assert error.error == "reading_budget_exceeded"
    assert "pneumonia" not in str(error) and "pneumonia" not in error.detail


def test_reading_within_the_budget_gives_the_same_assertions(pipeline: Language) -> None:
    def read() -> list[Assertion]:
        doc = pipeline.make_doc("No fever but cough.")
        for name, step in pipeline.pipeline:
            if name == "medcode_context":
                doc.spans[MENTIONS_KEY] = [doc[1:2], doc[3:4]]
            doc = step(doc)
        return [assertion_of(s) for s in doc.spans[MENTIONS_KEY]]

    with budget.limit(3600.0):
        assert read() == [Assertion.NEGATED, Assertion.PRESENT]
    assert read() == [Assertion.NEGATED, Assertion.PRESENT]

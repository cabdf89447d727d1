"""The hand-coded US notes (tests/data/us_notes): under the `us` conventions no heading
and no code the note denies is ever recommended, whatever the ranker scores: checked with
a ranker that scores every candidate 0.9, and with the small trained test model."""

from pathlib import Path

import pytest

from codes.systems import CodeSystem
from models.conventions import Profile
from models.suggester import Suggester
from models.suggestions import ScoredCode
from nlp.pipeline import NoteReader
from tests.unit.conventions_stub import StubSuggestions
from training.conventions_check import (
    CodedNote,
    CodedNoteError,
    Suggest,
    check,
    format_report,
    read_coded_notes,
)
from training.train import TrainingResult

NOTES = Path(__file__).parents[1] / "data" / "us_notes" / "notes.jsonl"
DENIAL_RULES = {"negation", "hypothetical"}


@pytest.fixture(scope="module")
def notes() -> list[CodedNote]:
    return read_coded_notes(NOTES)


def test_the_notes_cover_every_kind_and_rule(notes: list[CodedNote]) -> None:
    assert len(notes) >= 40
    assert {n.kind for n in notes} == {"discharge", "operative", "ed", "clinic", "radiology"}
    rules: dict[str, int] = {}
    for note in notes:
        for tags in [*note.claim.values(), *note.forbidden.values()]:
            for rule in tags:
                rules[rule] = rules.get(rule, 0) + 1
    assert all(count >= 2 for count in rules.values()), rules


def test_a_bad_line_is_refused_with_its_number(tmp_path: Path) -> None:
    bad = tmp_path / "notes.jsonl"
    bad.write_text('{"id": "x", "kind": "ed", "text": "t", "codes": [], "colour": 1}\n')
    with pytest.raises(CodedNoteError, match=r"notes.jsonl:1: unknown keys \['colour'\]"):
        read_coded_notes(bad)


def _assert_safe(notes: list[CodedNote], suggest: Suggest) -> None:
    report = check(notes, suggest)
    assert report.headings == [], format_report(report)
    assert report.denied == [], format_report(report)
    denied = [hit for hit in report.forbidden_hits if any(r in hit for r in DENIAL_RULES)]
    assert denied == [], format_report(report)


def test_a_ranker_that_scores_everything_high_recommends_no_heading_and_nothing_denied(
    notes: list[CodedNote], stub: StubSuggestions
) -> None:
    _assert_safe(notes, lambda note: stub(note.text, Profile.US, note.setting))


def test_the_trained_test_model_recommends_no_heading_and_nothing_denied(
    notes: list[CodedNote], trained: TrainingResult, reader: NoteReader, suggester: Suggester
) -> None:
    systems = [CodeSystem(s) for s in trained.model.systems]

    def suggest(note: CodedNote) -> list[ScoredCode]:
        setting = note.setting if note.setting in ("inpatient", "outpatient") else None
        return suggester.suggest(trained.model, reader, note.text, systems, setting, Profile.US)  # type: ignore[arg-type]

    _assert_safe(notes, suggest)

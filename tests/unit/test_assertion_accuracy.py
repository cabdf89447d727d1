"""Assertion accuracy of the sentence, section and ConText components on a labelled set.

tests/data/assertions.tsv holds one mention per row: the sentence, the mention (its first
occurrence in the sentence, or the `occurrence`-th when that column says so), the expected
assertion, an optional section header that precedes the sentence on its own line, and the
split. The sentences were written before the rules; "dev" rows were then used while writing
the rules, "heldout" rows were only run once the rules were done. The last "dev" rows came
with later cues ("excluded" before its object, "discarded", "ruled out" after it, a time in
the past, a trailing "?").
"""

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from spacy.language import Language

from nlp.context import MENTIONS_KEY, assertion_of, set_mentions
from nlp.mentions import Assertion
from tests.unit.pipelines import assertion_pipeline

DATA = Path(__file__).resolve().parents[1] / "data" / "assertions.tsv"
MIN_ACCURACY = 0.97  # on each split


@dataclass(frozen=True)
class Row:
    sentence: str
    mention: str
    expected: Assertion
    header: str
    split: str
    occurrence: int

    @property
    def text(self) -> str:
        return f"{self.header}\n{self.sentence}" if self.header else self.sentence

    @property
    def mention_start(self) -> int:
        """Where the mention starts in `text`."""
        at = -1
        for _ in range(self.occurrence):
            at = self.sentence.index(self.mention, at + 1)
        return at + (len(self.header) + 1 if self.header else 0)


def load_rows() -> list[Row]:
    with DATA.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [
            Row(
                sentence=r["sentence"],
                mention=r["mention"],
                expected=Assertion(r["assertion"]),
                header=r["header"] or "",
                split=r["split"],
                occurrence=int(r.get("occurrence") or 1),
            )
            for r in reader
        ]


@pytest.fixture(scope="module")
def pipeline() -> Language:
    return assertion_pipeline()


def predict(pipeline: Language, row: Row) -> Assertion:
    doc = pipeline.make_doc(row.text)
    for name, component in pipeline.pipeline:
        if name == "medcode_context":
            set_mentions(doc, [(row.mention_start, row.mention_start + len(row.mention))])
        doc = component(doc)
    return assertion_of(doc.spans[MENTIONS_KEY][0])


def report(results: list[tuple[Row, Assertion]]) -> tuple[dict[str, float], str]:
    """Accuracy per split ("all" too), and a readable report."""
    lines = []
    accuracy = {}
    for split in ["all", *sorted({r.split for r, _ in results})]:
        chosen = [(r, got) for r, got in results if split in ("all", r.split)]
        right = sum(r.expected == got for r, got in chosen)
        accuracy[split] = right / len(chosen)
        lines.append(f"{split}: {right / len(chosen):.3f} ({right}/{len(chosen)})")
        total, correct = Counter[Assertion](), Counter[Assertion]()
        for r, got in chosen:
            total[r.expected] += 1
            correct[r.expected] += r.expected == got
        for assertion in Assertion:
            if total[assertion]:
                share = correct[assertion] / total[assertion]
                lines.append(
                    f"  {assertion.value:<13}{share:.3f} ({correct[assertion]}/{total[assertion]})"
                )
    for r, got in results:
        if r.expected != got:
            lines.append(f"  wrong [{r.split}] {r.expected.value} -> {got.value}: {r.sentence}")
    return accuracy, "\n".join(lines)


def test_the_set_is_large_and_well_formed() -> None:
    rows = load_rows()
    assert len(rows) >= 150
    assert {r.expected for r in rows} == set(Assertion)
    for row in rows:
        assert row.text[row.mention_start :].startswith(row.mention), row.sentence


def test_assertion_accuracy(pipeline: Language) -> None:
    results = [(row, predict(pipeline, row)) for row in load_rows()]
    accuracy, text = report(results)
    print("\nassertion accuracy\n" + text)
    assert {"dev", "heldout"} <= accuracy.keys()
    assert min(accuracy.values()) >= MIN_ACCURACY, text

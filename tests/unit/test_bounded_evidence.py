"""What keeps the work per note linear in its length: each code keeps a sample of its
evidence spans (models/evidence.py), and the conventions find sentences and covered codes
by bisection (models/conventions/claim.py), never by walking the note or claim per code."""

from codes.instructions import code_references
from codes.systems import CodeSystem
from models.conventions.claim import Claim, NoteView
from models.evidence import SPANS_PER_CODE, SpanSample
from models.suggestions import EvidenceSpan, RankedCode
from nlp.mentions import Assertion

P, N = Assertion.PRESENT, Assertion.NEGATED


def span(start: int, text: str = "pneumonia", assertion: Assertion = P) -> EvidenceSpan:
    return EvidenceSpan(start, start + len(text), text, None, assertion)


def test_a_sample_keeps_every_wording_and_assertion_before_any_repeat() -> None:
    sample: SpanSample[None] = SpanSample()
    for i in range(500):
        sample.add(span(i * 20), None)  # "pneumonia", five hundred times
    sample.add(span(20_000, "pneumonia", N), None)
    sample.add(span(20_100, "lobar pneumonia"), None)
    kept = [s for s, _ in sample]
    assert len(kept) == SPANS_PER_CODE
    assert kept[:3] == [span(0), span(20_000, "pneumonia", N), span(20_100, "lobar pneumonia")]
    assert kept[3:] == [span(i * 20) for i in range(1, SPANS_PER_CODE - 2)]  # then the earliest


def test_a_span_that_comes_again_keeps_each_thing_it_came_with() -> None:
    sample: SpanSample[float] = SpanSample()
    sample.add(span(0), 0.0)
    sample.add(span(0), 1.0)
    sample.add(span(0), 1.0)
    assert list(sample) == [(span(0), 0.0), (span(0), 1.0)]


def test_a_short_note_keeps_all_its_spans() -> None:
    sample: SpanSample[None] = SpanSample()
    spans = [span(i * 20) for i in range(SPANS_PER_CODE)]
    for s in spans:
        sample.add(s, None)
    assert [s for s, _ in sample] == spans


def test_words_around_spans_are_the_words_of_the_sentences_holding_them() -> None:
    text = "Fever and cough. Chest X-ray: lobar pneumonia.\nNo pleural effusion. Sepsis."
    note = NoteView(text, [], None)
    pneumonia = span(text.index("pneumonia"))
    across = EvidenceSpan(text.index("cough"), text.index("Chest") + 5, "x", None, P)
    assert {"lobar", "pneumonia", "chest"} <= note.words_around([pneumonia])
    assert "fever" not in note.words_around([pneumonia])
    assert {"fever", "chest"} <= note.words_around([across])
    assert note.words_around([span(len(text) + 5)]) == frozenset()
    effusion = span(text.index("pleural"), "pleural effusion")
    assert {"pleural", "effus"} & note.absent_words([effusion])


def _ranked(code: str) -> RankedCode:
    return RankedCode(CodeSystem.ICD10CM, code, 0.5, True, (), (), 0.0, 0.0)


def test_the_codes_a_range_covers_are_found_as_the_claim_grows() -> None:
    claim = Claim.of([_ranked(c) for c in ("N18.4", "E11.9", "N18.30", "N19", "N18")], {})
    found = claim.covered_by(CodeSystem.ICD10CM, code_references("N18.1-N18.4, N18.9"))
    assert [d.code for d in found] == ["N18.4", "N18.30"]
    claim.put(CodeSystem.ICD10CM, "N18.9", claim.drafts[("icd10cm", "N18")], "added")
    found = claim.covered_by(CodeSystem.ICD10CM, code_references("N18.1-N18.4, N18.9"))
    assert [d.code for d in found] == ["N18.4", "N18.30", "N18.9"]
    assert claim.covered_by(CodeSystem.ICD10PCS, code_references("N18")) == []

"""What keeps the work per note linear in its length: each code keeps a sample of its
evidence spans (models/evidence.py), and the conventions find sentences and covered codes
by bisection (models/conventions/claim.py), never by walking the note or claim per code."""

from codes.instructions import code_references
from codes.systems import CodeSystem
from models.conventions.claim import Claim, NoteView
from models.evidence import SPANS_PER_CODE, NoteEvidence, Sample
from models.suggestions import EvidenceSpan, RankedCode
from nlp.mentions import Assertion

P, N = Assertion.PRESENT, Assertion.NEGATED


def span(start: int, text: str = "pneumonia", assertion: Assertion = P) -> EvidenceSpan:
    return EvidenceSpan(start, start + len(text), text, None, assertion)


def _evidence(spans: list[EvidenceSpan]) -> tuple[NoteEvidence, Sample]:
    found = NoteEvidence(None)  # type: ignore[arg-type]  # no code facts needed here
    kinds: dict[tuple[str, Assertion], int] = {}
    for s in spans:
        found.spans.append(s)
        found.kinds.append(kinds.setdefault((s.text.lower(), s.assertion), len(kinds)))
    sample = Sample()
    for i in range(len(spans)):
        found.keep(sample, i)
    return found, sample


def test_a_sample_keeps_the_first_spans_then_only_new_wordings_and_assertions() -> None:
    spans = [span(i * 20) for i in range(500)]  # "pneumonia", five hundred times
    spans += [span(20_000, "pneumonia", N), span(20_100, "lobar pneumonia")]
    spans += [span(20_200, "Lobar pneumonia")]  # a wording it holds
    found, sample = _evidence(spans)
    assert [found.spans[i] for i in sample] == [*spans[:SPANS_PER_CODE], *spans[500:502]]


def test_a_mention_is_kept_once() -> None:
    found, sample = _evidence([span(0)])
    found.keep(sample, 0)
    assert list(sample) == [0]


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

"""Which root operation a procedure statement names, and which of its words name it.

Four sources, merged per operation (the likeliest rank wins):
- the tables' root operation labels ("Resection", "Ultrasonography");
- the index terms naming an operation ("Biopsy: see Excision with qualifier Diagnostic",
  "Colectomy: see Resection, Gastrointestinal System 0DT"), from the catalog build;
- the operation cues of rules/pcs_operations.json ("ORIF" is a Reposition);
- surgical words taken apart by the statement ("colectomy": -ectomy, Resection first).

A word that names a procedure only in some sentences ("drainage", "dilation", "occlusion"
are findings too) counts when the statement reads like a procedure (see PcsRules).
"""

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from codes.pcs_structure import PcsStructure
from nlp.pcs_rules import PcsRules
from nlp.pcs_statement import Statement
from nlp.pcs_tables import PcsTableIndex
from nlp.terms import content_stems

# Phrase words may spread over n * _SPREAD + _SLACK tokens (as in nlp/term_matcher.py).
_SPREAD, _SLACK = 2, 2


@dataclass(frozen=True, slots=True)
class OperationChoice:
    operation: str  # axis-3 label
    tables: tuple[str, ...] | None  # None: every table of the operation
    rank: int  # 0 for the likeliest reading of the words
    qualifier: str | None = None  # "Diagnostic" when the words say so (a biopsy)
    approach: str | None = None  # what a surgical word's ending suggests (-oscopy)


@dataclass(frozen=True, slots=True)
class OperationHit:
    first: int  # token positions in the statement, inclusive
    last: int
    choices: tuple[OperationChoice, ...]
    procedure: bool  # the words name a procedure whatever the sentence says


@dataclass(frozen=True, slots=True)
class _Entry:
    stems: frozenset[str]
    choices: tuple[OperationChoice, ...]
    procedure: bool


class OperationFinder:
    def __init__(self, structure: PcsStructure, rules: PcsRules, tables: PcsTableIndex) -> None:
        self.rules = rules
        grouped: dict[frozenset[str], list[OperationChoice]] = defaultdict(list)
        for operation in tables.by_operation:
            grouped[frozenset(content_stems(operation))].append(OperationChoice(operation, None, 0))
        for term in structure.operation_terms:
            in_scope = tuple(t for t in term.tables if t in tables.tables)
            stems = frozenset(content_stems(term.term))
            if in_scope and stems:
                grouped[stems].append(OperationChoice(term.operation, in_scope, 1, term.qualifier))
        entries = [
            _Entry(stems, tuple(choices), bool(stems & rules.procedure_nouns))
            for stems, choices in grouped.items()
            if stems
        ]
        frequency = Counter(s for e in entries for s in e.stems)
        self._index: dict[str, list[_Entry]] = defaultdict(list)
        for entry in entries:
            self._index[min(entry.stems, key=lambda s: (frequency[s], s))].append(entry)

    def find(self, statement: Statement) -> list[OperationHit]:
        """Every operation named in the statement, in text order.

        Words that say how ("CT-guided", "ultrasound guided") name no operation of their
        own, and a word a cue names ("angioplasty": Dilation) is not also read by its ending
        ("-plasty": Repair first).
        """
        how = [(h.first, h.last) for h in statement.approach_cues]
        cued = {p for h in statement.operation_cues for p in range(h.first, h.last + 1)}
        hits = [*self._vocabulary_hits(statement), *self._cue_hits(statement)]
        for part in statement.word_parts:
            if part.position not in cued:
                choices = tuple(
                    OperationChoice(op, None, rank, part.suffix.qualifier, part.suffix.approach)
                    for rank, op in enumerate(part.suffix.operations)
                )
                hits.append(OperationHit(part.position, part.position, choices, True))
        kept = [h for h in hits if not any(_inside(h, span) for span in how)]
        return sorted(kept, key=lambda h: (h.first, h.last))

    def _cue_hits(self, statement: Statement) -> Iterable[OperationHit]:
        for hit in statement.operation_cues:
            choices = tuple(
                OperationChoice(op, None, rank) for rank, op in enumerate(hit.cue.values)
            )
            procedure = len(hit.cue.stems) > 1 or hit.cue.stems[0] in self.rules.procedure_nouns
            yield OperationHit(hit.first, hit.last, choices, procedure)

    def _vocabulary_hits(self, statement: Statement) -> Iterable[OperationHit]:
        stems = statement.stems
        for word_stem in stems:
            for entry in self._index.get(word_stem, ()):
                if entry.stems <= stems:
                    span = _compact_span(statement, entry.stems, word_stem)
                    if span is not None:
                        yield OperationHit(span[0], span[1], entry.choices, entry.procedure)


def _inside(hit: OperationHit, span: tuple[int, int]) -> bool:
    """The hit lies within the longer span: "CT" in "CT-guided"."""
    first, last = span
    return first <= hit.first and hit.last <= last and last - first > hit.last - hit.first


def _compact_span(
    statement: Statement, stems: frozenset[str], anchor: str
) -> tuple[int, int] | None:
    """The positions of the phrase's words around its anchor word, if they stand close."""
    reach = len(stems) * _SPREAD + _SLACK
    for position in statement.positions(anchor):
        chosen = [position]
        for other in stems - {anchor}:
            near = [p for p in statement.positions(other) if abs(p - position) <= reach]
            if not near:
                break
            chosen.append(min(near, key=lambda p: abs(p - position)))
        else:
            return min(chosen), max(chosen)
    return None

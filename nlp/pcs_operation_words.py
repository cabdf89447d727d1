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
            if operation not in rules.everyday_labels:
                stems = frozenset(content_stems(operation))
                grouped[stems].append(OperationChoice(operation, None, 0))
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
        # For the quick test of may_name_one: the words that may start an operation hit,
        # those that need a sentence reading like a procedure, and the words that make it so.
        self._sure: set[str] = set()
        self._unsure: set[str] = set()
        for entry in entries:
            rarest = min(entry.stems, key=lambda s: (frequency[s], s))
            self._index[rarest].append(entry)
            if entry.procedure:  # a procedure noun of the entry must be there
                self._sure.update(entry.stems & rules.procedure_nouns)
            else:
                self._unsure.add(rarest)
        for cue in rules.operation_cues.cues:
            # Every word of a cue must be there: its last is the least common ("x ray").
            (self._sure if self._is_procedure(cue.stems) else self._unsure).add(cue.stems[-1])
        self._context = set(rules.context_words) | {
            first
            for cues in (rules.approach_cues, rules.value_cues.get("device"))
            if cues is not None
            for first in cues.by_first
        }

    def may_name_one(self, stems: Iterable[str], words: Iterable[str]) -> bool:
        """A quick test that a text could name an operation: most sentences of a note name
        none, and need no statement read."""
        present = set(stems)
        if not present.isdisjoint(self._sure):
            return True
        if not present.isdisjoint(self._unsure) and not present.isdisjoint(self._context):
            return True
        pattern = self.rules.suffix_pattern
        return any(len(w) >= 6 and pattern.search(w) for w in words)

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
            yield OperationHit(hit.first, hit.last, choices, self._is_procedure(hit.cue.stems))

    def _is_procedure(self, stems: tuple[str, ...]) -> bool:
        """Cue words that name a procedure whatever the sentence: two words or more
        ("open reduction"), or a procedure noun ("biopsy")."""
        return len(stems) > 1 or stems[0] in self.rules.procedure_nouns

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

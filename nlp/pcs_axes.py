"""Axes 5-7 of a PCS code (approach, device, qualifier, or a section's own), value by value.

For one axis of one table row set, the value is, in this order:
1. none the statement allows, when it names an approach the rows do not allow ("arthroscopic"
   where only Open is allowed): each value, guessed, saying so;
2. the rows' only value;
3. the value the statement names: approach cues (rules/pcs_approaches.json); device and
   qualifier cues (rules/pcs_devices.json, rules/pcs_qualifiers.json); what the operation
   words imply (a biopsy's Diagnostic); the value's label or synonyms outside the operation
   words, the most specific first;
4. the "none" value (No Device, No Qualifier, None): PCS guideline B6.1a, a device is coded
   only if one remains;
5. else each value, up to a bound, as a guess the reason says was not stated.
"""

from dataclasses import dataclass

from nlp.pcs_operation_words import OperationChoice
from nlp.pcs_statement import CueHit, Statement, distance
from nlp.pcs_tables import AxisValue, CompiledTable

# How much an axis value is supported: named by the words (or the table's only value), a
# default or a weaker reading, a guess among several.
STATED, DEFAULT, GUESSED = 1.0, 0.8, 0.25


@dataclass(frozen=True, slots=True)
class AxisChoice:
    character: str
    label: str
    support: float
    evidence: str  # which words chose it, or why it was chosen without words


def choose_value(
    statement: Statement,
    focus: tuple[int, int],
    table: CompiledTable,
    axis: int,
    allowed: list[str],
    hints: tuple[OperationChoice, ...],
    alternatives: int,
) -> list[AxisChoice]:
    values = [table.values[axis][c] for c in allowed]
    approach = table.keys[axis] == "approach"
    if approach and _contradicted(statement, values):
        # "Arthroscopic" where the row allows only Open: not this row, most likely.
        said = ", ".join(f"'{statement.text(h.first, h.last)}'" for h in statement.approach_cues)
        return [
            AxisChoice(v.character, v.label, GUESSED, f"the statement says {said}")
            for v in values[:alternatives]
        ]
    if len(values) == 1:
        value = values[0]
        return [AxisChoice(value.character, value.label, STATED, "the row's only value")]
    if approach:
        stated = _approach(statement, focus, values, hints)
    else:
        stated = _named(statement, focus, table.keys[axis], values, hints)
    if stated is not None:
        return [stated]
    empty = [v for v in values if v.empty]
    if empty:
        return [AxisChoice(empty[0].character, empty[0].label, DEFAULT, "none named")]
    name = table.keys[axis].replace("_", " ")
    guesses = sorted(values, key=lambda v: (v.size, v.character))[:alternatives]
    return [
        AxisChoice(v.character, v.label, GUESSED, f"{name} not stated, one of {len(values)}")
        for v in guesses
    ]


def _approach(
    statement: Statement,
    focus: tuple[int, int],
    values: list[AxisValue],
    hints: tuple[OperationChoice, ...],
) -> AxisChoice | None:
    by_label = {v.label: v for v in values}
    best: tuple[tuple[float, int, int], CueHit, AxisValue] | None = None
    for hit in statement.approach_cues:
        for rank, label in enumerate(hit.cue.values):
            if label in by_label:
                key = (hit.cue.strength, -distance(hit, focus), -rank)
                if best is None or key > best[0]:
                    best = (key, hit, by_label[label])
                break
    if best is not None:
        (strength, _, rank), hit, value = best
        support = STATED if strength >= 1 and rank == 0 else DEFAULT
        words_said = statement.text(hit.first, hit.last)
        return AxisChoice(value.character, value.label, support, f"'{words_said}'")
    for hint in hints:
        if hint.approach in by_label:
            value = by_label[hint.approach]
            return AxisChoice(value.character, value.label, DEFAULT, "the procedure word")
    return None


def _contradicted(statement: Statement, values: list[AxisValue]) -> bool:
    """The statement names approaches surely, and the row allows none of them."""
    labels = {v.label for v in values}
    sure = [h for h in statement.approach_cues if h.cue.strength >= 1]
    return bool(sure) and not any(set(h.cue.values) & labels for h in sure)


def _named(
    statement: Statement,
    focus: tuple[int, int],
    key: str,
    values: list[AxisValue],
    hints: tuple[OperationChoice, ...],
) -> AxisChoice | None:
    """The value the statement names: by a cue, by a hint of the operation words
    (a biopsy's Diagnostic), or by its label or a synonym outside the operation words."""
    stems = statement.stems
    blocked = statement.blocked.get(key, set())
    found: dict[str, tuple[tuple[int, int], str]] = {}
    by_label = {v.label: v for v in values}
    for hit in statement.value_cues.get(key, ()):
        label = next((v for v in hit.cue.values if v in by_label), None)
        if label is not None:
            rank = (by_label[label].size, -distance(hit, focus))
            _keep(found, label, rank, f"'{statement.text(hit.first, hit.last)}'")
    if key == "qualifier":
        for hint in hints:
            if hint.qualifier in by_label:
                rank = (by_label[hint.qualifier].size, 0)
                _keep(found, hint.qualifier, rank, "the procedure word")
    for value in values:
        if value.empty:
            continue
        for phrase in value.phrases:
            if not phrase or not phrase <= stems:
                continue
            # The operation's own words are not a device's: "drainage" is no Drainage Device.
            outside = {
                s: [
                    p
                    for p in statement.positions(s)
                    if not focus[0] <= p <= focus[1] and p not in blocked
                ]
                for s in phrase
            }
            if all(outside.values()):
                near = min(abs(p - focus[0]) for ps in outside.values() for p in ps)
                rank = (len(phrase) + len(value.optional & stems), -near)
                _keep(found, value.label, rank, f"'{', '.join(sorted(phrase))}'")
    if not found:
        return None
    label, (_, evidence) = max(found.items(), key=lambda item: (item[1][0], item[0]))
    value = by_label[label]
    return AxisChoice(value.character, value.label, STATED, evidence)


def _keep(
    found: dict[str, tuple[tuple[int, int], str]], label: str, rank: tuple[int, int], why: str
) -> None:
    if label not in found or rank > found[label][0]:
        found[label] = (rank, why)

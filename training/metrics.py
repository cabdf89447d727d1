"""Evaluation metrics: CodiEsp's ranked-list MAP and micro P/R/F1 of the recommended sets.

Everything here is a pure function over plain data: case ids map to codes (plain strings), and
codes are compared lower-case. Compute the figures of each code system separately: split the
(system, code) pairs of every case with `split_by_system` and evaluate each system on its own,
as the CodiEsp organisers did for the diagnosis (ICD-10-CM) and procedure (ICD-10-PCS) tracks.

How this follows the organisers' scripts (codiesp-evaluation-script, CLEF eHealth 2020, which
compute MAP with trectools 0.0.42, ``get_map(trec_eval=False)``):

- Same: codes lower-cased; the ranked list taken in the order given, with repeated codes
  removed keeping the first; AP divides by the number of gold codes of the case; a case that is
  ranked but has no gold codes counts as AP 0; micro P/R/F1 sum true positives, predicted and
  gold pairs over all cases, with F1 = 0 when P + R = 0.
- Different: trectools averages over the cases of the prediction file, so a case with gold
  codes that got no prediction at all drops out of its mean; here it counts as AP 0, so a
  system cannot raise its MAP by staying silent. The two agree whenever every gold case gets
  at least one suggestion.
- Left to the caller: the organisers first drop predicted codes missing from the task's list
  of valid codes; filter ``ranked`` / ``predicted`` the same way before calling if needed.
"""

import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from itertools import groupby
from typing import TypeVar

T = TypeVar("T")

DEFAULT_K = 30
CATEGORY_LENGTH = 3


# --- Code forms -------------------------------------------------------------------------------


def normalise_code(code: str) -> str:
    """The form codes are compared in: lower case (``"E11.9"`` -> ``"e11.9"``)."""
    return code.lower()


def category(code: str) -> str:
    """The category of a code: its first three characters, lower case (``"E11.65"`` -> ``"e11"``).

    For ICD-10-PCS this is section, body system and root operation (``"0DTJ4ZZ"`` -> ``"0dt"``).
    """
    return code[:CATEGORY_LENGTH].lower()


def _code_form(by_category: bool) -> Callable[[str], str]:
    return category if by_category else normalise_code


def _require_codes(codes: Iterable[str]) -> None:
    # A bare string is an iterable of one-character "codes": almost certainly a caller's slip.
    if isinstance(codes, str):
        raise TypeError(f"expected a collection of codes, got the string {codes!r}")


def ranked_unique(ranked: Iterable[str], *, by_category: bool = False) -> list[str]:
    """The ranked codes in comparison form (lower case, or categories) with repeats removed.

    Each code keeps the rank of its first appearance, so with ``by_category`` the result is the
    order in which each category first appears (``["E11.9", "I10", "E11.65"]`` ->
    ``["e11", "i10"]``).
    """
    _require_codes(ranked)
    form = _code_form(by_category)
    return list(dict.fromkeys(form(code) for code in ranked))


def _check_cut(k: int | None) -> None:
    if k is not None and k < 1:
        raise ValueError(f"k must be at least 1, got {k}")


def _code_set(codes: Iterable[str], *, by_category: bool) -> frozenset[str]:
    _require_codes(codes)
    form = _code_form(by_category)
    return frozenset(form(code) for code in codes)


# --- Ranked-list metrics ----------------------------------------------------------------------


def average_precision(
    gold: Collection[str],
    ranked: Sequence[str],
    *,
    k: int | None = None,
    by_category: bool = False,
) -> float:
    """TREC-style average precision of one case's ranked codes against its gold codes.

    The ranked list is lower-cased (or mapped to categories) and de-duplicated keeping first
    occurrences, then cut at ``k`` if given. Walking it, every rank r whose code is gold adds
    precision@r = (gold codes among the first r) / r. The sum is divided by the number of
    distinct gold codes of the case, whether retrieved or not (and not by the number
    retrieved), so a gold code missing from the list (or below the cut) contributes 0.

    Example: gold {a, b, c}, ranked [a, x, b, a, y] -> [a, x, b, y];
    AP = (1/1 + 2/3) / 3 = 0.5556.

    A case without gold codes, or with an empty ranked list, has AP 0.
    """
    _check_cut(k)
    relevant = _code_set(gold, by_category=by_category)
    ranking = ranked_unique(ranked, by_category=by_category)[:k]
    if not relevant or not ranking:
        return 0.0
    precisions: list[float] = []
    for rank, code in enumerate(ranking, start=1):
        if code in relevant:
            precisions.append((len(precisions) + 1) / rank)
    return math.fsum(precisions) / len(relevant)


def evaluated_cases(
    gold: Mapping[str, Collection[str]], ranked: Mapping[str, Sequence[str]]
) -> list[str]:
    """The cases a MAP averages over, sorted: every case with gold codes or with suggestions.

    A case with gold codes counts whether or not it got suggestions (AP 0 without). A case
    without gold codes (absent from ``gold`` or with an empty set) counts, as AP 0, when it got
    suggestions, and is left out when it got none either.
    """
    return sorted(
        case for case in gold.keys() | ranked.keys() if gold.get(case) or ranked.get(case)
    )


def mean_average_precision(
    gold: Mapping[str, Collection[str]],
    ranked: Mapping[str, Sequence[str]],
    *,
    k: int | None = None,
    by_category: bool = False,
) -> float:
    """MAP: the mean of `average_precision` over the `evaluated_cases`.

    With ``k`` this is MAP@k: each de-duplicated ranked list is cut at k, while each AP still
    divides by the case's full number of gold codes. With ``by_category`` every gold and ranked
    code is first mapped to its category (first three characters) and de-duplicated after the
    mapping. No evaluated case at all gives 0.
    """
    _check_cut(k)
    cases = evaluated_cases(gold, ranked)
    if not cases:
        return 0.0
    scores = (
        average_precision(gold.get(case, ()), ranked.get(case, ()), k=k, by_category=by_category)
        for case in cases
    )
    return math.fsum(scores) / len(cases)


# --- Set metrics ------------------------------------------------------------------------------


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


@dataclass(frozen=True, slots=True)
class MicroCounts:
    """Micro-averaged counts over all cases: true positives, predicted pairs, gold pairs."""

    true_positives: int
    predicted: int
    gold: int

    @property
    def precision(self) -> float:
        """TP / predicted pairs; 0 when nothing was predicted."""
        return _ratio(self.true_positives, self.predicted)

    @property
    def recall(self) -> float:
        """TP / gold pairs; 0 when there is no gold."""
        return _ratio(self.true_positives, self.gold)

    @property
    def f1(self) -> float:
        """2PR / (P + R), 0 when P + R = 0.

        Computed from the counts as 2TP / (predicted + gold), the same value, so that equal
        F1s compare equal.
        """
        return _ratio(2 * self.true_positives, self.predicted + self.gold)


def micro_counts(
    gold: Mapping[str, Collection[str]],
    predicted: Mapping[str, Collection[str]],
    *,
    by_category: bool = False,
) -> MicroCounts:
    """Sum TP, predicted and gold (case, code) pairs over all cases, codes compared lower-case.

    A case missing from ``predicted`` predicts nothing (its gold codes are false negatives); a
    case missing from ``gold`` has no gold (its predictions are false positives). With
    ``by_category`` both sides are first mapped to categories, so a pair is a (case, category).
    """
    true_positives = predicted_pairs = gold_pairs = 0
    for case in gold.keys() | predicted.keys():
        relevant = _code_set(gold.get(case, ()), by_category=by_category)
        guessed = _code_set(predicted.get(case, ()), by_category=by_category)
        true_positives += len(relevant & guessed)
        predicted_pairs += len(guessed)
        gold_pairs += len(relevant)
    return MicroCounts(true_positives, predicted_pairs, gold_pairs)


# --- Thresholds -------------------------------------------------------------------------------


def _best_scores(scored: Iterable[tuple[str, float]]) -> dict[str, float]:
    """Each lower-cased code with the highest score it was given."""
    best: dict[str, float] = {}
    for code, score in scored:
        if math.isnan(score):
            raise ValueError(f"score of {code!r} is NaN")
        key = normalise_code(code)
        best[key] = max(score, best.get(key, -math.inf))
    return best


def _counts_by_threshold(
    gold: Mapping[str, Collection[str]],
    scored: Mapping[str, Sequence[tuple[str, float]]],
) -> list[tuple[float, MicroCounts]]:
    """Micro counts of "recommend every code scoring >= t" at each distinct score t, descending."""
    relevant = {case: _code_set(codes, by_category=False) for case, codes in gold.items()}
    gold_pairs = sum(len(codes) for codes in relevant.values())
    hits = sorted(
        (
            (score, code in relevant.get(case, frozenset()))
            for case, pairs in scored.items()
            for code, score in _best_scores(pairs).items()
        ),
        key=lambda hit: -hit[0],
    )
    points: list[tuple[float, MicroCounts]] = []
    true_positives = predicted = 0
    for threshold, group in groupby(hits, key=lambda hit: hit[0]):
        for _, is_gold in group:
            true_positives += is_gold
            predicted += 1
        points.append((threshold, MicroCounts(true_positives, predicted, gold_pairs)))
    return points


def precision_recall_curve(
    gold: Mapping[str, Collection[str]],
    scored: Mapping[str, Sequence[tuple[str, float]]],
) -> list[tuple[float, float, float]]:
    """(threshold, micro precision, micro recall) at every distinct score, highest first.

    At threshold t each case predicts its codes scoring >= t; a code scored several times in a
    case keeps its highest score. Recall divides by all gold pairs, including those of cases
    absent from ``scored``. Empty when nothing is scored.
    """
    points = _counts_by_threshold(gold, scored)
    return [(threshold, counts.precision, counts.recall) for threshold, counts in points]


def best_f1_threshold(
    gold: Mapping[str, Collection[str]],
    scored: Mapping[str, Sequence[tuple[str, float]]],
) -> tuple[float, float]:
    """(threshold, micro F1) of the threshold with the best micro F1 on the curve above.

    Ties go to the higher threshold (fewer recommendations for the same F1). Use it per code
    system to tune that system's decision threshold. Raises ValueError when nothing is scored,
    since there is then no threshold to choose.
    """
    points = _counts_by_threshold(gold, scored)
    if not points:
        raise ValueError("no scored codes: cannot choose a threshold")
    best_threshold, best_counts = points[0]
    for threshold, counts in points[1:]:
        if counts.f1 > best_counts.f1:
            best_threshold, best_counts = threshold, counts
    return best_threshold, best_counts.f1


# --- Per system and summary -------------------------------------------------------------------


def split_by_system(pairs: Mapping[str, Iterable[tuple[str, T]]]) -> dict[str, dict[str, list[T]]]:
    """Split each case's (system, item) pairs into system -> case -> items, in the given order.

    Items are usually codes (``("icd10cm", "e11.9")``), but (code, score) pairs work too, e.g.
    for `best_f1_threshold` per system. A system only lists the cases that have items in it,
    and systems are listed in order of first appearance.
    """
    by_system: dict[str, dict[str, list[T]]] = {}
    for case, case_pairs in pairs.items():
        for system, item in case_pairs:
            by_system.setdefault(system, {}).setdefault(case, []).append(item)
    return by_system


@dataclass(frozen=True, slots=True)
class EvaluationResult:
    """The figures of one evaluation (one code system): see `evaluate`."""

    map: float
    map_at_k: float
    map_category: float
    precision: float
    recall: float
    f1: float
    precision_category: float
    recall_category: float
    f1_category: float
    k: int
    cases: int
    gold_pairs: int
    candidate_recall: float = 0.0  # gold pairs anywhere in the ranked list

    def as_dict(self) -> dict[str, float | int]:
        """The figures as a JSON-ready dict keyed by field name."""
        return asdict(self)


def evaluate(
    gold: Mapping[str, Collection[str]],
    ranked: Mapping[str, Sequence[str]],
    predicted: Mapping[str, Collection[str]],
    *,
    k: int = DEFAULT_K,
) -> EvaluationResult:
    """All figures of one code system.

    ``gold``: case -> gold codes; ``ranked``: case -> suggested codes, best first;
    ``predicted``: case -> the recommended codes (the thresholded set).

    - map, map_at_k, map_category: `mean_average_precision` in full, cut at ``k``, and on
      categories;
    - precision, recall, f1 (and the ``_category`` variants): `micro_counts` of ``predicted``;
    - cases: the number of `evaluated_cases` (the MAP denominator);
    - gold_pairs: the number of distinct lower-cased (case, code) gold pairs;
    - candidate_recall: the share of those pairs found anywhere in ``ranked``.
    """
    exact = micro_counts(gold, predicted)
    by_category = micro_counts(gold, predicted, by_category=True)
    return EvaluationResult(
        map=mean_average_precision(gold, ranked),
        map_at_k=mean_average_precision(gold, ranked, k=k),
        map_category=mean_average_precision(gold, ranked, by_category=True),
        precision=exact.precision,
        recall=exact.recall,
        f1=exact.f1,
        precision_category=by_category.precision,
        recall_category=by_category.recall,
        f1_category=by_category.f1,
        k=k,
        cases=len(evaluated_cases(gold, ranked)),
        gold_pairs=exact.gold,
        candidate_recall=micro_counts(gold, ranked).recall,
    )

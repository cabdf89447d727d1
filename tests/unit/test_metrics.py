import json
import random

import pytest
from sklearn.metrics import average_precision_score

from training.metrics import (
    EvaluationResult,
    average_precision,
    best_f1_threshold,
    evaluate,
    evaluated_cases,
    mean_average_precision,
    micro_counts,
    precision_recall_curve,
    ranked_unique,
    split_by_system,
)

# --- Average precision of one case ------------------------------------------------------------


def test_average_precision_removes_repeats_and_divides_by_the_gold_count() -> None:
    # [a, x, b, a, y] -> [a, x, b, y]; gold at ranks 1 and 3: (1/1 + 2/3) / 3 gold = 5/9
    assert average_precision({"a", "b", "c"}, ["a", "x", "b", "a", "y"]) == pytest.approx(5 / 9)
    assert average_precision({"a", "b", "c"}, ["a", "x", "b", "a", "y"]) == pytest.approx(
        0.5556, abs=1e-4
    )


def test_unretrieved_gold_codes_lower_average_precision() -> None:
    # only a retrieved, at rank 1: 1/1 divided by 2 gold codes (not by 1 retrieved)
    assert average_precision({"a", "b"}, ["a"]) == pytest.approx(0.5)


def test_a_perfect_ranking_scores_one_and_an_empty_ranking_zero() -> None:
    assert average_precision({"a", "b"}, ["b", "a"]) == pytest.approx(1.0)
    assert average_precision({"a", "b"}, []) == 0.0
    assert average_precision(set(), ["a"]) == 0.0


def test_codes_are_compared_lower_case() -> None:
    # ["E11.9", "e11.9", "I10"] -> ["e11.9", "i10"]: both gold, ranks 1 and 2: (1 + 2/2) / 2 = 1
    assert ranked_unique(["E11.9", "e11.9", "I10"]) == ["e11.9", "i10"]
    assert average_precision({"e11.9", "I10"}, ["E11.9", "e11.9", "I10"]) == pytest.approx(1.0)


def test_a_bare_string_is_refused_as_a_list_of_codes() -> None:
    with pytest.raises(TypeError, match="string"):
        average_precision({"e11.9"}, "e11.9")


# --- Which cases MAP averages over ------------------------------------------------------------


def test_a_case_without_gold_but_with_suggestions_counts_as_zero() -> None:
    # c1: AP 1; c2 (absent from gold) and c3 (empty gold) were ranked: AP 0 each -> 1/3
    gold = {"c1": {"a"}, "c3": set[str]()}
    ranked = {"c1": ["a"], "c2": ["x"], "c3": ["y"]}
    assert evaluated_cases(gold, ranked) == ["c1", "c2", "c3"]
    assert mean_average_precision(gold, ranked) == pytest.approx(1 / 3)


def test_a_case_with_gold_but_no_suggestions_counts_as_zero() -> None:
    # c1: AP 1; c2 (absent from ranked) and c3 (empty list): AP 0 each -> 1/3
    gold = {"c1": {"a"}, "c2": {"b"}, "c3": {"c"}}
    ranked = {"c1": ["a"], "c3": []}
    assert mean_average_precision(gold, ranked) == pytest.approx(1 / 3)


def test_a_case_without_gold_and_without_suggestions_is_left_out() -> None:
    # c2 and c3 have neither: only c1 (AP 1) is in the mean
    gold = {"c1": {"a"}, "c2": set[str]()}
    ranked = {"c1": ["a"], "c2": [], "c3": []}
    assert evaluated_cases(gold, ranked) == ["c1"]
    assert mean_average_precision(gold, ranked) == pytest.approx(1.0)


def test_nothing_to_evaluate_gives_zero() -> None:
    assert mean_average_precision({}, {}) == 0.0


# --- MAP@k ------------------------------------------------------------------------------------


def test_map_at_k_cuts_after_removing_repeats_and_keeps_the_full_gold_count() -> None:
    gold = {"c1": {"a", "b", "c"}}
    ranked = {"c1": ["a", "a", "x", "b", "c"]}
    # -> [a, x, b, c]; full: (1/1 + 2/3 + 3/4) / 3 = 29/36
    assert mean_average_precision(gold, ranked) == pytest.approx(29 / 36)
    # cut at 2 -> [a, x]: (1/1) / 3 gold (not / 1 retrieved)
    assert mean_average_precision(gold, ranked, k=2) == pytest.approx(1 / 3)
    # the cut comes after de-duplication: [a, a, b] -> [a, b] -> (1 + 2/2) / 2 = 1 (not [a] -> 1/2)
    assert mean_average_precision({"c1": {"a", "b"}}, {"c1": ["a", "a", "b"]}, k=2) == 1.0


def test_k_must_be_positive() -> None:
    with pytest.raises(ValueError, match="k must be"):
        mean_average_precision({"c1": {"a"}}, {"c1": ["a"]}, k=0)


# --- Category variant -------------------------------------------------------------------------


def test_category_variant_maps_codes_to_their_first_three_characters() -> None:
    gold = {"E11.9", "E11.65", "I10"}
    ranked = ["e11.8", "J18.9", "e11.9", "I10"]
    # categories: gold {e11, i10}; ranked [e11, j18, e11, i10] -> [e11, j18, i10]
    # hits at ranks 1 and 3: (1/1 + 2/3) / 2 = 5/6
    assert ranked_unique(ranked, by_category=True) == ["e11", "j18", "i10"]
    assert average_precision(gold, ranked, by_category=True) == pytest.approx(5 / 6)
    # exact codes: hits e11.9 at rank 3 and i10 at rank 4: (1/3 + 2/4) / 3 gold = 5/18
    assert average_precision(gold, ranked) == pytest.approx(5 / 18)


def test_category_order_is_the_order_of_first_appearance() -> None:
    assert ranked_unique(["E11.9", "I10", "E11.65"], by_category=True) == ["e11", "i10"]


# --- Micro precision, recall, F1 --------------------------------------------------------------


def test_micro_scores_sum_pairs_over_all_cases() -> None:
    gold = {"c1": {"a", "b", "c"}, "c2": {"d"}, "c3": {"e"}}
    # c3 is missing (predicts nothing); c4 has no gold (its codes are false positives)
    predicted = {"c1": {"A", "b", "x"}, "c2": {"d"}, "c4": {"z", "w"}}
    counts = micro_counts(gold, predicted)
    # TP: c1 {a, b} + c2 {d} = 3; predicted: 3 + 1 + 2 = 6; gold: 3 + 1 + 1 = 5
    assert (counts.true_positives, counts.predicted, counts.gold) == (3, 6, 5)
    assert counts.precision == pytest.approx(3 / 6)
    assert counts.recall == pytest.approx(3 / 5)
    # 2PR / (P + R) = 2 * 0.5 * 0.6 / 1.1 = 6/11 = 2TP / (predicted + gold)
    assert counts.f1 == pytest.approx(6 / 11)


def test_micro_f1_is_zero_without_true_positives() -> None:
    counts = micro_counts({"c1": {"a"}}, {"c1": {"b"}})
    assert (counts.precision, counts.recall, counts.f1) == (0.0, 0.0, 0.0)
    nothing = micro_counts({}, {})
    assert (nothing.precision, nothing.recall, nothing.f1) == (0.0, 0.0, 0.0)


def test_micro_category_scores_count_categories_once() -> None:
    # gold categories {e11}; predicted {E11.8} -> {e11}: TP 1 of 1 predicted, 1 gold
    counts = micro_counts({"c1": {"e11.9", "e11.65"}}, {"c1": {"E11.8"}}, by_category=True)
    assert (counts.true_positives, counts.predicted, counts.gold) == (1, 1, 1)
    assert counts.f1 == 1.0


# --- Precision-recall curve and threshold -----------------------------------------------------

GOLD = {"c1": {"a", "b"}, "c2": {"c"}}
SCORED = {
    "c1": [("a", 0.9), ("x", 0.8), ("b", 0.4), ("A", 0.2)],  # A repeats a: a keeps 0.9
    "c2": [("c", 0.8), ("y", 0.3)],
}


def test_precision_recall_curve_at_every_distinct_score() -> None:
    # 3 gold pairs.  t=0.9: {a} TP 1/1 -> P 1, R 1/3
    # t=0.8: + x, c -> TP 2 of 3 -> P 2/3, R 2/3
    # t=0.4: + b    -> TP 3 of 4 -> P 3/4, R 1
    # t=0.3: + y    -> TP 3 of 5 -> P 3/5, R 1
    curve = precision_recall_curve(GOLD, SCORED)
    assert [t for t, _, _ in curve] == [0.9, 0.8, 0.4, 0.3]
    assert [p for _, p, _ in curve] == pytest.approx([1, 2 / 3, 3 / 4, 3 / 5])
    assert [r for _, _, r in curve] == pytest.approx([1 / 3, 2 / 3, 1, 1])


def test_best_f1_threshold_picks_the_best_micro_f1() -> None:
    # F1 = 2TP / (predicted + gold): 2/4, 4/6, 6/7, 6/8 -> best 6/7 at t=0.4
    threshold, f1 = best_f1_threshold(GOLD, SCORED)
    assert threshold == 0.4
    assert f1 == pytest.approx(6 / 7)


def test_best_f1_threshold_prefers_the_higher_threshold_on_ties() -> None:
    gold = {"c1": {"a", "b"}}
    scored = {"c1": [("a", 0.9), ("x", 0.8), ("y", 0.7), ("b", 0.6)]}
    # F1 = 2TP / (predicted + 2): t=0.9 2/3; 0.8 2/4; 0.7 2/5; 0.6 4/6 = 2/3 -> tie, keep 0.9
    threshold, f1 = best_f1_threshold(gold, scored)
    assert threshold == 0.9
    assert f1 == pytest.approx(2 / 3)


def test_best_f1_threshold_needs_scored_codes() -> None:
    assert precision_recall_curve(GOLD, {}) == []
    with pytest.raises(ValueError, match="no scored codes"):
        best_f1_threshold(GOLD, {"c1": []})


# --- Per system -------------------------------------------------------------------------------


def test_split_by_system_keeps_rank_order_per_case() -> None:
    pairs = {
        "c1": [("icd10cm", "E11.9"), ("icd10pcs", "0DTJ4ZZ"), ("icd10cm", "I10")],
        "c2": [("icd10cm", "J18.9")],
    }
    assert split_by_system(pairs) == {
        "icd10cm": {"c1": ["E11.9", "I10"], "c2": ["J18.9"]},
        "icd10pcs": {"c1": ["0DTJ4ZZ"]},
    }


def test_split_by_system_carries_scores_for_per_system_thresholds() -> None:
    scored = {"c1": [("icd10cm", ("e11.9", 0.7)), ("icd10pcs", ("0dtj4zz", 0.4))]}
    per_system = split_by_system(scored)
    assert per_system["icd10pcs"] == {"c1": [("0dtj4zz", 0.4)]}
    assert best_f1_threshold({"c1": {"e11.9"}}, per_system["icd10cm"]) == (0.7, 1.0)


# --- Summary ----------------------------------------------------------------------------------

EVAL_GOLD = {"c1": {"E11.9", "I10", "N18.3"}, "c2": {"J18.9"}}
EVAL_RANKED = {
    "c1": ["e11.9", "E11.65", "i10", "E11.9", "r52"],
    "c2": ["j18.0", "J18.9"],
    "c3": ["z20.818"],
}
EVAL_PREDICTED = {"c1": {"E11.9", "E11.65"}, "c3": {"Z20.818"}}


def test_evaluate_reports_every_figure() -> None:
    result = evaluate(EVAL_GOLD, EVAL_RANKED, EVAL_PREDICTED, k=1)
    # MAP: c1 [e11.9, e11.65, i10, r52] -> (1/1 + 2/3) / 3 = 5/9; c2 [j18.0, j18.9] -> (1/2) / 1;
    # c3 has no gold -> 0.  (5/9 + 1/2 + 0) / 3 = 19/54
    assert result.map == pytest.approx(19 / 54)
    # MAP@1: c1 [e11.9] -> 1/3; c2 [j18.0] -> 0; c3 -> 0.  (1/3) / 3 = 1/9
    assert result.map_at_k == pytest.approx(1 / 9)
    # categories: c1 gold {e11, i10, n18}, ranked [e11, i10, r52] -> (1 + 2/2) / 3 = 2/3;
    # c2 gold {j18}, ranked [j18] -> 1; c3 -> 0.  (2/3 + 1 + 0) / 3 = 5/9
    assert result.map_category == pytest.approx(5 / 9)
    # exact sets: TP 1 (e11.9); predicted 2 + 1 = 3; gold 3 + 1 = 4 -> P 1/3, R 1/4, F1 2/7
    assert (result.precision, result.recall) == pytest.approx((1 / 3, 1 / 4))
    assert result.f1 == pytest.approx(2 / 7)
    # categories: c1 {e11} vs {e11, i10, n18}: TP 1; predicted 1 + 1 = 2; gold 3 + 1 = 4
    # -> P 1/2, R 1/4, F1 2/6
    assert (result.precision_category, result.recall_category) == pytest.approx((1 / 2, 1 / 4))
    assert result.f1_category == pytest.approx(1 / 3)
    assert (result.k, result.cases, result.gold_pairs) == (1, 3, 4)


def test_evaluate_as_dict_is_json_ready() -> None:
    result = evaluate(EVAL_GOLD, EVAL_RANKED, EVAL_PREDICTED)
    payload = json.loads(json.dumps(result.as_dict()))
    assert payload["k"] == 30
    assert set(payload) == set(EvaluationResult.__dataclass_fields__)


def test_evaluation_is_deterministic_whatever_the_case_order() -> None:
    first = evaluate(EVAL_GOLD, EVAL_RANKED, EVAL_PREDICTED)
    cases = list(EVAL_RANKED)
    random.Random(7).shuffle(cases)
    reordered = evaluate(
        dict(reversed(EVAL_GOLD.items())),
        {case: EVAL_RANKED[case] for case in cases},
        dict(reversed(EVAL_PREDICTED.items())),
    )
    assert reordered == first  # exact equality, not approx
    assert evaluate(EVAL_GOLD, EVAL_RANKED, EVAL_PREDICTED) == first


# --- Cross-check against scikit-learn ---------------------------------------------------------


def test_average_precision_matches_sklearn_when_every_candidate_is_ranked() -> None:
    # Every candidate scored (distinct scores) and every gold code among them: both compute
    # sum over gold ranks of precision@rank / number of gold codes = (1/1 + 2/3 + 3/5) / 3
    candidates = ["a", "x", "b", "y", "c"]
    gold = {"a", "b", "c"}
    scores = [5.0, 4.0, 3.0, 2.0, 1.0]
    y_true = [code in gold for code in candidates]
    expected = (1 / 1 + 2 / 3 + 3 / 5) / 3
    assert average_precision(gold, candidates) == pytest.approx(expected)
    assert average_precision_score(y_true, scores) == pytest.approx(expected)


def test_average_precision_differs_from_sklearn_when_gold_is_not_retrieved() -> None:
    # sklearn only sees the ranked items, so it divides by the 2 gold codes among them:
    # (1/1 + 2/3) / 2 = 5/6.  CodiEsp divides by all 3 gold codes: (1/1 + 2/3) / 3 = 5/9.
    # (Tied scores differ too: sklearn treats a tie as one step, CodiEsp uses the list order.)
    ranked = ["a", "x", "b"]
    gold = {"a", "b", "c"}
    y_true = [code in gold for code in ranked]
    assert average_precision_score(y_true, [3.0, 2.0, 1.0]) == pytest.approx(5 / 6)
    assert average_precision(gold, ranked) == pytest.approx(5 / 9)

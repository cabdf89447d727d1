import json
from pathlib import Path
from typing import Any

import pytest

from training.metrics import evaluate, precision_recall_curve
from training.report import (
    CURVE_POINTS,
    RankedRun,
    SystemEvaluation,
    render_report,
    summarise,
    write_report,
)

ABOUT = {"model_version": "2026.05-test", "data": "three hand-made cases"}

# Three cases. c2's J18.9 sits below 29 filler codes, at rank 31: ranked, but not in the top 30.
GOLD = {"c1": {"E11.9", "I10"}, "c2": {"J18.9", "K21.9"}, "c3": set[str]()}
FILLERS = [(f"F{i:02d}", 0.25) for i in range(29)]
MODEL = RankedRun(
    ranked={
        # E11.9 repeats e11.9 lower down: it keeps rank 1 and score 0.95
        "c1": [("e11.9", 0.95), ("I10", 0.45), ("Z99", 0.42), ("E11.9", 0.1)],
        "c2": [("R05", 0.62), *FILLERS, ("J18.9", 0.22)],
        "c3": [("I10", 0.05)],
    },
    recommended={"c1": {"E11.9"}, "c2": {"R05"}, "c3": set()},
)
BASELINE = RankedRun(
    ranked={"c1": [("I10", 0.7), ("E11.9", 0.3)], "c2": [("J18.9", 0.6)]},
    recommended={"c1": {"I10"}, "c2": {"J18.9"}},
)
# "I10" and "i10" are one code: 1 + 2 = 3 training notes. J18.9 and K21.9 are unseen.
TRAIN_NOTES = {"E11.9": 120, "I10": 1, "i10": 2, "Z99": 7}


def small(baseline: RankedRun | None = BASELINE) -> SystemEvaluation:
    return SystemEvaluation("icd10cm", GOLD, MODEL, baseline, TRAIN_NOTES)


def system_summary(evaluation: SystemEvaluation) -> dict[str, Any]:
    summary: dict[str, Any] = summarise([evaluation], ABOUT)["systems"][evaluation.system]
    return summary


def codes_only(run: RankedRun) -> dict[str, list[str]]:
    return {case: [code for code, _ in pairs] for case, pairs in run.ranked.items()}


# --- Headline ---------------------------------------------------------------------------------


def test_headline_figures_are_those_of_evaluate() -> None:
    summary = system_summary(small())
    model, baseline = summary["model"], summary["baseline"]
    assert model == evaluate(GOLD, codes_only(MODEL), MODEL.recommended).as_dict()
    assert baseline == evaluate(GOLD, codes_only(BASELINE), BASELINE.recommended).as_dict()
    # by hand: c1 [e11.9, i10, z99] AP 1; c2 J18.9 at rank 31 of 2 gold: (1/31) / 2; c3 AP 0
    assert model["map"] == pytest.approx((1 + 1 / 62) / 3)
    assert model["map_at_k"] == pytest.approx(1 / 3)
    # recommended: TP {c1 e11.9} of 2 predicted and 4 gold pairs
    assert (model["precision"], model["recall"]) == (0.5, 0.25)
    # baseline: c1 AP 1, c2 AP 1/2; c3 has neither gold nor suggestions, so 2 cases
    assert (baseline["map"], baseline["cases"]) == (0.75, 2)
    assert summary["difference"]["map"] == pytest.approx((1 + 1 / 62) / 3 - 0.75)
    assert summary["difference"]["cases"] == 1
    assert "k" not in summary["difference"]


# --- Precision-recall curve -------------------------------------------------------------------


def test_pr_curves_are_those_of_the_metrics_module() -> None:
    summary = system_summary(small())
    # 7 distinct model scores: 0.95, 0.62, 0.45, 0.42, 0.25, 0.22, 0.05
    assert [(p["threshold"], p["precision"], p["recall"]) for p in summary["pr_curve"]] == (
        precision_recall_curve(GOLD, MODEL.ranked)
    )
    assert len(summary["pr_curve"]) == 7
    assert len(summary["baseline_pr_curve"]) == 3


def test_a_long_pr_curve_is_downsampled_keeping_both_ends() -> None:
    scored = {"c1": [(f"x{i:04d}", 1 - i / 1000) for i in range(1000)]}
    model = RankedRun(scored, {"c1": set()})
    curve = system_summary(SystemEvaluation("icd10cm", {"c1": {"x0500"}}, model, None, {}))[
        "pr_curve"
    ]
    full = precision_recall_curve({"c1": {"x0500"}}, scored)
    assert len(curve) == CURVE_POINTS
    assert (curve[0]["threshold"], curve[-1]["threshold"]) == (full[0][0], full[-1][0])
    assert [p["threshold"] for p in curve] == sorted({p["threshold"] for p in curve}, reverse=True)


# --- Calibration ------------------------------------------------------------------------------


def test_calibration_bins_count_each_scored_pair_once() -> None:
    summary = system_summary(small())
    bins = summary["calibration"]
    assert [(b["lower"], b["upper"]) for b in bins][:2] == [(0.0, 0.1), (0.1, 0.2)]
    # pairs: c1 e11.9 .95 (gold), i10 .45 (gold), z99 .42; c2 r05 .62, 29 fillers .25,
    # j18.9 .22 (gold); c3 i10 .05 (c3 has no gold). The repeated E11.9 (0.1) is not a pair.
    assert [b["count"] for b in bins] == [1, 0, 30, 0, 2, 0, 1, 0, 0, 1]
    assert [b["observed"] for b in bins] == pytest.approx(
        [0.0, None, 1 / 30, None, 0.5, None, 0.0, None, None, 1.0]
    )
    assert [b["mean_score"] for b in bins] == pytest.approx(
        [0.05, None, (29 * 0.25 + 0.22) / 30, None, 0.435, None, 0.62, None, None, 0.95]
    )
    # weighted |mean - observed|: .05 + 30 * (.249 - 1/30) + 2 * .065 + .62 + .05 over 35 pairs
    assert summary["expected_calibration_error"] == pytest.approx(7.32 / 35)


def test_a_score_of_one_falls_in_the_top_bin() -> None:
    model = RankedRun({"c1": [("a", 1.0), ("b", 0.0)]}, {"c1": {"a"}})
    bins = system_summary(SystemEvaluation("icd10cm", {"c1": {"a"}}, model, None, {}))[
        "calibration"
    ]
    assert [b["count"] for b in bins] == [1, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    assert (bins[0]["observed"], bins[-1]["observed"]) == (0.0, 1.0)


def test_model_scores_outside_zero_one_are_refused() -> None:
    model = RankedRun({"c1": [("a", 2.5)]}, {"c1": {"a"}})
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        summarise([SystemEvaluation("icd10cm", {"c1": {"a"}}, model, None, {})], ABOUT)


# --- Frequency bands --------------------------------------------------------------------------


def band_recalls(band: dict[str, Any]) -> tuple[Any, ...]:
    return (band["recall_ranked"], band["recall_at_k"], band["recall_recommended"])


def test_frequency_bands_give_recall_by_training_notes_of_the_gold_code() -> None:
    bands = system_summary(small())["frequency_bands"]
    assert [b["band"] for b in bands] == ["unseen (0)", "1–2", "3–9", "10–49", "50+"]
    assert [(b["codes"], b["gold_pairs"]) for b in bands] == [
        (2, 2),
        (0, 0),
        (1, 1),
        (0, 0),
        (1, 1),
    ]
    unseen, few, some, many, most = bands
    # unseen: J18.9 ranked at 31 (not top 30, not recommended), K21.9 not ranked at all
    assert band_recalls(unseen) == (0.5, 0.0, 0.0)
    # empty bands have no recall rather than a misleading 0
    assert band_recalls(few) == band_recalls(many) == (None, None, None)
    # i10 (1 + 2 notes): ranked second, not recommended
    assert band_recalls(some) == (1.0, 1.0, 0.0)
    assert band_recalls(most) == (1.0, 1.0, 1.0)
    # the baseline on the same pairs: J18.9 first and recommended; E11.9 ranked, not recommended
    assert band_recalls(unseen["baseline"]) == (0.5, 0.5, 0.5)
    assert band_recalls(most["baseline"]) == (1.0, 1.0, 0.0)


# --- Worst-served frequent codes --------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"
CASES = [f"c{i}" for i in range(1, 7)]


def frequent() -> SystemEvaluation:
    """Six cases: codes with 4 to 6 gold pairs and different recommended-set F1s."""
    gold = {case: {"B02"} for case in CASES}
    for case in CASES[:5]:
        gold[case] |= {"A01", "a00", "E05", SCRIPT}
    for case in CASES[:4]:
        gold[case].add("C03")  # 4 gold pairs: too few to list
    recommended = {case: {"B02", "E05", "D04"} for case in CASES}  # D04 is never gold
    for case in CASES[:2]:
        recommended[case] |= {"A01", "a00"}
    ranked = {case: [(code, 0.5) for code in sorted(recommended[case])] for case in CASES}
    return SystemEvaluation(
        "icd10cm", gold, RankedRun(ranked, recommended), None, {"A01": 12, "B02": 3}
    )


def test_worst_frequent_codes_have_the_lowest_f1_ties_by_code() -> None:
    rows = system_summary(frequent())["worst_frequent_codes"]
    columns = ("code", "gold", "true_positives", "false_positives", "false_negatives")
    assert [tuple(row[c] for c in columns) for row in rows] == [
        (SCRIPT, 5, 0, 0, 5),
        ("a00", 5, 2, 0, 3),  # ties with a01 on F1 4/7: ordered by code
        ("a01", 5, 2, 0, 3),
        ("e05", 5, 5, 1, 0),  # c6 recommends it without gold
        ("b02", 6, 6, 0, 0),
    ]
    assert [row["precision"] for row in rows] == pytest.approx([0, 1, 1, 5 / 6, 1])
    assert [row["recall"] for row in rows] == pytest.approx([0, 0.4, 0.4, 1, 1])
    assert [row["f1"] for row in rows] == pytest.approx([0, 4 / 7, 4 / 7, 10 / 11, 1])
    assert [row["train_notes"] for row in rows] == [0, 0, 12, 0, 3]


def frequent_as(system: str) -> SystemEvaluation:
    evaluation = frequent()
    return SystemEvaluation(
        system, evaluation.gold, evaluation.model, evaluation.baseline, evaluation.train_notes
    )


# --- Files ------------------------------------------------------------------------------------


def test_metrics_json_is_strict_sorted_and_round_trips(tmp_path: Path) -> None:
    metrics_path, report_path = write_report(tmp_path / "run", [small()], ABOUT)
    assert (metrics_path, report_path) == (
        tmp_path / "run/metrics.json",
        tmp_path / "run/report.html",
    )
    text = metrics_path.read_text(encoding="utf-8")

    def refuse(constant: str) -> None:
        raise AssertionError(f"not strict JSON: {constant}")

    loaded = json.loads(text, parse_constant=refuse)
    assert loaded == summarise([small()], ABOUT)
    assert text == json.dumps(loaded, sort_keys=True, indent=2) + "\n"
    # the report can be rebuilt from metrics.json alone
    assert render_report(loaded) == report_path.read_text(encoding="utf-8")


def test_report_is_self_contained_with_a_plot_per_section(tmp_path: Path) -> None:
    _, report_path = write_report(tmp_path, [small(), frequent_as("icd10pcs")], ABOUT)
    html = report_path.read_text(encoding="utf-8")
    # PR curve, reliability diagram and band recalls for each of the two systems
    assert html.count("<svg") == 6
    assert "2026.05-test" in html
    for external in ("<script", "<link", "src=", "url(", "https://"):
        assert external not in html


def test_codes_and_about_values_are_escaped(tmp_path: Path) -> None:
    _, report_path = write_report(tmp_path, [frequent()], {"data": "<b>notes</b>"})
    html = report_path.read_text(encoding="utf-8")
    assert SCRIPT not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>notes</b>" not in html
    assert "&lt;b&gt;notes&lt;/b&gt;" in html


def test_without_a_baseline_the_report_says_so(tmp_path: Path) -> None:
    summary = system_summary(small(baseline=None))
    assert summary["baseline"] is None
    assert summary["difference"] is None
    assert summary["baseline_pr_curve"] is None
    assert all(band["baseline"] is None for band in summary["frequency_bands"])
    _, report_path = write_report(tmp_path, [small(baseline=None)], ABOUT)
    html = report_path.read_text(encoding="utf-8")
    assert "no baseline" in html
    assert html.count("<svg") == 3


def test_a_system_given_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="given twice"):
        summarise([small(), small()], ABOUT)

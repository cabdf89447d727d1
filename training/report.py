"""One evaluation run -> ``metrics.json`` and a self-contained ``report.html``.

The figures come from the pure functions of `training.metrics`; this module only arranges them
per code system (headline table, precision-recall curve, score calibration, recall by training
frequency, worst-served frequent codes) and draws the plots as inline SVG, so the report opens
offline with no scripts, stylesheets or fonts fetched from anywhere.

Codes are compared lower-case (`normalise_code`) and a ranked list keeps the first occurrence
of each code, as the metrics module does; a code scored several times in a case keeps its
highest score, as `precision_recall_curve` does. Ties are broken by code everywhere, so the
same run always gives byte-identical files.
"""

import json
import logging
import math
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import jinja2
from markupsafe import Markup

from training.metrics import (
    DEFAULT_K,
    MicroCounts,
    evaluate,
    normalise_code,
    precision_recall_curve,
    ranked_unique,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Enough points to draw a smooth curve; the full curve has one point per distinct score.
CURVE_POINTS = 200
CALIBRATION_BINS = 10
# (label, fewest training notes, most training notes or None for no upper bound)
FREQUENCY_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("unseen (0)", 0, 0),
    ("1–2", 1, 2),
    ("3–9", 3, 9),
    ("10–49", 10, 49),
    ("50+", 50, None),
)
# Below 5 gold pairs a code's F1 is mostly noise, so it would crowd out codes worth fixing.
WORST_MIN_GOLD_PAIRS = 5
WORST_LIMIT = 15


@dataclass(frozen=True)
class RankedRun:
    """One model's output for one code system."""

    ranked: Mapping[str, Sequence[tuple[str, float]]]  # case id -> [(code, score)], best first
    recommended: Mapping[str, Collection[str]]  # case id -> the recommended codes


@dataclass(frozen=True)
class SystemEvaluation:
    """Everything needed to report on one code system."""

    system: str  # "icd10cm", "icd10pcs", ...
    gold: Mapping[str, Collection[str]]  # case id -> gold codes (every evaluated case)
    model: RankedRun
    baseline: RankedRun | None  # TF-IDF + one-vs-rest LR baseline on the same data
    train_notes: Mapping[str, int]  # code (as given) -> number of training notes coded with it


# --- Runs in comparison form ------------------------------------------------------------------


@dataclass(frozen=True)
class _Run:
    """A run with codes lower-cased and repeats removed, indexed for look-ups."""

    ranks: dict[str, dict[str, int]]  # case -> code -> rank (1 = best) of its first occurrence
    scores: dict[str, dict[str, float]]  # case -> code -> its highest score
    recommended: dict[str, frozenset[str]]


def _prepare(system: str, run: RankedRun) -> _Run:
    ranks: dict[str, dict[str, int]] = {}
    scores: dict[str, dict[str, float]] = {}
    for case, pairs in run.ranked.items():
        codes = ranked_unique([code for code, _ in pairs])
        ranks[case] = {code: rank for rank, code in enumerate(codes, start=1)}
        scores[case] = {}
        for code, score in pairs:
            # An infinite or NaN score would make metrics.json invalid JSON further down.
            if not math.isfinite(score):
                raise ValueError(f"{system}: case {case!r} scores {code!r} as {score}")
            key = normalise_code(code)
            scores[case][key] = max(score, scores[case].get(key, -math.inf))
    return _Run(ranks, scores, _code_sets(run.recommended))


def _code_sets(codes: Mapping[str, Collection[str]]) -> dict[str, frozenset[str]]:
    return {
        case: frozenset(normalise_code(code) for code in group) for case, group in codes.items()
    }


def _training_notes(train_notes: Mapping[str, int]) -> Counter[str]:
    """Training-note counts per lower-cased code.

    Spellings that differ only in case are one code; their counts are added, since they come
    from different notes unless one note was coded twice with the same code.
    """
    counts: Counter[str] = Counter()
    for code, notes in train_notes.items():
        counts[normalise_code(code)] += notes
    return counts


# --- Summary ----------------------------------------------------------------------------------


def summarise(evaluations: Sequence[SystemEvaluation], about: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON-ready figures of every system: ``{"about": ..., "systems": {system: ...}}``.

    Per system: ``model`` and ``baseline`` (`evaluate(...).as_dict()`, baseline None without
    one), ``difference`` (model - baseline per figure except k, or None), ``pr_curve`` and
    ``baseline_pr_curve`` (at most `CURVE_POINTS` points), ``calibration`` (bins) and
    ``expected_calibration_error``, ``frequency_bands`` and ``worst_frequent_codes``.

    Raises ValueError for a system given twice, a non-finite score, or a model score outside
    [0, 1] (calibration needs probabilities).
    """
    systems: dict[str, Any] = {}
    for evaluation in evaluations:
        if evaluation.system in systems:
            raise ValueError(f"system {evaluation.system!r} is given twice")
        systems[evaluation.system] = _summarise_system(evaluation)
    return {"about": dict(about), "systems": systems}


def _summarise_system(evaluation: SystemEvaluation) -> dict[str, Any]:
    system, raw_gold, baseline_run = evaluation.system, evaluation.gold, evaluation.baseline
    # The headline goes first: `evaluate` refuses malformed input (a bare string for a code set)
    # with a clearer message than the code below would give.
    model_figures = _headline(raw_gold, evaluation.model)
    baseline_figures = None if baseline_run is None else _headline(raw_gold, baseline_run)
    gold = _code_sets(raw_gold)
    notes = _training_notes(evaluation.train_notes)
    model = _prepare(system, evaluation.model)
    baseline = None if baseline_run is None else _prepare(system, baseline_run)
    baseline_curve = None if baseline_run is None else _curve(raw_gold, baseline_run.ranked)
    calibration = _calibration(system, gold, model.scores)
    return {
        "model": model_figures,
        "baseline": baseline_figures,
        "difference": _difference(model_figures, baseline_figures),
        "pr_curve": _curve(raw_gold, evaluation.model.ranked),
        "baseline_pr_curve": baseline_curve,
        "calibration": calibration,
        "expected_calibration_error": _expected_calibration_error(calibration),
        "frequency_bands": _frequency_bands(gold, model, baseline, notes),
        "worst_frequent_codes": _worst_frequent_codes(gold, model.recommended, notes),
    }


def _headline(gold: Mapping[str, Collection[str]], run: RankedRun) -> dict[str, float | int]:
    ranked = {case: [code for code, _ in pairs] for case, pairs in run.ranked.items()}
    return evaluate(gold, ranked, run.recommended, k=DEFAULT_K).as_dict()


def _difference(
    model: Mapping[str, float | int], baseline: Mapping[str, float | int] | None
) -> dict[str, float | int] | None:
    if baseline is None:
        return None
    return {name: model[name] - baseline[name] for name in model if name != "k"}


def _curve(
    gold: Mapping[str, Collection[str]], scored: Mapping[str, Sequence[tuple[str, float]]]
) -> list[dict[str, float]]:
    points = _downsample(precision_recall_curve(gold, scored), CURVE_POINTS)
    return [
        {"threshold": threshold, "precision": precision, "recall": recall}
        for threshold, precision, recall in points
    ]


def _downsample(points: Sequence[T], limit: int) -> list[T]:
    """At most ``limit`` points evenly spaced along the list, keeping the first and the last."""
    if len(points) <= limit:
        return list(points)
    step = (len(points) - 1) / (limit - 1)
    return [points[round(i * step)] for i in range(limit)]


# --- Calibration ------------------------------------------------------------------------------


def _calibration(
    system: str, gold: Mapping[str, frozenset[str]], scores: Mapping[str, Mapping[str, float]]
) -> list[dict[str, Any]]:
    """Equal-width score bins on [0, 1] over every scored (case, code) pair.

    Each bin: its edges, the number of pairs, their mean score and the fraction that are gold
    (None for an empty bin). Gold pairs that were never scored have no score to bin.
    """
    binned: list[list[tuple[float, bool]]] = [[] for _ in range(CALIBRATION_BINS)]
    for case in sorted(scores):
        relevant = gold.get(case, frozenset())
        for code, score in sorted(scores[case].items()):
            if not 0.0 <= score <= 1.0:
                raise ValueError(
                    f"{system}: model score {score} of {code!r} is outside [0, 1]; "
                    "calibration needs probabilities"
                )
            # A score of exactly 1 belongs to the top bin, which is closed on both sides.
            index = min(int(score * CALIBRATION_BINS), CALIBRATION_BINS - 1)
            binned[index].append((score, code in relevant))
    return [_calibration_bin(index, pairs) for index, pairs in enumerate(binned)]


def _calibration_bin(index: int, pairs: Sequence[tuple[float, bool]]) -> dict[str, Any]:
    count = len(pairs)
    return {
        "lower": index / CALIBRATION_BINS,
        "upper": (index + 1) / CALIBRATION_BINS,
        "count": count,
        "mean_score": math.fsum(score for score, _ in pairs) / count if count else None,
        "observed": sum(is_gold for _, is_gold in pairs) / count if count else None,
    }


def _expected_calibration_error(bins: Sequence[Mapping[str, Any]]) -> float | None:
    """Mean |mean score - observed fraction| over the bins, weighted by pair count."""
    total: int = sum(b["count"] for b in bins)
    if not total:
        return None
    gaps = [b["count"] * abs(b["mean_score"] - b["observed"]) for b in bins if b["count"]]
    return math.fsum(gaps) / total


# --- Recall by training frequency -------------------------------------------------------------


def _in_band(notes: int, low: int, high: int | None) -> bool:
    return low <= notes and (high is None or notes <= high)


def _frequency_bands(
    gold: Mapping[str, frozenset[str]],
    model: _Run,
    baseline: _Run | None,
    notes: Mapping[str, int],
) -> list[dict[str, Any]]:
    """Recall of the gold pairs grouped by how many training notes carry the gold code.

    Average precision is a per-case figure and does not split by code, hence recalls here.
    """
    gold_pairs = [(case, code) for case in sorted(gold) for code in sorted(gold[case])]
    rows = []
    for label, low, high in FREQUENCY_BANDS:
        pairs = [
            (case, code) for case, code in gold_pairs if _in_band(notes.get(code, 0), low, high)
        ]
        rows.append(
            {
                "band": label,
                "min_notes": low,
                "max_notes": high,
                "codes": len({code for _, code in pairs}),
                "gold_pairs": len(pairs),
                **_recalls(pairs, model),
                "baseline": None if baseline is None else _recalls(pairs, baseline),
            }
        )
    return rows


def _recalls(pairs: Sequence[tuple[str, str]], run: _Run) -> dict[str, float | None]:
    """Fraction of the gold pairs ranked at all, ranked in the top k, and recommended."""
    ranked = at_k = recommended = 0
    for case, code in pairs:
        rank = run.ranks.get(case, {}).get(code)
        ranked += rank is not None
        at_k += rank is not None and rank <= DEFAULT_K
        recommended += code in run.recommended.get(case, frozenset())

    def share(found: int) -> float | None:
        return found / len(pairs) if pairs else None

    return {
        "recall_ranked": share(ranked),
        "recall_at_k": share(at_k),
        "recall_recommended": share(recommended),
    }


# --- Worst-served codes -----------------------------------------------------------------------


def _worst_frequent_codes(
    gold: Mapping[str, frozenset[str]],
    recommended: Mapping[str, frozenset[str]],
    notes: Mapping[str, int],
) -> list[dict[str, Any]]:
    """The codes with the lowest F1 of the recommended set, among those with enough gold pairs."""
    true_pos: Counter[str] = Counter()
    false_pos: Counter[str] = Counter()
    false_neg: Counter[str] = Counter()
    for case in gold.keys() | recommended.keys():
        relevant = gold.get(case, frozenset())
        guessed = recommended.get(case, frozenset())
        true_pos.update(relevant & guessed)
        false_pos.update(guessed - relevant)
        false_neg.update(relevant - guessed)
    rows = []
    for code in sorted(true_pos.keys() | false_neg.keys()):
        counts = MicroCounts(
            true_positives=true_pos[code],
            predicted=true_pos[code] + false_pos[code],
            gold=true_pos[code] + false_neg[code],
        )
        if counts.gold >= WORST_MIN_GOLD_PAIRS:
            rows.append(_code_row(code, counts, notes.get(code, 0)))
    rows.sort(key=lambda row: (row["f1"], row["code"]))
    return rows[:WORST_LIMIT]


def _code_row(code: str, counts: MicroCounts, train_notes: int) -> dict[str, Any]:
    return {
        "code": code,
        "gold": counts.gold,
        "true_positives": counts.true_positives,
        "false_positives": counts.predicted - counts.true_positives,
        "false_negatives": counts.gold - counts.true_positives,
        "precision": counts.precision,
        "recall": counts.recall,
        "f1": counts.f1,
        "train_notes": train_notes,
    }


# --- Files ------------------------------------------------------------------------------------


def write_report(
    folder: Path, evaluations: Sequence[SystemEvaluation], about: Mapping[str, Any]
) -> tuple[Path, Path]:
    """Write ``folder/metrics.json`` and ``folder/report.html``; return (metrics, report) paths.

    ``about`` (model version, data, creation time, ...) must be JSON-ready: pass times as
    ISO strings. The folder is created if needed and existing files are overwritten.
    """
    summary = summarise(evaluations, about)
    # Both documents are built before anything is written, so a failure leaves no half report.
    metrics = json.dumps(summary, sort_keys=True, allow_nan=False, indent=2) + "\n"
    html = render_report(summary)
    folder.mkdir(parents=True, exist_ok=True)
    metrics_path = folder / "metrics.json"
    report_path = folder / "report.html"
    metrics_path.write_text(metrics, encoding="utf-8")
    report_path.write_text(html, encoding="utf-8")
    logger.info("wrote %s and %s", metrics_path, report_path)
    return metrics_path, report_path


def render_report(summary: Mapping[str, Any]) -> str:
    """The HTML report of a `summarise` result (or of a loaded metrics.json)."""
    systems = summary["systems"]
    template = _environment().from_string(_template_source())
    return template.render(
        about=[(str(key), _about_value(value)) for key, value in sorted(summary["about"].items())],
        systems=[_system_view(name, systems[name]) for name in sorted(systems)],
    )


def _template_source() -> str:
    return resources.files("training.templates").joinpath("report.html").read_text("utf-8")


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["figure"] = _figure
    environment.filters["signed"] = _signed
    return environment


def _figure(value: float | int | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        return str(value)
    return f"{value:.3f}"


def _signed(value: float | int | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        return f"{value:+d}"
    return f"{value:+.3f}"


def _about_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


HEADLINE_ROWS = (
    ("MAP", "map"),
    ("MAP@{k}", "map_at_k"),
    ("Category MAP", "map_category"),
    ("Precision (recommended)", "precision"),
    ("Recall (recommended)", "recall"),
    ("F1 (recommended)", "f1"),
    ("Category precision", "precision_category"),
    ("Category recall", "recall_category"),
    ("Category F1", "f1_category"),
    ("Cases", "cases"),
    ("Gold pairs", "gold_pairs"),
)


def _system_view(name: str, summary: Mapping[str, Any]) -> dict[str, Any]:
    model, baseline, difference = summary["model"], summary["baseline"], summary["difference"]
    headline = [
        {
            "label": label.format(k=model["k"]),
            "model": model[key],
            "baseline": None if baseline is None else baseline[key],
            "difference": None if difference is None else difference[key],
        }
        for label, key in HEADLINE_ROWS
    ]
    return {
        "name": name,
        "summary": summary,
        "k": model["k"],
        "min_gold_pairs": WORST_MIN_GOLD_PAIRS,
        "worst_limit": WORST_LIMIT,
        "headline": headline,
        "pr_svg": _pr_svg(
            summary["pr_curve"], summary["baseline_pr_curve"], model["precision"], model["recall"]
        ),
        "calibration_svg": _calibration_svg(summary["calibration"]),
        "bands_svg": _bands_svg(summary["frequency_bands"], model["k"]),
    }


# --- Inline SVG -------------------------------------------------------------------------------
# Every plot is the unit square [0, 1] x [0, 1] in a fixed frame. Markup.format escapes its
# arguments, so text placed in a plot cannot inject markup. Colours live in the page's CSS.

WIDTH, HEIGHT = 480, 360
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 72
TICKS = tuple(i / 5 for i in range(6))


def _x(value: float) -> float:
    return LEFT + value * (WIDTH - LEFT - RIGHT)


def _y(value: float) -> float:
    return HEIGHT - BOTTOM - value * (HEIGHT - TOP - BOTTOM)


def _svg(label: str, parts: Iterable[Markup]) -> Markup:
    return Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" role="img" '
        'aria-label="{}">{}</svg>'
    ).format(WIDTH, HEIGHT, label, Markup("").join(parts))


def _text(x: float, y: float, text: str, css_class: str) -> Markup:
    return Markup('<text x="{:.1f}" y="{:.1f}" class="{}">{}</text>').format(x, y, css_class, text)


def _line(x1: float, y1: float, x2: float, y2: float, css_class: str) -> Markup:
    return Markup('<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" class="{}"/>').format(
        x1, y1, x2, y2, css_class
    )


def _rect(x: float, y: float, width: float, height: float, css_class: str) -> Markup:
    return Markup('<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" class="{}"/>').format(
        x, y, width, height, css_class
    )


def _axes(x_label: str, y_label: str, *, x_ticks: bool = True) -> list[Markup]:
    parts = []
    for tick in TICKS:
        parts.append(_line(_x(0), _y(tick), _x(1), _y(tick), "grid"))
        parts.append(_text(_x(0) - 6, _y(tick) + 4, f"{tick:.1f}", "tick y"))
        if x_ticks:
            parts.append(_text(_x(tick), _y(0) + 16, f"{tick:.1f}", "tick x"))
    parts.append(_line(_x(0), _y(0), _x(1), _y(0), "axis"))
    parts.append(_line(_x(0), _y(0), _x(0), _y(1), "axis"))
    parts.append(_text((_x(0) + _x(1)) / 2, _y(0) + 36, x_label, "title x"))
    parts.append(
        Markup(
            '<text x="14" y="{:.1f}" class="title y" transform="rotate(-90 14 {:.1f})">{}</text>'
        ).format((_y(0) + _y(1)) / 2, (_y(0) + _y(1)) / 2, y_label)
    )
    return parts


def _legend(entries: Sequence[tuple[str, str]]) -> list[Markup]:
    """One row of (css class, label) swatches under the x-axis title."""
    parts = []
    x = float(LEFT)
    y = HEIGHT - 14.0
    for css_class, label in entries:
        parts.append(_rect(x, y - 9, 14, 10, f"swatch {css_class}"))
        parts.append(_text(x + 20, y, label, "legend"))
        x += 28 + 7 * len(label)
    return parts


def _polyline(points: Sequence[Mapping[str, float]], css_class: str) -> Markup:
    coordinates = " ".join(f"{_x(p['recall']):.1f},{_y(p['precision']):.1f}" for p in points)
    return Markup('<polyline points="{}" class="{}"/>').format(coordinates, css_class)


def _pr_svg(
    model_curve: Sequence[Mapping[str, float]],
    baseline_curve: Sequence[Mapping[str, float]] | None,
    precision: float,
    recall: float,
) -> Markup:
    parts = _axes("Recall (micro)", "Precision (micro)")
    legend = [("model", "Model")]
    if baseline_curve is not None:
        parts.append(_polyline(baseline_curve, "curve baseline"))
        legend.append(("baseline", "Baseline"))
    parts.append(_polyline(model_curve, "curve model"))
    parts.append(
        Markup('<circle cx="{:.1f}" cy="{:.1f}" r="5" class="operating"/>').format(
            _x(recall), _y(precision)
        )
    )
    legend.append(("operating", "Model's recommended set"))
    if not model_curve:
        parts.append(_text(_x(0.5), _y(0.5), "no scored codes", "empty"))
    return _svg("Precision-recall curves", [*parts, *_legend(legend)])


def _calibration_svg(bins: Sequence[Mapping[str, Any]]) -> Markup:
    parts = _axes("Model score", "Fraction of pairs that are gold")
    for b in bins:
        if b["count"]:
            height = _y(0) - _y(b["observed"])
            parts.append(
                _rect(
                    _x(b["lower"]) + 1,
                    _y(b["observed"]),
                    _x(b["upper"]) - _x(b["lower"]) - 2,
                    height,
                    "bar observed",
                )
            )
            parts.append(
                Markup('<circle cx="{:.1f}" cy="{:.1f}" r="3" class="mean"/>').format(
                    _x(b["mean_score"]), _y(b["observed"])
                )
            )
    parts.append(_line(_x(0), _y(0), _x(1), _y(1), "diagonal"))
    legend = [("observed", "Observed fraction per bin"), ("diagonal", "Perfect calibration")]
    return _svg("Reliability diagram", [*parts, *_legend(legend)])


def _bands_svg(bands: Sequence[Mapping[str, Any]], k: int) -> Markup:
    series = (
        ("recall_ranked", "series-ranked", "Ranked (any rank)"),
        ("recall_at_k", "series-top", f"Top {k}"),
        ("recall_recommended", "series-recommended", "Recommended"),
    )
    group = (_x(1) - _x(0)) / len(bands)
    bar = group * 0.8 / len(series)
    parts = _axes("Training notes of the gold code", "Recall (model)", x_ticks=False)
    for index, band in enumerate(bands):
        start = _x(0) + index * group + group * 0.1
        for offset, (key, css_class, _) in enumerate(series):
            if band[key] is not None:
                top = _y(band[key])
                parts.append(_rect(start + offset * bar, top, bar - 1, _y(0) - top, css_class))
        parts.append(_text(start + group * 0.4, _y(0) + 16, band["band"], "tick x"))
    legend = [(css_class, label) for _, css_class, label in series]
    return _svg("Recall by training frequency band", [*parts, *_legend(legend)])

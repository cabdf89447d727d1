"""What coders did with medcode's suggestions: the figures of GET /api/review/analytics.

Figures cover one window of submission days (the last 30 by default, at most 366, so the
work of one request is bounded), optionally one model version or one coder. Every
submitted review is judged against the run it names: a code the run recommended is
accepted when it is on the submitted codes and rejected when the coder said so; a code
the coder added that the run did not recommend was missed. Shapes and limits are those of
docs/review-api.md; a rate over nothing is None.
"""

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.db.repository import ReviewFact, ReviewRepository
from app.db.tables import CodeSource, Decision, utcnow
from app.errors import ServiceError
from app.services.review import day_end
from codes.catalog import Catalog
from codes.errors import CatalogError
from codes.systems import CodeSystem

LIST_LIMIT = 50
MAX_RANK = 20
DEFAULT_DAYS = 30
MAX_DAYS = 366
BAND_SECONDS = 60
MAX_BANDS = 10
TOP_REASONS = 3

Key = tuple[str, str]  # (system, code)


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile: a value some review really took."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@dataclass
class _Tally:
    recommended: int = 0
    accepted: int = 0
    rejected: int = 0
    reasons: Counter[str] = field(default_factory=Counter)


@dataclass
class _ModelTally(_Tally):
    reviews: int = 0
    added: int = 0


@dataclass(frozen=True)
class Window:
    """Which reviews the figures cover: submitted on `first`..`last` (UTC days, both in)."""

    first: date
    last: date
    model_version: str | None = None
    coder: str | None = None

    @classmethod
    def of(
        cls,
        today: date,
        first: date | None = None,
        last: date | None = None,
        model_version: str | None = None,
        coder: str | None = None,
    ) -> "Window":
        """The window a request asks for; 422 when it is upside down or too long."""
        last = last or today
        # A window that would start before the calendar does starts with it.
        first = first or date.fromordinal(max(1, last.toordinal() - (DEFAULT_DAYS - 1)))
        if first > last:
            raise ServiceError(422, "invalid_request", "submitted_from is after submitted_to")
        if (last - first).days + 1 > MAX_DAYS:
            raise ServiceError(422, "invalid_request", f"the window is longer than {MAX_DAYS} days")
        return cls(first, last, model_version or None, coder or None)

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    def out(self) -> dict[str, Any]:
        return {
            "submitted_from": self.first,
            "submitted_to": self.last,
            "model_version": self.model_version,
            "coder": self.coder,
        }


class AnalyticsService:
    def __init__(self, catalog: Catalog, clock: Callable[[], datetime] = utcnow) -> None:
        self.catalog = catalog
        self.clock = clock

    def window(self, **asked: Any) -> Window:
        return Window.of(self.clock().date(), **asked)

    def analytics(self, session: Session, window: Window) -> dict[str, Any]:
        facts = ReviewRepository(session).review_facts(
            datetime.combine(window.first, time(), tzinfo=UTC),
            day_end(window.last),
            window.model_version,
            window.coder,
        )
        return self.compute(facts, window)

    def compute(self, facts: list[ReviewFact], window: Window) -> dict[str, Any]:
        descriptions: dict[Key, str] = {}
        by_code: dict[Key, _Tally] = defaultdict(_Tally)
        by_model: dict[str, _ModelTally] = defaultdict(_ModelTally)
        rank_suggested: Counter[int] = Counter()
        rank_accepted: Counter[int] = Counter()
        missed: Counter[Key] = Counter()
        missed_below: Counter[Key] = Counter()

        for fact in facts:
            listed: list[Key] = []
            for s in fact.suggestions:
                key = (str(s["system"]), str(s["code"]))
                listed.append(key)
                descriptions.setdefault(key, str(s.get("description") or ""))
            recommended = {
                (str(s["system"]), str(s["code"])) for s in fact.suggestions if s.get("recommended")
            }
            submitted = {(c.system, c.code) for c in fact.codes}
            rejected = {
                (d.system, d.code): d.reason
                for d in fact.decisions
                if Decision(d.decision) is Decision.REJECTED
            }
            model = by_model[fact.model_version]
            model.reviews += 1
            for key in recommended:
                for tally in (by_code[key], model):
                    tally.recommended += 1
                    tally.accepted += key in submitted
                    tally.rejected += key in rejected
                if key in rejected and (rejected[key] or "").strip():
                    by_code[key].reasons[(rejected[key] or "").strip()] += 1
            for rank, key in enumerate(listed[:MAX_RANK], start=1):
                rank_suggested[rank] += 1
                rank_accepted[rank] += key in submitted
            for c in fact.codes:
                key = (c.system, c.code)
                if CodeSource(c.source) is not CodeSource.ADDED:
                    continue
                model.added += 1
                if key not in recommended:
                    missed[key] += 1
                    missed_below[key] += key in listed

        def description(key: Key) -> str:
            return descriptions.get(key) or self._description(key)

        return {
            "generated_at": self.clock(),
            "window": window.out(),
            "reviews": len(facts),
            "by_code": [
                {
                    "system": key[0],
                    "code": key[1],
                    "description": description(key),
                    "recommended": t.recommended,
                    "accepted": t.accepted,
                    "rejected": t.rejected,
                    "acceptance_rate": rate(t.accepted, t.recommended),
                }
                for key, t in sorted(by_code.items(), key=lambda kv: (-kv[1].recommended, kv[0]))
            ][:LIST_LIMIT],
            "by_model_version": [
                {
                    "model_version": version,
                    "reviews": t.reviews,
                    "recommended": t.recommended,
                    "accepted": t.accepted,
                    "rejected": t.rejected,
                    "added": t.added,
                    "acceptance_rate": rate(t.accepted, t.recommended),
                }
                for version, t in sorted(by_model.items())
            ],
            "by_rank": [
                {
                    "rank": rank,
                    "suggested": rank_suggested[rank],
                    "accepted": rank_accepted[rank],
                    "acceptance_rate": rate(rank_accepted[rank], rank_suggested[rank]),
                }
                for rank in sorted(rank_suggested)
            ],
            "missed": [
                {
                    "system": key[0],
                    "code": key[1],
                    "description": description(key),
                    "added": count,
                    "suggested_not_recommended": missed_below[key],
                }
                for key, count in sorted(missed.items(), key=lambda kv: (-kv[1], kv[0]))
            ][:LIST_LIMIT],
            "most_rejected": [
                {
                    "system": key[0],
                    "code": key[1],
                    "description": description(key),
                    "recommended": t.recommended,
                    "rejected": t.rejected,
                    "rejection_rate": rate(t.rejected, t.recommended),
                    "reasons": [
                        {"reason": reason, "count": count}
                        for reason, count in sorted(
                            t.reasons.items(), key=lambda rc: (-rc[1], rc[0])
                        )[:TOP_REASONS]
                    ],
                }
                for key, t in sorted(by_code.items(), key=lambda kv: (-kv[1].rejected, kv[0]))
                if t.rejected
            ][:LIST_LIMIT],
            "coders": _coders(facts),
            "throughput": _throughput(facts, window.days),
            "time_per_encounter": _time_per_encounter(
                [float(f.seconds_spent) for f in facts if f.seconds_spent is not None]
            ),
        }

    def _description(self, key: Key) -> str:
        try:
            found = self.catalog.get(CodeSystem(key[0]), key[1])
        except (CatalogError, ValueError):
            return ""
        return found.description if found else ""


def _coders(facts: Iterable[ReviewFact]) -> list[dict[str, Any]]:
    by_coder: dict[str, list[ReviewFact]] = defaultdict(list)
    for fact in facts:
        by_coder[fact.coder].append(fact)
    out = []
    for coder, done in sorted(by_coder.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        seconds = [float(f.seconds_spent) for f in done if f.seconds_spent is not None]
        active_hours = sum(seconds) / 3600
        out.append(
            {
                "coder": coder,
                "reviews": len(done),
                "median_seconds": statistics.median(seconds) if seconds else None,
                "p90_seconds": percentile(seconds, 0.9),
                "active_hours": round(active_hours, 4),
                # Reviews with a time, over the time they took: reviews per hour of work.
                "reviews_per_hour": round(len(seconds) / active_hours, 4) if active_hours else None,
            }
        )
    return out


def _throughput(facts: Iterable[ReviewFact], days: list[date]) -> list[dict[str, Any]]:
    per_day = Counter(f.submitted_at.date() for f in facts)
    return [{"date": day, "reviews": per_day[day]} for day in days]


def _time_per_encounter(seconds: list[float]) -> dict[str, Any]:
    histogram = []
    if seconds:
        bands = min(MAX_BANDS, int(max(seconds)) // BAND_SECONDS + 1)
        counts = Counter(min(int(s) // BAND_SECONDS, bands - 1) for s in seconds)
        histogram = [
            {
                "from_seconds": n * BAND_SECONDS,
                "to_seconds": (n + 1) * BAND_SECONDS,
                "reviews": counts[n],
            }
            for n in range(bands)
        ]
    return {
        "median_seconds": statistics.median(seconds) if seconds else None,
        "mean_seconds": round(statistics.fmean(seconds), 2) if seconds else None,
        "p90_seconds": percentile(seconds, 0.9),
        "histogram": histogram,
    }

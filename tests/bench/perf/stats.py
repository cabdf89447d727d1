"""Latency statistics: percentiles as the benchmarks report them."""

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass


def percentile(values: Sequence[float], q: int) -> float:
    """The q-th percentile (1-99), interpolated between the nearest values."""
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


@dataclass(frozen=True)
class Summary:
    """Milliseconds over `n` timings."""

    n: int
    p50: float
    p95: float
    p99: float
    mean: float
    max: float

    @classmethod
    def of(cls, timings_ms: Sequence[float]) -> "Summary":
        if not timings_ms:
            raise ValueError("no timings to summarise")
        return cls(
            n=len(timings_ms),
            p50=percentile(timings_ms, 50),
            p95=percentile(timings_ms, 95),
            p99=percentile(timings_ms, 99),
            mean=statistics.fmean(timings_ms),
            max=max(timings_ms),
        )

    def as_dict(self, digits: int = 2) -> dict[str, float | int]:
        return {k: v if isinstance(v, int) else round(v, digits) for k, v in asdict(self).items()}


def timed_ms(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return (time.perf_counter() - started) * 1000

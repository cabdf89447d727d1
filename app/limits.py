"""Per-caller rate limits and the cap on requests in flight, per worker process.

Rate limits are token buckets: each caller may spend `burst` requests at once and earns
`per_minute` back each minute; a refused request learns in Retry-After when the next one
is earned. Callers are keyed by who they are (a user, the admin token) once known, and by
client address for requests that fail to authenticate, so guessing tokens is slow too.
The buckets live in this process: with N workers a caller gets N times the rate, which
is the price of needing no shared store.
"""

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from codes.errors import MedcodeError


class RateLimitedError(MedcodeError):
    status_code = 429
    error = "rate_limited"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(
        self,
        per_minute: float,
        burst: int,
        max_callers: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("a rate limit needs a positive rate and a burst of at least 1")
        self.per_second = per_minute / 60.0
        self.burst = burst
        self.max_callers = max_callers
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def spend(self, caller: str, what: str = "requests") -> None:
        """Take one request from the caller's bucket; RateLimitedError when it is empty."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(caller)
            if bucket is None:
                bucket = _Bucket(float(self.burst), now)
            else:
                earned = (now - bucket.updated) * self.per_second
                bucket = _Bucket(min(float(self.burst), bucket.tokens + earned), now)
            if bucket.tokens < 1.0:
                self._remember(caller, bucket)
                wait = math.ceil((1.0 - bucket.tokens) / self.per_second)
                raise RateLimitedError(f"too many {what}: try again in {wait} s", wait)
            bucket.tokens -= 1.0
            self._remember(caller, bucket)

    def _remember(self, caller: str, bucket: _Bucket) -> None:
        self._buckets[caller] = bucket
        self._buckets.move_to_end(caller)
        # A full bucket is the same as none: the least recently seen callers go first.
        while len(self._buckets) > self.max_callers:
            self._buckets.popitem(last=False)

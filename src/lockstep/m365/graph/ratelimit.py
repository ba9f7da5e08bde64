"""Client-side pacing hooks: a `RateLimiter` protocol, a no-op, and an in-memory token bucket.

The transport calls `acquire(units)` before every HTTP request with the request's estimated
resource-unit cost (graph-facts §5), so a limiter can pace below Graph's per-tenant budget.
A limiter that also has `penalize(seconds)` is told about every 429's Retry-After (top-level
or inside a `$batch`), and one with `observe_usage(fraction, writes=...)` about every
`x-ms-throttle-limit-percentage` header, which Graph sends once a limit is past 80 % used.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit


class RateLimiter(Protocol):
    """Blocks until `units` resource units and `writes` write operations are available, or raises
    (e.g. `Throttled(retry_after=...)`) to tell the caller to reschedule instead of holding a worker."""

    def acquire(self, units: float, writes: float = 0) -> None: ...


@runtime_checkable
class ThrottleAware(Protocol):
    """A limiter that wants to hear about 429s: stop handing out budget for `seconds`."""

    def penalize(self, seconds: float) -> None: ...


@runtime_checkable
class UsageAware(Protocol):
    """A limiter that wants Graph's own count: a limit is `fraction` used (0.8-1.8; 1 = full).
    `writes`: the answered request was a write, so the limit may be the write limit."""

    def observe_usage(self, fraction: float, *, writes: bool) -> None: ...


THROTTLE_PERCENTAGE = "x-ms-throttle-limit-percentage"


def limit_usage(headers: Mapping[str, str]) -> float | None:
    """The `x-ms-throttle-limit-percentage` of a response's headers (any case), or None."""
    for name, value in headers.items():
        if name.lower() == THROTTLE_PERCENTAGE:
            try:
                fraction = float(value)
            except ValueError:
                return None
            return fraction if fraction >= 0 else None
    return None


class NoRateLimit:
    """The default: no client-side pacing (Graph's 429s are still honoured)."""

    def acquire(self, units: float, writes: float = 0) -> None:
        return None


class TokenBucket:
    """An in-memory token bucket: `rate` units per second refill, bursts up to `capacity`.

    Thread-safe; shares nothing across processes (the DB-backed per-tenant budget does that).
    """

    def __init__(
        self,
        rate: float,
        capacity: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or capacity <= 0:
            raise ValueError("rate and capacity must be positive")
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._sleep = sleep
        self._tokens = capacity
        self._updated = clock()
        self._blocked_until = 0.0
        self._lock = threading.Lock()
        self.waited = 0.0  # total seconds spent waiting, for benchmarks

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
        self._updated = now

    def _reserve(self, units: float) -> float:
        """Take `units` (possibly going into debt) and return how long the caller must wait."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            units = min(units, self.capacity)
            self._tokens -= units
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate
            return max(wait, self._blocked_until - now)

    def acquire(self, units: float, writes: float = 0) -> None:
        wait = self._reserve(units)
        if wait > 0:
            self.waited += wait
            self._sleep(wait)

    def penalize(self, seconds: float) -> None:
        with self._lock:
            now = self._clock()
            self._blocked_until = max(self._blocked_until, now + seconds)
            self._refill(now)
            self._tokens = min(self._tokens, 0.0)


# --- resource-unit cost estimates (graph-facts §5) --------------------------------------------

_GET_COSTS: list[tuple[str, float]] = [
    ("/transitivemembers", 5),
    ("/members", 3),
    ("/subscribedskus", 3),
    ("/memberof", 2),
    ("/transitivememberof", 2),
    ("/applications", 2),
    ("/domainnamereferences", 4),
]


def estimate_cost(method: str, url: str) -> float:
    """Graph's documented base resource-unit cost of one request, with the $select/$top modifiers."""
    parts = urlsplit(url)
    path = parts.path.lower().rstrip("/")
    query = parts.query.lower()
    method = method.upper()
    if method != "GET":
        if path.endswith("/getbyids"):
            return 5.0
        if path.endswith(("/ismemberof", "/checkmembergroups")):
            return 4.0
        return 1.0
    cost = 1.0
    for suffix, value in _GET_COSTS:
        if path.endswith(suffix) or f"{suffix}/" in path:
            cost = value
            break
    else:
        segs = [s for s in path.split("/") if s]
        if segs and segs[-1] in ("users", "delta") and "users" in segs:
            cost = 2.0
    if "%24select" in query or "$select" in query:
        cost -= 1
    if "%24expand" in query or "$expand" in query:
        cost += 1
    for token in query.split("&"):
        if token.startswith(("$top=", "%24top=")):
            try:
                if int(token.split("=", 1)[1]) < 20:
                    cost -= 1
            except ValueError:
                pass
    return max(1.0, cost)

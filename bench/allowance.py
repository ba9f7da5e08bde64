"""The allowance minimum: the least wall time Graph's write limit, as m365sim models it, permits.

Graph allows an app 3,000 writes per 150 s in one tenant (graph-facts §5). m365sim models that
as a token bucket that is full when the tenant is idle and refills evenly, 20 writes/s. A
tenant's writes go as `$batch`es of 20, one after another (each waits for the previous answer),
each costing one 20 ms round trip. The least time for `W` writes is then found step by step
(`allowance_minimum`): a batch leaves as soon as the bucket holds its writes and the previous
batch has answered; the bucket refills meanwhile, also during the round trips.

So up to the bucket (and the little that refills while it drains) only the round trips cost
time: 3,000 writes take 150 x 20 ms = 3.0 s. Well past it the refill rate rules: 5,000 writes
take about (5,000 - 3,000) / 20 = 100 s, the round trips hidden in the refill waits.

Tenants have their own buckets and refill side by side, so the minimum for several tenants
worked at once is the largest of theirs (`combined_minimum`). The per-application buckets
(35,000 writes / 5 min) do not bind here: each tenant's Lockstep app has its own client id.

Every scale benchmark (`bench_provision`, `bench_onboarding`, `bench_tenants`,
`bench_interactive`) prints its wall time beside this figure, as a ratio.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WriteLimit:
    """Graph's app + tenant write limit as m365sim models it (`m365sim.throttle.ThrottleSettings`)."""

    bucket: int = 3_000  # writes per app and tenant, all available to an idle tenant
    window_seconds: float = 150.0  # ... refilled evenly over this window

    @property
    def refill_per_second(self) -> float:
        return self.bucket / self.window_seconds


GRAPH_WRITE_LIMIT = WriteLimit()
LATENCY_SECONDS = 0.020  # the benchmarks' m365sim latency per request
BATCH_SIZE = 20  # requests per Graph $batch


def batches_in_sequence(writes: int, batch_size: int = BATCH_SIZE) -> int:
    """Round trips that cannot overlap for `writes` writes into one tenant: its $batches, one
    after another."""
    return math.ceil(writes / batch_size) if writes > 0 else 0


def allowance_minimum(
    writes: int,
    *,
    latency_seconds: float = LATENCY_SECONDS,
    batch_size: int = BATCH_SIZE,
    limit: WriteLimit = GRAPH_WRITE_LIMIT,
) -> float:
    """Seconds: `writes` writes into one idle tenant as batches of `batch_size`, one after another."""
    if writes < 0:
        raise ValueError("writes must be >= 0")
    now, tokens, left = 0.0, float(limit.bucket), writes
    while left > 0:
        size = min(batch_size, left)
        if tokens < size:  # wait for the refill
            now += (size - tokens) / limit.refill_per_second
            tokens = float(size)
        tokens -= size
        left -= size
        now += latency_seconds  # the round trip, while the bucket refills
        tokens = min(float(limit.bucket), tokens + latency_seconds * limit.refill_per_second)
    return now


def combined_minimum(writes_per_tenant: Iterable[int], *, latency_seconds: float = LATENCY_SECONDS) -> float:
    """Several tenants worked at once, each with its own bucket: the slowest tenant's minimum."""
    return max(
        (allowance_minimum(w, latency_seconds=latency_seconds) for w in writes_per_tenant), default=0.0
    )


def ratio(wall_seconds: float, minimum_seconds: float) -> str:
    """'1.23x' (wall time over the allowance minimum)."""
    return f"{wall_seconds / minimum_seconds:.2f}x" if minimum_seconds > 0 else "n/a"

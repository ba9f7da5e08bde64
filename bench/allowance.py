"""The allowance minimum: the least wall time Graph's write limit, as m365sim models it, permits.

Graph allows an app 3,000 writes per 150 s in one tenant (graph-facts §5). m365sim models that
as a token bucket that is full when the tenant is idle and refills evenly, 20 writes/s. So for
`W` writes into one tenant:

    allowance minimum = max(0, W - 3,000) / 20 s  +  B x 20 ms

The first term is the refill time: the first 3,000 writes are in the bucket at the start, every
further write waits for its 1/20 s of refill. The second is the latency of the `B` round trips
that cannot overlap: a tenant's `$batch`es of 20 go one after another (`batches_in_sequence`),
each costing one 20 ms round trip, and this bound does not hide them behind the refill wait.
So 3,000 writes cost only latency; 3,001 cost one refill interval (50 ms) more.

Tenants have their own buckets and refill side by side, so the minimum for several tenants
worked at once is the largest of theirs (`combined_minimum`). The per-application buckets
(35,000 writes / 5 min) do not bind here: each tenant's Lockstep app has its own client id.

`bench/bench_tenants.py`, `bench_interactive.py` and `bench_scale_memory.py` print every
wall time beside this figure, as a ratio.
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
    batches: int | None = None,
    latency_seconds: float = LATENCY_SECONDS,
    limit: WriteLimit = GRAPH_WRITE_LIMIT,
) -> float:
    """Seconds: the refill time for the writes past a full bucket, plus `batches` round trips
    (default `batches_in_sequence(writes)`) of `latency_seconds` each."""
    if writes < 0:
        raise ValueError("writes must be >= 0")
    round_trips = batches_in_sequence(writes) if batches is None else batches
    refill = max(0, writes - limit.bucket) / limit.refill_per_second
    return refill + round_trips * latency_seconds


def combined_minimum(writes_per_tenant: Iterable[int], *, latency_seconds: float = LATENCY_SECONDS) -> float:
    """Several tenants worked at once, each with its own bucket: the slowest tenant's minimum."""
    return max(
        (allowance_minimum(w, latency_seconds=latency_seconds) for w in writes_per_tenant), default=0.0
    )


def ratio(wall_seconds: float, minimum_seconds: float) -> str:
    """'1.23x' (wall time over the allowance minimum)."""
    return f"{wall_seconds / minimum_seconds:.2f}x" if minimum_seconds > 0 else "n/a"

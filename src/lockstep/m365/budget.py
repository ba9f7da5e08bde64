"""The per-tenant Graph budget, shared by every worker through the database.

Two token buckets per tenant — resource units and writes — sized like Graph's own buckets
for Lockstep's app in that tenant (graph-facts §5): an idle tenant starts with nearly the whole
allowance (3,000 writes) and refills at nearly Graph's rate (20 writes/s), so a big job uses the
burst Graph allows instead of a fixed trickle. `BudgetLimits` says which share is left aside.

Graph's own view corrects ours: `x-ms-throttle-limit-percentage` (sent once a limit is past
80 % used) lowers a bucket to what that usage leaves (`observe_usage`), and a 429 anywhere pauses
the whole tenant for its Retry-After (`penalize`). On PostgreSQL the row is locked with
SELECT ... FOR UPDATE; on SQLite, IMMEDIATE transactions serialize.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction

from lockstep.m365 import lanes
from lockstep.m365.models import GraphBudget

GRAPH_APP_TENANT_WRITES = 3_000
"""Graph's write limit per app and tenant: 3,000 requests per 150 s (graph-facts §5)."""
GRAPH_APP_TENANT_WRITE_WINDOW = 150.0
GRAPH_SMALL_TENANT_UNITS = 3_500
"""Graph's resource-unit limit per app and tenant for the smallest tenants: 3,500 per 10 s."""
GRAPH_UNIT_WINDOW = 10.0
WRITE_SHARE = 0.98
"""How much of the app+tenant write allowance Lockstep uses: 2 % is kept for clock skew between
workers (each refills the shared row from its own clock) and for anything else run under
Lockstep's app registration. The tenant-wide limit (18,000 writes / 5 min across all apps) is
another app's business only in that Lockstep takes at most 3,000 / 150 s = 6,000 / 5 min of it,
a third; the other two thirds stay with other apps, and their use shows up in the
percentage header, which slows Lockstep further."""
UNIT_SHARE = 0.9
"""Resource units: 90 % of the smallest tenant size's quota (the size is not known up front)."""
_FLOAT_NOISE = 1e-9
"""A shortfall this small (seconds) is rounding in the refill arithmetic, not a real wait."""


@dataclass(frozen=True)
class BudgetLimits:
    """Lockstep's buckets for one tenant, as shares of Graph's limits for an app + tenant pair."""

    units_per_second: float = GRAPH_SMALL_TENANT_UNITS / GRAPH_UNIT_WINDOW * UNIT_SHARE
    unit_burst: float = GRAPH_SMALL_TENANT_UNITS * UNIT_SHARE
    writes_per_second: float = GRAPH_APP_TENANT_WRITES / GRAPH_APP_TENANT_WRITE_WINDOW * WRITE_SHARE
    write_burst: float = GRAPH_APP_TENANT_WRITES * WRITE_SHARE


class DatabaseBudget:
    """A `RateLimiter` for the Graph client whose state lives in `GraphBudget`."""

    def __init__(
        self,
        tenant_id: str,
        limits: BudgetLimits | None = None,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.tenant_id = tenant_id
        self.limits = limits or BudgetLimits()
        self.clock = clock
        self.sleep = sleep
        self.waited = 0.0
        self.write_room: float | None = None
        """Writes left in the bucket after this budget's last write was taken (None: none yet)."""

    def _row(self) -> GraphBudget:
        """The tenant's row, locked and refilled up to now (call inside a transaction).

        A tenant seen for the first time is idle as far as Lockstep knows: both buckets start full.
        """
        limits = self.limits
        now = self.clock()
        row, _ = GraphBudget.objects.select_for_update().get_or_create(
            tenant_id=self.tenant_id,
            defaults={"resource_units": limits.unit_burst, "writes": limits.write_burst, "refilled_at": now},
        )
        elapsed = max(0.0, now - row.refilled_at)
        row.resource_units = min(limits.unit_burst, row.resource_units + elapsed * limits.units_per_second)
        row.writes = min(limits.write_burst, row.writes + elapsed * limits.writes_per_second)
        row.refilled_at = now
        return row

    def _try(self, units: float, writes: float) -> float:
        """Take the budget if available; else return the seconds to wait.

        Bulk writes leave the interactive lane's reserve in the bucket (`lanes.reserve_for_bulk`).
        """
        limits = self.limits
        with transaction.atomic():
            row = self._row()
            units = min(units, limits.unit_burst)
            writes = min(writes, limits.write_burst)
            needed = min(limits.write_burst, writes + lanes.reserve_for_bulk()) if writes else 0.0
            wait = max(
                row.blocked_until - row.refilled_at,
                (units - row.resource_units) / limits.units_per_second,
                (needed - row.writes) / limits.writes_per_second,
                0.0,
            )
            if wait <= _FLOAT_NOISE:
                wait = 0.0
                row.resource_units -= units
                row.writes -= writes
                row.used_units += units
                row.used_writes += writes
                if writes:
                    self.write_room = row.writes
            row.save()
            return wait

    def acquire(self, units: float, writes: float = 0) -> None:
        while True:
            wait = self._try(units, writes)
            if wait <= 0:
                return
            self.waited += wait
            self.sleep(min(wait, 2.0))

    def penalize(self, seconds: float) -> None:
        with transaction.atomic():
            row = self._row()
            row.blocked_until = max(row.blocked_until, row.refilled_at + seconds)
            row.save()

    def observe_usage(self, fraction: float, *, writes: bool) -> None:
        """Graph says a limit is `fraction` used (1.0 = exhausted): keep no more than it leaves.

        The header does not name its limit, so resource units are always lowered and the write
        bucket when the answered request wrote. Our view only ever goes down here: Graph counting
        more than we did (another process of this app, another app near the tenant-wide limit)
        slows us; Graph counting less never speeds us past our own pace.
        """
        left = 1.0 - fraction
        with transaction.atomic():
            row = self._row()
            row.resource_units = min(row.resource_units, self.limits.unit_burst * left)
            if writes:
                row.writes = min(row.writes, self.limits.write_burst * left)
            row.save()

    def in_use(self) -> dict[str, float]:
        """How much of each bucket is spent right now (0 = idle, 1 = exhausted)."""
        row = GraphBudget.objects.filter(tenant_id=self.tenant_id).first()
        if row is None:
            return {"resource_units": 0.0, "writes": 0.0}
        elapsed = max(0.0, self.clock() - row.refilled_at)
        units = min(self.limits.unit_burst, row.resource_units + elapsed * self.limits.units_per_second)
        writes = min(self.limits.write_burst, row.writes + elapsed * self.limits.writes_per_second)
        return {
            "resource_units": round(1 - units / self.limits.unit_burst, 3),
            "writes": round(1 - writes / self.limits.write_burst, 3),
        }

"""The per-tenant Graph budget, shared by every worker through the database.

Two token buckets per tenant — resource units and writes — refilled at a pace safely
below Graph's identity limits (graph-facts §5), so a busy directory is paced instead of
throttled. A 429 anywhere pauses the whole tenant for its Retry-After. On PostgreSQL the
row is locked with SELECT ... FOR UPDATE; on SQLite, IMMEDIATE transactions serialize.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction

from lockstep.m365.models import GraphBudget


@dataclass(frozen=True)
class BudgetLimits:
    """Paces as fractions of Graph's limits for an app + tenant pair."""

    units_per_second: float = 3_500 / 10 * 0.9  # the smallest tenant size's RU quota, 90%
    unit_burst: float = 1_000
    writes_per_second: float = 3_000 / 150 * 0.95  # 3,000 writes per 2.5 min, 95%
    write_burst: float = 40


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

    def _try(self, units: float, writes: float) -> float:
        """Take the budget if available; else return the seconds to wait."""
        limits = self.limits
        with transaction.atomic():
            row, _ = GraphBudget.objects.select_for_update().get_or_create(
                tenant_id=self.tenant_id,
                defaults={
                    "resource_units": limits.unit_burst,
                    "writes": limits.write_burst,
                    "refilled_at": self.clock(),
                },
            )
            now = self.clock()
            elapsed = max(0.0, now - row.refilled_at)
            row.resource_units = min(
                limits.unit_burst, row.resource_units + elapsed * limits.units_per_second
            )
            row.writes = min(limits.write_burst, row.writes + elapsed * limits.writes_per_second)
            row.refilled_at = now
            units = min(units, limits.unit_burst)
            writes = min(writes, limits.write_burst)
            wait = max(
                row.blocked_until - now,
                (units - row.resource_units) / limits.units_per_second,
                (writes - row.writes) / limits.writes_per_second,
                0.0,
            )
            if wait <= 0:
                row.resource_units -= units
                row.writes -= writes
                row.used_units += units
                row.used_writes += writes
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
            row, _ = GraphBudget.objects.select_for_update().get_or_create(tenant_id=self.tenant_id)
            row.blocked_until = max(row.blocked_until, self.clock() + seconds)
            row.save(update_fields=["blocked_until"])

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

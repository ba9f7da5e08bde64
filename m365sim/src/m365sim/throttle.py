"""Graph identity-service throttling (graph-facts §5).

Token buckets, refilled continuously:

* resource units per (app, tenant), sized by the tenant's user count
  (S < 50 users: 3,500 RU / 10 s; M 50-500: 5,000; L > 500: 8,000),
* resource units per app across tenants (150,000 RU / 20 s),
* writes per (app, tenant) 3,000 / 150 s, per app 35,000 / 5 min, per tenant 18,000 / 5 min.

`Throttle.charge(app_id, tenant_id, method, path, query)` returns a `ThrottleDecision`:
allowed (with `x-ms-resource-unit`, plus `x-ms-throttle-limit-percentage` past 80 %) or a 429
with a fractional `Retry-After`, `x-ms-throttle-scope`, `x-ms-throttle-information` and the
§5 body. A throttled request consumes nothing (simplification: Graph says throttled requests
still count). All limits live in `ThrottleSettings`, so benchmarks use the real ones and tests
tiny ones; `enabled=False` turns throttling off (costs are still computed and reported).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from m365sim.resource_units import resource_unit_cost

__all__ = [
    "Throttle",
    "ThrottleDecision",
    "ThrottleSettings",
    "TokenBucket",
    "resource_unit_cost",
    "throttled_body",
]


@dataclass(slots=True)
class ThrottleSettings:
    """Every limit of §5. Windows are in seconds; capacity refills evenly over the window."""

    enabled: bool = True
    ru_small: float = 3_500  # tenant with < small_max_users users
    ru_medium: float = 5_000  # small_max_users .. medium_max_users users
    ru_large: float = 8_000  # more than medium_max_users users
    small_max_users: int = 49
    medium_max_users: int = 500
    ru_window: float = 10.0
    app_ru: float = 150_000  # per application across tenants
    app_ru_window: float = 20.0
    app_tenant_writes: float = 3_000
    app_tenant_write_window: float = 150.0
    app_writes: float = 35_000
    app_write_window: float = 300.0
    tenant_writes: float = 18_000
    tenant_write_window: float = 300.0
    warn_fraction: float = 0.8  # x-ms-throttle-limit-percentage appears past this usage

    def ru_capacity(self, user_count: int) -> float:
        if user_count <= self.small_max_users:
            return self.ru_small
        if user_count <= self.medium_max_users:
            return self.ru_medium
        return self.ru_large

    @classmethod
    def tiny(cls, **overrides: Any) -> ThrottleSettings:
        """Small limits for tests (override any field)."""
        base: dict[str, Any] = dict(
            ru_small=10,
            ru_medium=20,
            ru_large=30,
            ru_window=1.0,
            app_tenant_writes=5,
            app_tenant_write_window=1.0,
            app_writes=50,
            app_write_window=1.0,
            tenant_writes=50,
            tenant_write_window=1.0,
        )
        base.update(overrides)
        return cls(**base)


class TokenBucket:
    """A continuously refilling bucket: `capacity` tokens per `window` seconds."""

    __slots__ = ("capacity", "rate", "tokens", "updated")

    def __init__(self, capacity: float, window: float, now: float) -> None:
        self.capacity = float(capacity)
        self.rate = self.capacity / window if window > 0 else float("inf")
        self.tokens = self.capacity
        self.updated = now

    def refill(self, now: float) -> None:
        elapsed = now - self.updated
        if elapsed > 0:
            self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
            self.updated = now

    def resize(self, capacity: float, window: float) -> None:
        if capacity != self.capacity:
            self.capacity = float(capacity)
            self.rate = self.capacity / window if window > 0 else float("inf")
            self.tokens = min(self.tokens, self.capacity)

    def wait_for(self, amount: float) -> float:
        """Seconds until `amount` tokens are available (0 if they are now)."""
        missing = amount - self.tokens
        if missing <= 1e-9:  # float refill noise
            return 0.0
        if amount > self.capacity:  # can never fit: report a full window
            return self.capacity / self.rate if self.rate else float("inf")
        return missing / self.rate

    def usage(self) -> float:
        return 1.0 - self.tokens / self.capacity if self.capacity else 0.0


@dataclass(slots=True)
class ThrottleDecision:
    allowed: bool
    cost: int
    writes: int
    retry_after: float = 0.0
    scope: str = ""
    information: str = ""
    limit_percentage: float | None = None

    def headers(self) -> dict[str, str]:
        """Response headers for this decision (allowed or 429)."""
        if self.allowed:
            out = {"x-ms-resource-unit": str(self.cost)}
            if self.limit_percentage is not None:
                out["x-ms-throttle-limit-percentage"] = f"{self.limit_percentage:.1f}"
            return out
        return {
            "Retry-After": format_retry_after(self.retry_after),
            "x-ms-throttle-scope": self.scope,
            "x-ms-throttle-information": self.information,
        }


def format_retry_after(seconds: float) -> str:
    """Fractional seconds as Graph writes them (e.g. `2.128`); never below 0.001."""
    text = f"{max(seconds, 0.001):.3f}".rstrip("0").rstrip(".")
    return text or "0.001"


def throttled_body(request_id: str, client_request_id: str | None = None) -> dict[str, Any]:
    """The §5 429 body. `client-request-id` is added to innerError as §0 asks for every error."""
    inner: dict[str, Any] = {
        "code": "429",
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "message": "Please retry after",
        "request-id": request_id,
        "status": "429",
    }
    if client_request_id is not None:
        inner["client-request-id"] = client_request_id
    return {"error": {"code": "TooManyRequests", "message": "Please retry again later.", "innerError": inner}}


@dataclass
class Throttle:
    """Charges requests against the §5 buckets. Thread-safe; O(1) per request."""

    settings: ThrottleSettings = field(default_factory=ThrottleSettings)
    user_count: Callable[[str], int] = lambda _tenant: 0
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[tuple[str, str, str], TokenBucket] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def reset(self, tenant_id: str | None = None) -> None:
        """Refill every bucket, or drop only the buckets of one tenant (`tenant_id`)."""
        with self._lock:
            if tenant_id is None:
                self._buckets.clear()
            else:
                for key in [key for key in self._buckets if key[2] == tenant_id]:
                    del self._buckets[key]

    def _bucket(self, key: tuple[str, str, str], capacity: float, window: float, now: float) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(capacity, window, now)
        else:
            bucket.resize(capacity, window)
            bucket.refill(now)
        return bucket

    def charge(
        self,
        app_id: str,
        tenant_id: str,
        method: str,
        path: str,
        query: Mapping[str, Any] | str | None = None,
    ) -> ThrottleDecision:
        cost, writes = resource_unit_cost(method, path, query)
        return self.charge_cost(app_id, tenant_id, cost, writes)

    def charge_cost(self, app_id: str, tenant_id: str, cost: int, writes: int) -> ThrottleDecision:
        s = self.settings
        if not s.enabled:
            return ThrottleDecision(True, cost, writes)
        now = self.clock()
        with self._lock:
            checks: list[tuple[TokenBucket, float, str, str]] = [
                (
                    self._bucket(
                        ("ru", app_id, tenant_id), s.ru_capacity(self.user_count(tenant_id)), s.ru_window, now
                    ),
                    cost,
                    f"Tenant_Application/ReadWrite/{app_id}/{tenant_id}",
                    "ResourceUnitLimitExceeded",
                ),
                (
                    self._bucket(("ru-app", app_id, ""), s.app_ru, s.app_ru_window, now),
                    cost,
                    f"Application/ReadWrite/{app_id}/{tenant_id}",
                    "ResourceUnitLimitExceeded",
                ),
            ]
            if writes:
                checks += [
                    (
                        self._bucket(
                            ("w", app_id, tenant_id), s.app_tenant_writes, s.app_tenant_write_window, now
                        ),
                        writes,
                        f"Tenant_Application/Write/{app_id}/{tenant_id}",
                        "WriteLimitExceeded",
                    ),
                    (
                        self._bucket(("w-app", app_id, ""), s.app_writes, s.app_write_window, now),
                        writes,
                        f"Application/Write/{app_id}/{tenant_id}",
                        "WriteLimitExceeded",
                    ),
                    (
                        self._bucket(
                            ("w-tenant", "", tenant_id), s.tenant_writes, s.tenant_write_window, now
                        ),
                        writes,
                        f"Tenant/Write/{app_id}/{tenant_id}",
                        "WriteLimitExceeded",
                    ),
                ]
            denied: tuple[str, str] | None = None
            wait = 0.0
            for bucket, amount, scope, info in checks:
                needed = bucket.wait_for(amount)
                if needed > 0:
                    if denied is None:
                        denied = (scope, info)
                    wait = max(wait, needed)
            if denied is not None:
                return ThrottleDecision(False, cost, writes, wait, denied[0], denied[1])
            usage = 0.0
            for bucket, amount, _, _ in checks:
                bucket.tokens -= amount
                usage = max(usage, bucket.usage())
        percentage = usage if usage > s.warn_fraction else None
        return ThrottleDecision(True, cost, writes, limit_percentage=percentage)


# ----- the Graph dispatcher hook (`sim.throttle`) -----------------------------------------------


@dataclass(slots=True)
class ThrottleCharge:
    """What `graph.core.dispatch` expects from `sim.throttle.charge(req)`."""

    cost: int
    headers: dict[str, str]
    response: Any = None  # a GraphResponse (429) when throttled


class GraphThrottle:
    """`sim.throttle`: charges every Graph request (top-level and inside `$batch`).

    The outer `POST /$batch` itself costs nothing; each inner request is charged on its own.
    Requests without a token's `appid`/`tid` are charged to "anonymous"/the sim's tenant.

    The tenants of one server share one engine (`engine`): its buckets are keyed by app and
    tenant, so each tenant has its own (app, tenant) and tenant buckets while the
    per-application buckets count across the server's tenants, as at Microsoft. The limits
    (`settings`) are the engine's, the same for every tenant; the RU quota follows each
    tenant's size.
    """

    def __init__(
        self,
        sim: Any,
        settings: ThrottleSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
        engine: Throttle | None = None,
    ) -> None:
        self.sim = sim
        self.engine = engine or Throttle(
            settings or ThrottleSettings(), user_count=lambda tid: _tenant_size(sim, tid), clock=clock
        )

    @property
    def settings(self) -> ThrottleSettings:
        return self.engine.settings

    @settings.setter
    def settings(self, value: ThrottleSettings) -> None:
        self.engine.settings = value
        self.engine.reset()

    def configure(self, **values: Any) -> ThrottleSettings:
        """Change limits in place (`enabled=False`, `ru_small=10`, ...) and reset the buckets."""
        for key, value in values.items():
            if not hasattr(self.engine.settings, key):
                raise KeyError(key)
            setattr(self.engine.settings, key, value)
        self.engine.reset()
        return self.engine.settings

    def reset(self) -> None:
        """The primary tenant's reset refills every bucket; another tenant's drops its own."""
        primary = getattr(self.sim, "primary", self.sim)
        self.engine.reset(None if primary is self.sim else self.sim.tenant.id)

    def forget_tenant(self, tenant_id: str) -> None:
        self.engine.reset(tenant_id)

    def charge(self, req: Any) -> ThrottleCharge:
        if req.path.lower().rstrip("/") == "/$batch":
            return ThrottleCharge(0, {}, None)
        claims = req.claims or {}
        app_id = str(claims.get("appid") or "anonymous")
        tenant_id = str(claims.get("tid") or self.sim.tenant.id)
        decision = self.engine.charge(app_id, tenant_id, req.method, req.path, req.query)
        if decision.allowed:
            return ThrottleCharge(decision.cost, decision.headers(), None)
        from m365sim.graph.core import GraphResponse

        headers = decision.headers()
        headers["Content-Type"] = "application/json"
        body = throttled_body(req.request_id, req.client_request_id)
        return ThrottleCharge(decision.cost, {}, GraphResponse(429, body, headers))


def _tenant_size(sim: Any, tenant_id: str) -> int:
    served = getattr(sim, "tenants", {}).get(tenant_id)
    return len((served or sim).tenant.users)


def create(sim: Any) -> GraphThrottle:
    """The hook `Simulator` calls: real §5 limits; tests call `sim.throttle.configure(...)`.
    A tenant added to a server shares the primary tenant's engine."""
    primary = getattr(sim, "primary", sim)
    shared = getattr(primary, "throttle", None) if primary is not sim else None
    if isinstance(shared, GraphThrottle):
        return GraphThrottle(sim, engine=shared.engine)
    return GraphThrottle(sim)

"""Fault rules (`Fault`) and the set that picks them per request (`FaultSet`); `faults` wires
them into the simulator. The kinds are described in `faults`."""

from __future__ import annotations

import random
import re
import threading
import uuid
from dataclasses import asdict, dataclass, field, fields
from typing import Any

KINDS = (
    "status",
    "throttle",
    "hang",
    "reset",
    "lost_response",
    "applied_status",
    "consent_revoked",
    "secret_expired",
    "latency",
    "replication_lag",
)
# kinds decided per request by FaultSet.pick (the others are conditions or delays)
_REQUEST_KINDS = frozenset({"status", "throttle", "hang", "reset", "lost_response", "applied_status"})
TOKEN_PATH = re.compile(r"^/[^/]+/oauth2/v2\.0/token$")


@dataclass
class Fault:
    kind: str
    method: str | None = None  # None = any method
    path: str | None = None  # regex searched in the path; None = any path
    status: int = 503
    retry_after: float | None = None  # seconds; status/throttle faults
    seconds: float = 0.0  # hang duration or fixed latency
    jitter: float = 0.0  # latency: extra uniform(0, jitter)
    probability: float = 1.0
    count: int | None = None  # fires at most this many times (None = unlimited)
    app_id: str | None = None  # consent_revoked / secret_expired: only this client id
    inner: bool = True  # also applies to requests inside $batch (status, throttle, consent)
    target: str | None = None  # replication_lag: regex on the object's id/UPN/displayName/mailNickname
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    fired: int = 0
    _regex: re.Pattern[str] | None = field(default=None, repr=False, compare=False)
    _target: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        if self.method in ("", "*"):
            self.method = None
        if self.method:
            self.method = self.method.upper()
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        if self.count is not None and self.count < 0:
            raise ValueError("count must be >= 0")
        if self.kind == "throttle" and self.retry_after is None:
            self.retry_after = 1.0
        if self.kind == "replication_lag":
            if self.method is not None or self.path is not None:
                raise ValueError("replication_lag faults pick objects with 'target', not 'method' or 'path'")
            if not 0 < self.seconds <= 3600:
                raise ValueError("replication_lag faults need 'seconds' between 0 (excluded) and 3600")
        elif self.target is not None:
            raise ValueError("'target' applies to replication_lag faults only")
        self._regex = re.compile(self.path) if self.path else None
        self._target = re.compile(self.target) if self.target else None

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method.upper():
            return False
        return self._regex is None or self._regex.search(path) is not None

    def exhausted(self) -> bool:
        return self.count is not None and self.fired >= self.count

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("_regex")
        d.pop("_target")
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        allowed = {f.name for f in fields(cls)} - {"_regex", "_target", "fired"}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        return cls(**data)


class FaultSet:
    """The active faults of one simulator. Thread-safe (tests script it from their thread)."""

    def __init__(self, seed: int | None = 0) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._rng = random.Random(seed)

    def __len__(self) -> int:
        return len(self._faults)

    def seed(self, seed: int | None) -> None:
        with self._lock:
            self._rng = random.Random(seed)

    def add(self, kind: str | Fault, **options: Any) -> Fault:
        """`add("status", status=503, path="/users", count=2)` or `add(Fault(...))`."""
        fault = kind if isinstance(kind, Fault) else Fault(kind=kind, **options)
        with self._lock:
            self._faults.append(fault)
        return fault

    def remove(self, fault_id: str) -> bool:
        with self._lock:
            before = len(self._faults)
            self._faults = [f for f in self._faults if f.id != fault_id]
            return len(self._faults) != before

    def clear(self) -> None:
        with self._lock:
            self._faults = []

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_dict() for f in self._faults]

    def _fire(self, fault: Fault) -> bool:
        """Whether `fault` fires now (probability, count); counts it if so. Caller holds the lock."""
        if fault.exhausted():
            return False
        if fault.probability < 1.0 and self._rng.random() >= fault.probability:
            return False
        fault.fired += 1
        return True

    def pick(self, method: str, path: str, *, inner: bool = False) -> Fault | None:
        """The first request-level fault (status/throttle/hang/reset/lost_response) firing now."""
        if not self._faults:
            return None
        with self._lock:
            for fault in self._faults:
                if fault.kind not in _REQUEST_KINDS or (inner and not fault.inner):
                    continue
                if fault.matches(method, path) and self._fire(fault):
                    return fault
        return None

    def latency(self, method: str, path: str) -> float:
        """Seconds to wait before handling this request (sum of matching latency rules)."""
        if not self._faults:
            return 0.0
        total = 0.0
        with self._lock:
            for fault in self._faults:
                if fault.kind == "latency" and fault.matches(method, path) and self._fire(fault):
                    total += fault.seconds + (self._rng.uniform(0, fault.jitter) if fault.jitter else 0.0)
        return total

    def replication_lag(self, obj: dict[str, Any]) -> float:
        """Seconds of replication lag the `replication_lag` rules give this object's change."""
        if not self._faults:
            return 0.0
        keys = [str(obj.get(k) or "") for k in ("id", "userPrincipalName", "displayName", "mailNickname")]
        seconds = 0.0
        with self._lock:
            for fault in self._faults:
                if fault.kind != "replication_lag":
                    continue
                target = fault._target
                if target is not None and not any(target.search(k) for k in keys if k):
                    continue
                if self._fire(fault):
                    seconds = max(seconds, fault.seconds)
        return seconds

    def _condition(self, kind: str, app_id: str | None, method: str, path: str, inner: bool) -> bool:
        if not self._faults:
            return False
        with self._lock:
            for fault in self._faults:
                if fault.kind != kind or (inner and not fault.inner):
                    continue
                if fault.app_id not in (None, app_id):
                    continue
                if fault.matches(method, path) and self._fire(fault):
                    return True
        return False

    def consent_revoked(
        self, app_id: str | None, method: str = "GET", path: str = "", *, inner: bool = False
    ) -> bool:
        """True if tokens for `app_id` must carry no roles / its Graph calls must get 403."""
        return self._condition("consent_revoked", app_id, method, path, inner)

    def secret_expired(self, app_id: str | None, path: str = "/common/oauth2/v2.0/token") -> bool:
        """True if a client-secret token request of `app_id` must fail with AADSTS7000222."""
        return self._condition("secret_expired", app_id, "POST", path, False)

"""Scriptable fault injection for m365sim.

A :class:`FaultSet` holds :class:`Fault` rules. Each rule matches a method (or any) and a path
regex (``re.search`` on the request path, e.g. ``/v1.0/users``; requests inside ``$batch`` are
matched as ``/v1.0`` + their relative url), fires with a probability (seeded RNG) and/or at most
``count`` times, and has a kind:

``status``          answer ``status`` (500, 503, ...) with a Graph error body (+ Retry-After if set)
``throttle``        answer 429 with the §5 body and ``Retry-After: retry_after`` (a "429 storm")
``hang``            sleep ``seconds`` before handling the request normally (client timeouts)
``reset``           read the request, then drop the connection without any response
``lost_response``   handle the request (the write is applied), then drop the connection
``consent_revoked`` tokens are issued without ``roles``; Graph calls get 403 Authorization_RequestDenied
``secret_expired``  the token endpoint answers AADSTS7000222 to client-secret requests
``latency``         add ``seconds`` + uniform(0, ``jitter``) before every matching request
``replication_lag`` objects matching ``target`` (a regex searched in their id, userPrincipalName,
                    displayName and mailNickname; None = every object) lag ``seconds`` after their
                    create, restore or membership change (see replication.py, graph-facts §12.2)

``consent_revoked`` and ``secret_expired`` may be limited to one ``app_id`` (client id).
:class:`Faults` (``sim.faults``) applies them through the hooks of ``graph.core.dispatch``
(``before``/``after``, for top-level and ``$batch`` inner requests) and of the token endpoint
(``before_login``). HTTP control API (:func:`fault_routes`): ``GET/POST/DELETE /_sim/faults``,
``DELETE /_sim/faults/{id}``, ``POST /_sim/faults/seed``.
"""

from __future__ import annotations

import asyncio
import random
import re
import threading
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .throttle import format_retry_after, throttled_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

KINDS = (
    "status",
    "throttle",
    "hang",
    "reset",
    "lost_response",
    "consent_revoked",
    "secret_expired",
    "latency",
    "replication_lag",
)
# kinds decided per request by FaultSet.pick (the others are conditions or delays)
_REQUEST_KINDS = frozenset({"status", "throttle", "hang", "reset", "lost_response"})
TOKEN_PATH = re.compile(r"^/[^/]+/oauth2/v2\.0/token$")


class ConnectionDropped(RuntimeError):
    """Raised when the server cannot find the transport to drop (not running under uvicorn)."""


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


# ----- responses -----------------------------------------------------------------------------------

_STATUS_ERRORS: dict[int, tuple[str, str]] = {
    500: ("generalException", "General exception while processing."),
    502: ("badGateway", "Bad gateway."),
    503: (
        "serviceNotAvailable",
        "The service is temporarily unavailable for maintenance or is overloaded. "
        "You may repeat the request after a delay, which may be specified in a Retry-After header.",
    ),
    504: ("gatewayTimeout", "The server did not receive a timely response from an upstream server."),
}


def _graph_date() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def graph_error_body(code: str, message: str, request_id: str, client_request_id: str) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": _graph_date(),
                "request-id": request_id,
                "client-request-id": client_request_id,
            },
        }
    }


def fault_response(
    fault: Fault, request_id: str, client_request_id: str | None = None
) -> tuple[int, dict[str, str], dict[str, Any]]:
    """(status, headers, body) for a `status` or `throttle` fault (also used inside $batch)."""
    crid = client_request_id or request_id
    headers = {"request-id": request_id, "client-request-id": crid}
    if fault.kind == "throttle":
        headers["Retry-After"] = format_retry_after(fault.retry_after or 1.0)
        headers["x-ms-throttle-information"] = "CPULimitExceeded"
        return 429, headers, throttled_body(request_id, crid)
    code, message = _STATUS_ERRORS.get(fault.status, ("generalException", "An error occurred."))
    if fault.retry_after is not None:
        headers["Retry-After"] = format_retry_after(fault.retry_after)
    return fault.status, headers, graph_error_body(code, message, request_id, crid)


def consent_denied_response(
    request_id: str, client_request_id: str | None = None
) -> tuple[int, dict[str, str], dict[str, Any]]:
    crid = client_request_id or request_id
    body = graph_error_body(
        "Authorization_RequestDenied", "Insufficient privileges to complete the operation.", request_id, crid
    )
    return 403, {"request-id": request_id, "client-request-id": crid}, body


def secret_expired_body(app_id: str) -> dict[str, Any]:
    """The §9.3 error shape for AADSTS7000222 (HTTP 401, invalid_client)."""
    trace, corr = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    description = (
        f"AADSTS7000222: The provided client secret keys for app '{app_id}' are expired. "
        "Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, "
        "or consider using certificate credentials for added security: https://aka.ms/certCreds. "
        f"Trace ID: {trace} Correlation ID: {corr} Timestamp: {stamp}"
    )
    return {
        "error": "invalid_client",
        "error_description": description,
        "error_codes": [7000222],
        "timestamp": stamp,
        "trace_id": trace,
        "correlation_id": corr,
        "error_uri": "https://login.microsoftonline.com/error?code=7000222",
    }


# ----- dropping a connection ------------------------------------------------------------------------


def _find_transport(send: Any, depth: int = 6) -> tuple[Any, Any]:
    """(protocol cycle, transport) behind `send`: uvicorn passes its cycle's bound `send`, and
    Starlette's middlewares wrap it in closures, which are searched a few levels deep."""
    seen: set[int] = set()
    todo = [(send, 0)]
    while todo:
        fn, level = todo.pop()
        if id(fn) in seen or level > depth:
            continue
        seen.add(id(fn))
        owner = getattr(fn, "__self__", None)
        transport = getattr(owner, "transport", None)
        if transport is not None and hasattr(transport, "abort"):
            return owner, transport
        for cell in getattr(fn, "__closure__", None) or ():
            try:
                value = cell.cell_contents
            except ValueError:
                continue
            if callable(value):
                todo.append((value, level + 1))
    return None, None


async def drop_connection(send: Send) -> None:
    """Abort the TCP connection under uvicorn without sending a response (the client sees a
    reset / RemoteProtocolError). Raises :class:`ConnectionDropped` when no transport is found
    (e.g. an in-process ASGI transport)."""
    owner, transport = _find_transport(send)
    if transport is None:
        raise ConnectionDropped("connection dropped by fault injection")
    transport.abort()
    if hasattr(owner, "disconnected"):
        owner.disconnected = True  # uvicorn then attempts no 500 and logs nothing


class DropConnection:
    """An ASGI response that reads nothing more and aborts the connection (no status line)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await drop_connection(send)


def token_error_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response:
    return JSONResponse(body, status_code=status, headers=headers)


def login_fault_body(status: int) -> dict[str, Any]:
    """Entra-style body for a status fault on the token endpoint (§9.3 shape)."""
    trace, corr = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    code = 90033 if status == 503 else 50000  # UNCERTAIN: "service unavailable" / "server error"
    return {
        "error": "temporarily_unavailable" if status == 503 else "server_error",
        "error_description": f"AADSTS{code}: There was an error issuing a token or an issue with our sign-in "
        f"service. Trace ID: {trace} Correlation ID: {corr} Timestamp: {stamp}",
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace,
        "correlation_id": corr,
    }


# ----- the simulator hook (`sim.faults`) ------------------------------------------------------------


class Faults(FaultSet):
    """`sim.faults`: a FaultSet wired to the Graph dispatcher and the token endpoint.

    Graph requests are matched as `/v1.0` + their path (inner `$batch` requests too).
    """

    def __init__(self, sim: Any = None, seed: int | None = 0) -> None:
        super().__init__(seed)
        self.sim = sim
        self._batch_effects: dict[str, list[Any]] = {}

    def _current(self) -> FaultSet:
        """The simulator's live FaultSet (re-installs this one if `sim.faults` was unset)."""
        live = getattr(self.sim, "faults", None)
        if isinstance(live, FaultSet):
            return live
        if self.sim is not None:
            self.reset()
            self.sim.faults = self
        return self

    def reset(self) -> None:
        """Called by `Simulator.reset` after the tenant was rebuilt: drop every rule."""
        vars(self).setdefault("_saved_consent", {}).clear()
        FaultSet.clear(self)

    # consent_revoked also flips `consentGranted` on the matching app registrations while the
    # fault exists, so the token endpoint issues tokens without `roles`; removing the fault
    # restores the previous value.
    def add(self, kind: str | Fault, **options: Any) -> Fault:
        fault = super().add(kind, **options)
        if fault.kind == "consent_revoked":
            self._apply_consent()
        return fault

    def remove(self, fault_id: str) -> bool:
        removed = super().remove(fault_id)
        self._apply_consent()
        return removed

    def clear(self) -> None:
        super().clear()
        self._apply_consent()

    def _apply_consent(self) -> None:
        tenant = getattr(self.sim, "tenant", None)
        if tenant is None:
            return
        with self._lock:
            revoked = [f.app_id for f in self._faults if f.kind == "consent_revoked"]
        saved: dict[str, bool] = vars(self).setdefault("_saved_consent", {})
        for app in tenant.apps.values():
            hit = any(app_id in (None, app.appId) for app_id in revoked)
            if hit and app.appId not in saved:
                saved[app.appId] = app.consentGranted
                app.consentGranted = False
            elif not hit and app.appId in saved:
                app.consentGranted = saved.pop(app.appId)

    # Graph dispatcher hooks
    def before(self, req: Any) -> Any:
        if not self._faults:
            return None
        from m365sim.graph.core import GraphResponse

        path = "/v1.0" + req.path
        if req.app_id and self.consent_revoked(req.app_id, req.method, path, inner=req.in_batch):
            status, headers, body = consent_denied_response(req.request_id, req.client_request_id)
            return GraphResponse(status, body, headers)
        fault = self.pick(req.method, path, inner=req.in_batch)
        if fault is None:
            return None
        if fault.kind in ("status", "throttle"):
            status, headers, body = fault_response(fault, req.request_id, req.client_request_id)
            return GraphResponse(status, body, headers)
        if fault.kind == "reset":
            return GraphResponse(503, None, {}, drop_connection=True)
        vars(req)["_m365sim_fault"] = fault  # hang / lost_response: applied after the handler
        return None

    def after(self, req: Any, resp: Any) -> Any:
        fault = vars(req).pop("_m365sim_fault", None)
        if fault is not None:
            if fault.kind == "hang":
                resp.delay_s += fault.seconds
            elif fault.kind == "lost_response":
                resp.drop_connection = True
        if self._faults:
            resp.delay_s += self.latency(req.method, "/v1.0" + req.path)
        # $batch answers inner responses in its body: an inner drop or delay applies to the
        # whole batch (inner requests share the outer request id).
        if req.in_batch:
            if resp.drop_connection or resp.delay_s:
                with self._lock:
                    effect = self._batch_effects.setdefault(req.request_id, [False, 0.0])
                    effect[0] = effect[0] or resp.drop_connection
                    effect[1] += resp.delay_s
        elif self._batch_effects:
            with self._lock:
                pending = self._batch_effects.pop(req.request_id, None)
            if pending is not None:
                resp.drop_connection = resp.drop_connection or pending[0]
                resp.delay_s += pending[1]
        return resp

    # token endpoint hook
    def before_login(self, tenant: str, form: dict[str, Any]) -> Any:
        """Called by the token endpoint with the parsed form; may answer instead."""
        if not self._faults:
            return None
        path = f"/{tenant}/oauth2/v2.0/token"
        client_id = _first(form.get("client_id"))
        if form.get("client_secret") is not None and self.secret_expired(client_id, path):
            return token_error_response(401, secret_expired_body(client_id or ""))
        fault = self.pick("POST", path)
        if fault is None:
            return None
        if fault.kind == "throttle":
            headers = {"Retry-After": format_retry_after(fault.retry_after or 1.0)}
            return token_error_response(429, login_fault_body(503), headers)
        if fault.kind == "status":
            headers = (
                {} if fault.retry_after is None else {"Retry-After": format_retry_after(fault.retry_after)}
            )
            return token_error_response(fault.status, login_fault_body(fault.status), headers)
        if fault.kind in ("reset", "lost_response"):
            return DropConnection()
        if fault.kind == "hang":
            return _Delayed(fault.seconds)
        return None

    def control_routes(self) -> list[BaseRoute]:
        return fault_routes(self._current)


def _first(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return None if value is None else str(value)


class _Delayed:
    """Sleeps, then lets the request go on: the token endpoint awaits `.wait()` if present."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.sleep(self.seconds)
        await send({"type": "http.response.start", "status": 504, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def create(sim: Any) -> Faults:
    return Faults(sim)


# ----- HTTP control API ---------------------------------------------------------------------------


def fault_routes(current: Callable[[], FaultSet]) -> list[BaseRoute]:
    """`/_sim/faults` routes: GET lists, POST adds (JSON Fault fields), DELETE clears."""

    async def collection(request: Request) -> Response:
        faults = current()
        if request.method == "GET":
            return JSONResponse({"value": faults.list()})
        if request.method == "DELETE":
            faults.clear()
            return Response(status_code=204)
        try:
            data = await request.json()
            if not isinstance(data, dict):
                raise ValueError("body must be a JSON object")
            fault = faults.add(Fault.from_dict(data))
        except (ValueError, TypeError, re.error) as problem:
            return JSONResponse({"error": {"code": "badRequest", "message": str(problem)}}, status_code=400)
        return JSONResponse(fault.to_dict(), status_code=201)

    async def single(request: Request) -> Response:
        if current().remove(request.path_params["fault_id"]):
            return Response(status_code=204)
        return JSONResponse({"error": {"code": "notFound", "message": "no such fault"}}, status_code=404)

    async def seed(request: Request) -> Response:
        data = await request.json()
        current().seed(data.get("seed") if isinstance(data, dict) else None)
        return Response(status_code=204)

    return [
        Route("/_sim/faults", collection, methods=["GET", "POST", "DELETE"]),
        Route("/_sim/faults/seed", seed, methods=["POST"]),
        Route("/_sim/faults/{fault_id}", single, methods=["DELETE"]),
    ]

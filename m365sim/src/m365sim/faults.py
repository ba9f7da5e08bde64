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

``consent_revoked`` and ``secret_expired`` may be limited to one ``app_id`` (client id).
:class:`FaultMiddleware` applies them at the ASGI edge (it must wrap the whole app so it sees
uvicorn's own ``send``); ``/_sim/`` control routes are never faulted. HTTP control API (see
:func:`fault_routes`): ``GET/POST/DELETE /_sim/faults``, ``DELETE /_sim/faults/{id}``,
``POST /_sim/faults/seed``.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import json
import random
import re
import threading
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

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
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    fired: int = 0
    _regex: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

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
        self._regex = re.compile(self.path) if self.path else None

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method.upper():
            return False
        return self._regex is None or self._regex.search(path) is not None

    def exhausted(self) -> bool:
        return self.count is not None and self.fired >= self.count

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("_regex")
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        allowed = {f.name for f in fields(cls)} - {"_regex", "fired"}
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


@dataclass
class EdgeControl:
    """Per-request control shared with inner code (e.g. $batch): set `drop` to lose the response."""

    send: Send
    drop: bool = False


_edge: contextvars.ContextVar[EdgeControl | None] = contextvars.ContextVar("m365sim_edge", default=None)


def request_drop_after_response() -> bool:
    """Ask the edge middleware to drop the connection instead of sending this request's response.

    For "committed but response lost" inside $batch. Returns False outside a faulted request.
    """
    control = _edge.get()
    if control is None:
        return False
    control.drop = True
    return True


async def drop_connection(send: Send) -> None:
    """Abort the TCP connection under uvicorn without sending a response.

    uvicorn passes its protocol cycle's bound `send`; its owner holds the transport. Anything
    else (e.g. an in-process ASGI transport) gets :class:`ConnectionDropped` raised.
    """
    owner = getattr(send, "__self__", None)
    transport = getattr(owner, "transport", None)
    if transport is None:
        raise ConnectionDropped("connection dropped by fault injection")
    transport.abort()
    for _ in range(5):  # let connection_lost mark the cycle disconnected (no 500 is attempted)
        if getattr(owner, "disconnected", True):
            break
        await asyncio.sleep(0)
    if owner is not None and hasattr(owner, "disconnected"):
        owner.disconnected = True


async def _drain(receive: Receive) -> list[Message]:
    messages = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body"):
            return messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def token_app_id(authorization: str | None) -> str | None:
    """`appid` of a bearer token, read without verification (the app verifies it later)."""
    if not authorization or not authorization.lower().startswith("bearer "):
        return None
    parts = authorization[7:].strip().split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    app = payload.get("appid") or payload.get("azp") if isinstance(payload, dict) else None
    return str(app) if app else None


async def _send_json(send: Send, status: int, headers: dict[str, str], body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    raw += [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


class FaultMiddleware:
    """ASGI middleware applying a FaultSet. Must be the outermost layer of the app."""

    def __init__(self, app: Callable[..., Awaitable[None]], faults: FaultSet, graph_prefix: str = "/v1.0") -> None:
        self.app = app
        self.faults = faults
        self.graph_prefix = graph_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.faults._faults or scope["path"].startswith("/_sim/"):
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        delay = self.faults.latency(method, path)
        if delay > 0:
            await asyncio.sleep(delay)
        request_id = str(uuid.uuid4())
        crid = _header(scope, b"client-request-id") or request_id
        if TOKEN_PATH.match(path) and method == "POST":
            messages = await _drain(receive)
            receive = _replay(messages, receive)
            app_id = self._secret_client(scope, messages)
            if app_id is not None and self.faults.secret_expired(app_id, path):
                await _send_json(send, 401, {}, secret_expired_body(app_id))
                return
        if path.startswith(self.graph_prefix + "/") or path == self.graph_prefix:
            app_id = token_app_id(_header(scope, b"authorization"))
            if app_id is not None and self.faults.consent_revoked(app_id, method, path):
                await _send_json(send, *consent_denied_response(request_id, crid))
                return
        fault = self.faults.pick(method, path)
        control = EdgeControl(send)
        if fault is not None:
            if fault.kind in ("status", "throttle"):
                await _send_json(send, *fault_response(fault, request_id, crid))
                return
            if fault.kind == "hang":
                await asyncio.sleep(fault.seconds)
            elif fault.kind == "reset":
                await _drain(receive)
                await drop_connection(send)
                return
            elif fault.kind == "lost_response":
                control.drop = True
        token = _edge.set(control)
        try:
            await self.app(scope, receive, self._guarded_send(control))
        finally:
            _edge.reset(token)
        if control.drop:
            await drop_connection(send)

    @staticmethod
    def _guarded_send(control: EdgeControl) -> Send:
        async def guarded(message: Message) -> None:
            if not control.drop:
                await control.send(message)

        return guarded

    @staticmethod
    def _secret_client(scope: Scope, messages: list[Message]) -> str | None:
        """client_id of a client-secret token request (form or HTTP Basic); None otherwise."""
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
        form = parse_qs(body.decode("utf-8", "replace"))
        auth = _header(scope, b"authorization") or ""
        if auth.lower().startswith("basic "):
            try:
                client_id = base64.b64decode(auth[6:]).decode().split(":", 1)[0]
            except ValueError:
                return None
            return client_id
        if "client_secret" in form and "client_id" in form:
            return form["client_id"][0]
        return None


# ----- HTTP control API ---------------------------------------------------------------------------


def fault_routes(faults: FaultSet) -> list[BaseRoute]:
    """`/_sim/faults` routes: GET lists, POST adds (JSON Fault fields), DELETE clears."""

    async def collection(request: Request) -> Response:
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
        if faults.remove(request.path_params["fault_id"]):
            return Response(status_code=204)
        return JSONResponse({"error": {"code": "notFound", "message": "no such fault"}}, status_code=404)

    async def seed(request: Request) -> Response:
        data = await request.json()
        faults.seed(data.get("seed") if isinstance(data, dict) else None)
        return Response(status_code=204)

    return [
        Route("/_sim/faults", collection, methods=["GET", "POST", "DELETE"]),
        Route("/_sim/faults/seed", seed, methods=["POST"]),
        Route("/_sim/faults/{fault_id}", single, methods=["DELETE"]),
    ]

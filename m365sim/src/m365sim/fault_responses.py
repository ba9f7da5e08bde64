"""What a fault answers: Graph and token-endpoint error bodies, and a dropped connection."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response

from .throttle import format_retry_after, throttled_body

if TYPE_CHECKING:
    from .fault_rules import Fault

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class ConnectionDropped(RuntimeError):
    """Raised when the server cannot find the transport to drop (not running under uvicorn)."""


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

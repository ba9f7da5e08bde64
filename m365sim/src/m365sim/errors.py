"""Graph error bodies (graph-facts §6) and the exception handlers raise."""

from __future__ import annotations

import time
from typing import Any

INSUFFICIENT = "Insufficient privileges to complete the operation."


class GraphError(Exception):
    """Raise from any Graph handler; the dispatcher turns it into the §6 error shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        inner: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}
        self.inner = inner or {}


def inner_date() -> str:
    """innerError.date: no timezone suffix."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())


def error_body(
    code: str,
    message: str,
    request_id: str,
    client_request_id: str,
    details: list[dict[str, Any]] | None = None,
    inner: dict[str, Any] | None = None,
) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        err["details"] = details
    ie: dict[str, Any] = dict(inner or {})
    ie.update({"date": inner_date(), "request-id": request_id, "client-request-id": client_request_id})
    err["innerError"] = ie
    return {"error": err}


def bad_request(message: str, details: list[dict[str, Any]] | None = None) -> GraphError:
    return GraphError(400, "Request_BadRequest", message, details)


def conflict(prop: str) -> GraphError:
    msg = f"Another object with the same value for property {prop} already exists."
    return GraphError(
        400, "Request_BadRequest", msg, [{"code": "ObjectConflict", "message": msg, "target": prop}]
    )


def not_found(oid: str) -> GraphError:
    return GraphError(
        404,
        "Request_ResourceNotFound",
        f"Resource '{oid}' does not exist or one of its queried reference-property objects are not present.",
    )


def denied() -> GraphError:
    return GraphError(403, "Authorization_RequestDenied", INSUFFICIENT)


def unsupported_query(message: str) -> GraphError:
    return GraphError(400, "Request_UnsupportedQuery", message)


def invalid_prop_value(prop: str) -> GraphError:
    return bad_request(f"Invalid value specified for property '{prop}' of resource 'User'.")

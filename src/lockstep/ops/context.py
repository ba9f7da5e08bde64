"""Per-request context (request id, organization id) carried to log records."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar
from typing import Any

from django.http import HttpRequest

current_request_id: ContextVar[str | None] = ContextVar("lockstep_request_id", default=None)
current_request: ContextVar[HttpRequest | None] = ContextVar("lockstep_request", default=None)

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def request_id_for(request: HttpRequest) -> str:
    """The caller's X-Request-ID when it is a short safe token (a proxy set it), else a new one."""
    incoming = request.headers.get("X-Request-ID", "")
    return incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex


def organization_id_of(request: HttpRequest | None) -> Any:
    """The organization the request acts for, if already known; never triggers a query."""
    if request is None:
        return None
    explicit = getattr(request, "organization_id", None)
    if explicit is not None:
        return explicit
    actor = request.__dict__.get("auth")  # django-ninja stores the authenticated Actor here
    if getattr(actor, "organization_id", None) is not None:
        return actor.organization_id  # type: ignore[union-attr]
    user = request.__dict__.get("user")  # only if authentication already ran
    wrapped = getattr(user, "_wrapped", user)
    if wrapped is None or type(wrapped).__name__ == "object":  # SimpleLazyObject not yet evaluated
        return None
    return getattr(wrapped, "organization_id", None)

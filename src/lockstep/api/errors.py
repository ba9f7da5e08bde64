"""One error body for every failure: `{"error": {"code", "message", "fields", "allowed"}}`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from pydantic import ConfigDict, Field

from lockstep.directory.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    ServiceError,
    TooBusy,
    ValidationFailed,
)

logger = logging.getLogger(__name__)

AUTH_HELP = (
    "Send an API key as the header 'Authorization: Bearer <key>' (keys are created in the "
    "Admin Portal under Settings, API keys), or sign in to the Admin Portal in this browser."
)

KIND_LABELS = {"api_key": "API key", "audit_event": "audit event"}

# Sources ninja puts first in a validation error's location; they are not field names.
PARAM_SOURCES = frozenset({"body", "query", "path", "header", "cookie", "form", "file"})
# The name every router gives its JSON body parameter.
BODY_PARAM = "payload"


class ErrorDetail(Schema):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(
        description="Machine-readable: not_authenticated, csrf_failed, permission_denied, not_found, "
        "conflict, too_many_requests, validation_failed, method_not_allowed, internal_error."
    )
    message: str = Field(description="What is wrong, in plain words.")
    fields: dict[str, list[str]] = Field(
        default_factory=dict, description="Each offending field and every rule it broke."
    )
    allowed: list[str] | None = Field(
        default=None, description="For a refused state transition: the states the object may move to."
    )


class ErrorOut(Schema):
    """The body of every error response."""

    model_config = ConfigDict(extra="forbid")

    error: ErrorDetail


def error_responses(*codes: int) -> dict[int, type[ErrorOut]]:
    """The error statuses an operation documents. 401 and 422 are always possible: any
    request may lack a key, and any query string or body may hold what the API refuses
    before the operation runs (a NUL, a lone surrogate, a malformed parameter)."""
    return dict.fromkeys(sorted({401, 422, *codes}), ErrorOut)


def error_body(
    code: str,
    message: str,
    fields: dict[str, list[str]] | None = None,
    allowed: Sequence[str] | None = None,
) -> dict[str, Any]:
    detail: dict[str, Any] = {"code": code, "message": message, "fields": fields or {}}
    if allowed is not None:
        detail["allowed"] = list(allowed)
    return {"error": detail}


def json_error(status: int, code: str, message: str, **kwargs: Any) -> JsonResponse:
    return JsonResponse(error_body(code, message, **kwargs), status=status)


def _summary(fields: dict[str, list[str]]) -> str:
    return "Some fields are not valid: " + ", ".join(fields) + "."


def field_of(loc: Sequence[Any]) -> str:
    """The dotted field name for a pydantic/ninja error location, without source and parameter."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in PARAM_SOURCES:
        source = parts.pop(0)
        if source == "body" and parts and parts[0] == BODY_PARAM:
            parts.pop(0)
        if not parts:
            return "body" if source == "body" else source
    return ".".join(parts) or "body"


def rule_of(error: dict[str, Any]) -> str:
    """A pydantic error as a rule in the same words the services use where they overlap."""
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "Unknown field."
    if kind == "missing":
        return "This field is required."
    if kind == "string_too_long":
        return f"Must be at most {error.get('ctx', {}).get('max_length')} characters."
    message = str(error.get("msg", "Not valid.")).rstrip(".")
    return f"{message}."


def fields_from_ninja(errors: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for error in errors:
        rule = rule_of(error)
        bucket = fields.setdefault(field_of(error.get("loc", ())), [])
        if rule not in bucket:
            bucket.append(rule)
    return fields


class NotAuthenticated(AuthenticationError):
    """No usable credentials (missing, malformed, unknown or revoked key, incomplete session)."""

    def __init__(self, message: str = "Authentication required.") -> None:
        super().__init__(401, message)


class CsrfFailed(HttpError):
    def __init__(self) -> None:
        super().__init__(
            403,
            "CSRF check failed: a signed-in browser session must send the X-CSRFToken header on writes "
            "(API clients should use an API key instead of a session).",
        )


def error_for(exc: Exception) -> tuple[int, dict[str, Any]]:
    """The status and body for an exception a route or ninja raised."""
    if isinstance(exc, ValidationFailed):
        return 422, error_body("validation_failed", _summary(exc.errors), exc.errors)
    if isinstance(exc, TooBusy):
        return 429, error_body("too_many_requests", exc.message, {exc.field: [exc.message]})
    if isinstance(exc, Conflict):
        return 409, error_body("conflict", exc.message, {exc.field: [exc.message]}, exc.allowed)
    if isinstance(exc, NotFound):
        return 404, error_body("not_found", f"No such {KIND_LABELS.get(exc.kind, exc.kind)}.")
    if isinstance(exc, PermissionDenied):
        return 403, error_body("permission_denied", str(exc) or "Not allowed.")
    if isinstance(exc, NinjaValidationError):
        fields = fields_from_ninja(exc.errors)
        return 422, error_body("validation_failed", _summary(fields), fields)
    if isinstance(exc, NotAuthenticated):
        return 401, error_body("not_authenticated", f"{exc.message} {AUTH_HELP}")
    if isinstance(exc, AuthenticationError):
        return 401, error_body("not_authenticated", f"Authentication required. {AUTH_HELP}")
    if isinstance(exc, CsrfFailed):
        return 403, error_body("csrf_failed", exc.message)
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return 413, error_body("too_large", f"The request body is larger than the {limit} bytes allowed.")
    if isinstance(exc, HttpError):
        if isinstance(exc.__cause__, ValidationFailed):  # the parser refused a field (json_body)
            return error_for(exc.__cause__)
        if exc.status_code == 400 and exc.message.startswith("Cannot parse request body"):
            fields = {"body": ["Must be a valid JSON document."]}
            return 422, error_body("validation_failed", "The body is not valid JSON.", fields)
        if exc.status_code == 403:
            return 403, error_body("permission_denied", exc.message)
        return exc.status_code, error_body("error", exc.message)
    if isinstance(exc, Http404):
        return 404, error_body("not_found", "No such resource.")
    return 400, error_body("bad_request", str(exc))


HANDLED: tuple[type[Exception], ...] = (
    ServiceError,
    NinjaValidationError,
    HttpError,
    Http404,
    RequestDataTooBig,
)


def install(api: NinjaAPI) -> None:
    """Register the handler that turns every expected failure into the one error shape."""

    def handle(request: HttpRequest, exc: Any) -> HttpResponse:
        status, body = error_for(exc)
        response = api.create_response(request, body, status=status)
        if status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="lockstep"'
        return response

    for exc_class in HANDLED:
        api.add_exception_handler(exc_class, handle)


@csrf_exempt  # it changes nothing: an unknown route answers 404 in the API's shape, never a CSRF page
def not_found_view(request: HttpRequest, rest: str = "") -> JsonResponse:
    """Any /api/v1/ path no route matches (including non-numeric ids)."""
    return json_error(404, "not_found", "No such resource. The routes are listed in /api/v1/openapi.json.")

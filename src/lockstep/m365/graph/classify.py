"""Classify a failed Graph response or token request into the error taxonomy of `errors`:
by HTTP status, Graph error code, detail code, then message (and AADSTS codes for tokens)."""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Mapping
from typing import Any

from .errors import (
    AccessDenied,
    AlreadyMember,
    AuthenticationFailed,
    BadRequest,
    CertificateRejected,
    DeltaReset,
    ExpiredClientSecret,
    FailedDependency,
    FederatedDomainRestriction,
    GraphError,
    InvalidClientSecret,
    InvalidDomain,
    InvalidScope,
    InvalidToken,
    InvalidUsageLocation,
    NoLicensesAvailable,
    NotAMember,
    NotFound,
    ObjectConflict,
    PasswordPolicyViolation,
    PermanentForObject,
    ServerError,
    SyncedFromOnPremises,
    Throttled,
    UnknownApplication,
    UnknownTenant,
    UnsupportedQuery,
)

# --- classification ---------------------------------------------------------------------------

_DELTA_RESET_CODES = {"syncstatenotfound", "resyncrequired", "syncstateinvalid", "expiredtoken"}

_MESSAGE_RULES: list[tuple[re.Pattern[str], type[PermanentForObject]]] = [
    (re.compile(r"domain portion of the userPrincipalName", re.I), InvalidDomain),
    (re.compile(r"verified domain", re.I), InvalidDomain),
    (
        re.compile(r"password complexity|Password cannot contain|password must be specified", re.I),
        PasswordPolicyViolation,
    ),
    (re.compile(r"password.*(banned|too common|length)", re.I), PasswordPolicyViolation),
    (re.compile(r"added object references already exist", re.I), AlreadyMember),
    (re.compile(r"removed object references do not exist", re.I), NotAMember),
    (re.compile(r"invalid usage location", re.I), InvalidUsageLocation),
    (re.compile(r"does not have any available licenses", re.I), NoLicensesAvailable),
    (re.compile(r"federated (user|domain)", re.I), FederatedDomainRestriction),
    (re.compile(r"SourceAnchor", re.I), FederatedDomainRestriction),
    (re.compile(r"on-premises mastered Directory Sync", re.I), SyncedFromOnPremises),
]


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header: decimal seconds ("2.128") or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN or infinite
        return None
    return max(0.0, seconds)


def error_body(raw: bytes | str | Mapping[str, Any] | None) -> dict[str, Any]:
    """The `error` object of a Graph error body; {} when the body is not one."""
    data: Any = raw
    if isinstance(raw, bytes | str):
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            return {}
    if not isinstance(data, Mapping):
        return {}
    err = data.get("error")
    return dict(err) if isinstance(err, Mapping) else {}


def classify(
    status: int,
    body: bytes | str | Mapping[str, Any] | None,
    headers: Mapping[str, str] | None = None,
) -> GraphError:
    """The `GraphError` for a non-2xx Graph response (status, code, detail code, then message)."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    err = error_body(body)
    code = str(err.get("code") or "")
    message = str(err.get("message") or "")
    raw_details = err.get("details")
    details = (
        [dict(d) for d in raw_details if isinstance(d, Mapping)] if isinstance(raw_details, list) else []
    )
    inner = err.get("innerError") or err.get("innererror") or {}
    if not isinstance(inner, Mapping):
        inner = {}
    kw: dict[str, Any] = {
        "status": status,
        "code": code,
        "details": details,
        "request_id": headers.get("request-id") or inner.get("request-id"),
        "client_request_id": headers.get("client-request-id") or inner.get("client-request-id"),
    }
    lcode = code.lower()
    detail_codes = {str(d.get("code", "")).lower() for d in details}
    retry_after = parse_retry_after(headers.get("retry-after"))

    if status == 410 or lcode in _DELTA_RESET_CODES:
        return DeltaReset(message or "delta token no longer valid", location=headers.get("location"), **kw)
    if status == 429:
        return Throttled(message or "Too many requests", retry_after=retry_after, **kw)
    if status in (503, 504) and retry_after is not None:
        return Throttled(message or "Service unavailable", retry_after=retry_after, **kw)
    if status >= 500:
        return ServerError(message or f"HTTP {status}", **kw)
    if status == 401:
        return InvalidToken(message or "Unauthorized", **kw)
    if status == 403:
        return AccessDenied(message or "Forbidden", **kw)
    if status == 424:
        return FailedDependency(message or "Failed dependency", **kw)
    if "objectconflict" in detail_codes or lcode == "request_multipleobjectswithsamekeyvalue":
        prop = next(
            (
                str(d.get("target") or "")
                for d in details
                if str(d.get("code", "")).lower() == "objectconflict"
            ),
            "",
        )
        if not prop:
            m = re.search(r"for property (\w+)", message)
            prop = m.group(1) if m else ""
        return ObjectConflict(message, property=prop, **kw)
    if lcode == "request_unsupportedquery":
        return UnsupportedQuery(message, **kw)
    for pattern, cls in _MESSAGE_RULES:
        if pattern.search(message):
            return cls(message, **kw)
    if status == 404 or lcode in ("request_resourcenotfound", "resourcenotfound", "itemnotfound"):
        return NotFound(message or "Not found", **kw)
    if status == 409:
        return ObjectConflict(message, property="", **kw)
    if 400 <= status < 500:
        if message:
            kw["plain_words"] = f"Microsoft 365 rejected the request: {message}"
        return BadRequest(message or f"HTTP {status}", **kw)
    return GraphError(message or f"unexpected HTTP {status}", **kw)


# --- token (login endpoint) errors ------------------------------------------------------------

_AADSTS_RULES: list[tuple[int, type[AuthenticationFailed]]] = [
    (7000215, InvalidClientSecret),
    (7000222, ExpiredClientSecret),
    (700016, UnknownApplication),
    (90002, UnknownTenant),
    (900023, UnknownTenant),
    (700027, CertificateRejected),
    (700024, CertificateRejected),
    (70011, InvalidScope),
    (500011, InvalidScope),
]


def aadsts_codes(result: Mapping[str, Any]) -> list[int]:
    """AADSTS numbers of a token error (`error_codes`, else parsed from `error_description`)."""
    codes = [int(c) for c in result.get("error_codes") or [] if str(c).isdigit()]
    if not codes:
        desc = str(result.get("error_description") or "")
        codes = [int(n) for n in re.findall(r"AADSTS(\d+)", desc)]
    return codes


def classify_token_error(result: Mapping[str, Any]) -> AuthenticationFailed:
    """The typed error for a failed msal `acquire_token_*` result dict."""
    error = str(result.get("error") or "")
    desc = str(result.get("error_description") or error or "token request failed")
    codes = aadsts_codes(result)
    kw: dict[str, Any] = {
        "code": error,
        "details": [{"code": f"AADSTS{c}"} for c in codes],
        "request_id": result.get("trace_id"),
        "client_request_id": result.get("correlation_id"),
    }
    for number, cls in _AADSTS_RULES:
        if number in codes:
            return cls(desc, **kw)
    if error == "invalid_scope":
        return InvalidScope(desc, **kw)
    if error == "unauthorized_client":
        return UnknownApplication(desc, **kw)
    if error == "invalid_client":
        return InvalidClientSecret(desc, **kw)
    if error == "invalid_tenant":
        return UnknownTenant(desc, **kw)
    return AuthenticationFailed(desc, **kw)

"""Graph and token errors, classified by HTTP status, Graph error code and detail code.

Three families decide what the sync engine does with a failure:

- `Transient`: retry later (429, 5xx, timeouts, dropped connections).
- `PermanentForObject`: park this one object with a plain-words reason; continue with the rest.
- `FatalForDirectory`: pause the whole directory (bad token, revoked consent, deleted app);
  keep the queue.

`MaybeCommitted` is apart: a write whose response was lost; look the object up before retrying.
Every error carries `status`, `code`, `message`, `details`, `request_id`, `client_request_id`
and `plain_words` (what happened and what the administrator should do).
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

Kind = Literal["transient", "permanent", "fatal", "uncertain"]


class GraphError(Exception):
    """Base class of every failure the Graph client reports."""

    kind: ClassVar[Kind] = "permanent"
    default_plain_words: ClassVar[str] = "Microsoft 365 refused the request."

    def __init__(
        self,
        message: str = "",
        *,
        status: int = 0,
        code: str = "",
        details: list[dict[str, Any]] | None = None,
        request_id: str | None = None,
        client_request_id: str | None = None,
        plain_words: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.request_id = request_id
        self.client_request_id = client_request_id
        self.plain_words = plain_words or self.default_plain_words
        super().__init__(self._summary())

    def _summary(self) -> str:
        parts = [type(self).__name__]
        if self.status:
            parts.append(str(self.status))
        if self.code:
            parts.append(self.code)
        text = " ".join(parts)
        if self.message:
            text += f": {self.message}"
        if self.request_id:
            text += f" (request-id {self.request_id})"
        return text

    @property
    def detail_codes(self) -> list[str]:
        return [str(d.get("code", "")) for d in self.details]


# --- transient -------------------------------------------------------------------------------


class Transient(GraphError):
    """Worth retrying later: throttling, server errors, timeouts, dropped connections."""

    kind = "transient"
    default_plain_words = "Microsoft 365 had a temporary problem; Lockstep will retry on its own."


class Throttled(Transient):
    """HTTP 429 (or 503 with Retry-After): wait `retry_after` seconds before trying again."""

    default_plain_words = "Microsoft 365 asked Lockstep to slow down; the change will be retried shortly."

    def __init__(self, message: str = "", *, retry_after: float | None = None, **kw: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)


class ServerError(Transient):
    """HTTP 5xx from Graph."""


class ConnectionFailed(Transient):
    """No HTTP response at all: DNS, TCP, TLS failure or a timeout."""

    default_plain_words = (
        "Lockstep could not reach Microsoft 365 (network problem or timeout); it will retry on its own."
    )


class MaybeCommitted(GraphError):
    """A non-idempotent write (e.g. create) whose outcome is unknown: look the object up first."""

    kind = "uncertain"
    default_plain_words = (
        "The connection to Microsoft 365 broke while a change was being saved; Lockstep checks whether "
        "it was applied before trying again."
    )

    def __init__(self, message: str = "", *, cause: BaseException | None = None, **kw: Any) -> None:
        self.cause = cause
        super().__init__(message, **kw)


# --- permanent for one object ----------------------------------------------------------------


class PermanentForObject(GraphError):
    """This object cannot be written as it is; retrying the same request will fail again."""

    kind = "permanent"


class BadRequest(PermanentForObject):
    default_plain_words = "Microsoft 365 rejected the values sent for this object."


class ObjectConflict(PermanentForObject):
    """Another object already has this value of a unique property (`property`)."""

    def __init__(self, message: str = "", *, property: str = "", **kw: Any) -> None:
        self.property = property
        kw.setdefault(
            "plain_words",
            f"Another Microsoft 365 object already uses this {property or 'value'}: "
            "rename one of them, or adopt the existing account instead of creating a new one.",
        )
        super().__init__(message, **kw)


class InvalidDomain(PermanentForObject):
    default_plain_words = (
        "The company email's domain is not verified in this tenant: verify it in Microsoft 365 "
        "or change the email."
    )


class PasswordPolicyViolation(PermanentForObject):
    default_plain_words = (
        "Microsoft 365 rejected the password (too weak, too common or containing the user's name): "
        "choose a longer password with upper and lower case letters, digits and symbols."
    )


class NotFound(PermanentForObject):
    default_plain_words = (
        "The object no longer exists in Microsoft 365 (deleted there?); re-link or re-create it."
    )


class AlreadyMember(PermanentForObject):
    default_plain_words = "The account is already a member of this group in Microsoft 365; nothing to do."


class NotAMember(PermanentForObject):
    default_plain_words = "The account is not a member of this group in Microsoft 365; nothing to do."


class InvalidUsageLocation(PermanentForObject):
    default_plain_words = (
        "A license needs a usage location: set the user's country (usage location) and try again."
    )


class NoLicensesAvailable(PermanentForObject):
    default_plain_words = "No free licenses of this product are left: buy more seats or free one up."


class FederatedDomainRestriction(PermanentForObject):
    default_plain_words = (
        "The user's domain is federated, so Microsoft 365 does not accept this change (passwords and "
        "immutable ids of federated users are managed by the identity provider)."
    )


class SyncedFromOnPremises(PermanentForObject):
    """400 "Unable to update the specified properties for on-premises mastered Directory Sync
    objects ..." (graph-facts §12.3)."""

    default_plain_words = (
        "This account is synchronised from on-premises Active Directory by Entra Connect, which is its "
        "source of authority: Microsoft 365 refuses changes to its synced properties. Change it in "
        "Active Directory, or stop syncing it there before Lockstep manages it."
    )


class UnsupportedQuery(PermanentForObject):
    default_plain_words = (
        "Microsoft 365 does not support this query; this is a Lockstep bug, please report it."
    )


class FailedDependency(PermanentForObject):
    """HTTP 424 inside `$batch`: a request this one depended on failed."""

    default_plain_words = "An earlier step of the same change failed; fix that one first."


# --- fatal for the whole directory ------------------------------------------------------------


class FatalForDirectory(GraphError):
    """Nothing will work for this directory until an administrator acts; pause it."""

    kind = "fatal"


class InvalidToken(FatalForDirectory):
    default_plain_words = (
        "Microsoft 365 did not accept Lockstep's access token; check the directory's app registration."
    )


class AccessDenied(FatalForDirectory):
    default_plain_words = (
        "Lockstep's app lacks a permission or directory role in Microsoft 365 (or admin consent was "
        "revoked): grant admin consent again and check the roles listed in the set-up guide."
    )


class AuthenticationFailed(FatalForDirectory):
    """Lockstep could not get a token at all (from the login endpoint, not from Graph)."""

    default_plain_words = "Lockstep could not sign in to Microsoft 365 with this directory's app credentials."


class InvalidClientSecret(AuthenticationFailed):
    default_plain_words = (
        "The client secret is wrong: copy the secret's value (not its id) from the app registration "
        "and save it again."
    )


class ExpiredClientSecret(AuthenticationFailed):
    default_plain_words = (
        "The client secret has expired: create a new secret in the app registration and save it in Lockstep."
    )


class CertificateRejected(AuthenticationFailed):
    default_plain_words = (
        "Microsoft 365 rejected the certificate: upload the current certificate to the app registration "
        "or configure the matching key in Lockstep."
    )


class UnknownApplication(AuthenticationFailed):
    default_plain_words = (
        "The application (client) id is not known in this tenant: check the id, and that the app was "
        "not deleted and admin consent was granted."
    )


class UnknownTenant(AuthenticationFailed):
    default_plain_words = "No Microsoft 365 tenant has this id or domain: check the tenant id."


class InvalidScope(AuthenticationFailed):
    default_plain_words = (
        "The token request named a scope the login service does not accept (wrong cloud for this tenant?)."
    )


class DeltaReset(GraphError):
    """The stored delta link is no longer usable (410 Gone, expired or unknown token): resync fully."""

    kind = "transient"
    default_plain_words = "Microsoft 365 asked for a full resynchronisation; Lockstep starts one."

    def __init__(self, message: str = "", *, location: str | None = None, **kw: Any) -> None:
        self.location = location
        super().__init__(message, **kw)


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

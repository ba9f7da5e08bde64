"""Graph and token errors, classified by HTTP status, Graph error code and detail code.

Three families decide what the sync engine does with a failure:

- `Transient`: retry later (429, 5xx, timeouts, dropped connections).
- `PermanentForObject`: park this one object with a plain-words reason; continue with the rest.
- `FatalForDirectory`: pause the whole directory (bad token, revoked consent, deleted app);
  keep the queue.

`MaybeCommitted` is apart: a write whose response was lost; look the object up before retrying.
Every error carries `status`, `code`, `message`, `details`, `request_id`, `client_request_id`
and `plain_words` (what happened and what the administrator should do). `classify` turns a
failed response or token request into one of these.
"""

from __future__ import annotations

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

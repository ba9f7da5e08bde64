"""Where a user's Lockstep password stands for one bound account, in plain words (SPEC 3).

One state per binding, worded for an administrator (Admin Portal, API) and for the user
(User Portal, through `portal_status`). Read-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from lockstep.directory.models import User
from lockstep.m365 import mapping
from lockstep.m365.models import DirectoryDomain, UserBinding


class PasswordState(StrEnum):
    DELIVERED = "delivered"  # the current password reached the account
    ON_ITS_WAY = "on_its_way"  # held encrypted, waiting for the engine
    EXPIRED = "expired"  # held too long (PASSWORD_HOLD_HOURS): erased before it reached the account
    WAITING_SIGN_IN = "waiting_sign_in"  # takeover on: the next User Portal sign-in sends it
    WAITING_CHANGE = "waiting_change"  # takeover off: the next password change sends it
    NO_PASSWORD = "no_password"  # the user has no Lockstep password yet
    FEDERATED = "federated"  # not needed: the domain signs in through Lockstep
    NOT_IN_TENANT = "not_in_tenant"  # not needed: the email domain is not this tenant's
    UNBOUND = "unbound"


@dataclass(frozen=True)
class DirectoryFacts:
    """What the state depends on besides the binding: the tenant's domains and the takeover setting."""

    verified: frozenset[str]
    federated: frozenset[str]
    takeover: bool


def facts_for(directory_ids: list[int], takeover: bool) -> dict[int, DirectoryFacts]:
    """The facts of several directories of one organization, in one query."""
    verified: dict[int, set[str]] = {pk: set() for pk in directory_ids}
    federated: dict[int, set[str]] = {pk: set() for pk in directory_ids}
    rows = DirectoryDomain.objects.filter(directory_id__in=directory_ids).values_list(
        "directory_id", "name", "is_verified", "authentication_type"
    )
    for directory_id, name, is_verified, kind in rows:
        if is_verified:
            verified[directory_id].add(name)
        if kind == "Federated":
            federated[directory_id].add(name)
    return {
        pk: DirectoryFacts(frozenset(verified[pk]), frozenset(federated[pk]), takeover)
        for pk in directory_ids
    }


def as_synced(facts: DirectoryFacts, email: str) -> DirectoryFacts:
    """The facts for a binding the last pass synced: its email domain was the tenant's then."""
    return DirectoryFacts(facts.verified | {mapping.email_domain(email)}, facts.federated, facts.takeover)


def facts_of(binding: UserBinding) -> DirectoryFacts:
    takeover = bool(binding.user.organization.password_takeover) if binding.user else True
    return facts_for([binding.directory_id], takeover)[binding.directory_id]


def password_state(binding: UserBinding, facts: DirectoryFacts | None = None) -> PasswordState:
    user: User | None = binding.user
    if user is None or binding.unbound:
        return PasswordState.UNBOUND
    facts = facts or facts_of(binding)
    domain = mapping.email_domain(user.email)
    if domain in facts.federated:
        return PasswordState.FEDERATED
    if domain not in facts.verified:
        return PasswordState.NOT_IN_TENANT
    if binding.password_pending:
        return PasswordState.ON_ITS_WAY
    if binding.password_expired_at is not None:
        return PasswordState.EXPIRED
    synced = binding.password_synced_at
    if synced is not None and (user.password_changed_at is None or user.password_changed_at <= synced):
        return PasswordState.DELIVERED
    if not user.password_hash:
        return PasswordState.NO_PASSWORD
    return PasswordState.WAITING_SIGN_IN if facts.takeover else PasswordState.WAITING_CHANGE


def _at(binding: UserBinding, name: str) -> str:
    value = getattr(binding, name)
    return f"{value:%Y-%m-%d %H:%M} UTC" if value is not None else ""


def admin_words(binding: UserBinding, state: PasswordState, facts: DirectoryFacts | None = None) -> str:
    """The password's status for an administrator."""
    takeover = (facts or facts_of(binding)).takeover if state == PasswordState.EXPIRED else True
    words = {
        PasswordState.DELIVERED: f"Password delivered to Microsoft 365 on {_at(binding, 'password_synced_at')}.",
        PasswordState.ON_ITS_WAY: "Password on its way to Microsoft 365 (held encrypted until delivered).",
        PasswordState.EXPIRED: (
            f"The held password expired on {_at(binding, 'password_expired_at')} before it reached "
            + (
                "Microsoft 365: the user's next User Portal sign-in sends it."
                if takeover
                else "Microsoft 365: it is sent when the user or an administrator sets a new password."
            )
        ),
        PasswordState.WAITING_SIGN_IN: (
            "Waiting for the user's first User Portal sign-in, which sends their Lockstep password to "
            "Microsoft 365."
        ),
        PasswordState.WAITING_CHANGE: (
            "Password takeover is off: the Lockstep password is sent when the user or an administrator "
            "changes it."
        ),
        PasswordState.NO_PASSWORD: (
            "The user has no Lockstep password yet; the account keeps a password nobody knows until they "
            "set one."
        ),
        PasswordState.FEDERATED: "Password not needed: the user signs in through Lockstep (federated domain).",
        PasswordState.NOT_IN_TENANT: "Password not sent: the company email's domain is not in this tenant.",
        PasswordState.UNBOUND: "",
    }
    return words[state]


def user_words(binding: UserBinding, state: PasswordState, facts: DirectoryFacts | None = None) -> str:
    """The password's status for the user (the User Portal's directories list)."""
    takeover = (facts or facts_of(binding)).takeover if state == PasswordState.EXPIRED else True
    words = {
        PasswordState.DELIVERED: f"Your password was delivered on {_at(binding, 'password_synced_at')}.",
        PasswordState.ON_ITS_WAY: "Your password is on its way to Microsoft 365.",
        PasswordState.EXPIRED: (
            "Your password did not reach Microsoft 365 in time: "
            + ("sign in again to send it." if takeover else "change your password to send it.")
        ),
        PasswordState.WAITING_SIGN_IN: "Waiting for your first sign-in: signing in here sends your password.",
        PasswordState.WAITING_CHANGE: "Your password is sent to Microsoft 365 the next time you change it.",
        PasswordState.NO_PASSWORD: "Set a password here to sign in to Microsoft 365.",
        PasswordState.FEDERATED: "Not needed: you sign in to Microsoft 365 through Lockstep.",
        PasswordState.NOT_IN_TENANT: "Not needed: your email address is not one of this directory's domains.",
        PasswordState.UNBOUND: "",
    }
    return words[state]


def waiting_for_login(
    binding: UserBinding, state: PasswordState, facts: DirectoryFacts | None = None
) -> bool:
    """SPEC 3's "waiting for first portal login": the account exists and the user's Lockstep
    password has not reached it, and the first sign-in will send it (takeover on); or a staged
    user's account was created with a password nobody knows and waits for the first sign-in."""
    user = binding.user
    if user is None or binding.unbound or not binding.remote_id:
        return False
    if state in (PasswordState.WAITING_SIGN_IN, PasswordState.FEDERATED, PasswordState.NOT_IN_TENANT):
        return state == PasswordState.WAITING_SIGN_IN
    if state == PasswordState.EXPIRED:
        return (facts or facts_of(binding)).takeover and bool(user.password_hash)
    staged_unknown = user.state == "staged" and not binding.adopted and binding.password_synced_at is None
    return staged_unknown and state != PasswordState.ON_ITS_WAY

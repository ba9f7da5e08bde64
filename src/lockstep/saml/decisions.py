"""Who gets an assertion for a federated domain, and the audit row of every decision.

Only an ACTIVE user of the federation's organization, bound to its directory (a binding not
being unbound, with an account in Microsoft 365) whose UPN there is in the federated domain.
Everyone else is refused with words they can act on (SPEC 6; issue 10 point 4).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.core.cache import cache

from lockstep.directory.actors import Actor
from lockstep.directory.audit import record
from lockstep.directory.models import ActorKind, AdminRole, User, UserState
from lockstep.m365.models import UserBinding
from lockstep.saml.models import DomainFederation, FederationState

ISSUED = "saml.sign_in.issued"
REFUSED = "saml.sign_in.refused"
QUIET_SECONDS = 300  # an anonymous refusal is audited once per reason and address this long


@dataclass(frozen=True)
class Decision:
    issued: bool
    code: str  # "issued", or why not: suspended, staged, other_organization, unbound, no_account, ...
    words: str  # for the user, in plain language
    binding: UserBinding | None = None


def _refuse(code: str, words: str) -> Decision:
    return Decision(False, code, words)


def _in_domain(upn: str, domain: str) -> bool:
    return upn.rsplit("@", 1)[-1].lower() == domain.lower()


def decide(user: User, federation: DomainFederation) -> Decision:
    """Whether `user` may sign in to Microsoft 365 through `federation` (no side effects)."""
    directory = federation.directory
    if user.organization_id != directory.organization_id:
        return _refuse(
            "other_organization",
            "Your account belongs to another organization than this Microsoft 365 sign-in.",
        )
    if federation.state != FederationState.FEDERATED:
        return _refuse(
            "not_federated",
            f"Sign-in to Microsoft 365 through Lockstep is not turned on for {federation.domain}.",
        )
    if user.state == UserState.SUSPENDED:
        return _refuse("suspended", "Your account is suspended. Ask your administrator to restore it.")
    if user.state != UserState.ACTIVE:
        return _refuse("staged", "Your account is not active yet. Finish activating it first.")
    binding = UserBinding.objects.filter(directory=directory, user=user).first()
    if binding is None or binding.unbound:
        return _refuse(
            "unbound", f"Your account is not part of the Microsoft 365 directory {directory.name}."
        )
    if not binding.remote_id or binding.remote_deleted_at is not None:
        return _refuse("no_account", f"Your Microsoft 365 account in {directory.name} does not exist yet.")
    if not _in_domain(binding.remote_upn, federation.domain):
        return _refuse(
            "other_domain",
            f"Your Microsoft 365 sign-in name {binding.remote_upn or '(none)'} is not in {federation.domain}: "
            "this sign-in is only for that domain.",
        )
    return Decision(True, "issued", "", binding)


def _actor(user: User, federation: DomainFederation) -> Actor:
    organization_id = federation.directory.organization_id
    if user.organization_id == organization_id:
        return Actor.for_user(user)
    # Another organization's user: recorded for this organization, without their name.
    return Actor(ActorKind.USER, organization_id, AdminRole.READ_ONLY, "", "a user of another organization")


def audit(
    decision: Decision,
    user: User,
    federation: DomainFederation,
    *,
    request_id: str | None,
    binding_kind: str,
    mfa: bool = False,
    signed: bool = False,
) -> None:
    """One audit row per decision, issued or refused, with the reason."""
    foreign = user.organization_id != federation.directory.organization_id
    after: dict[str, object] = {
        "domain": federation.domain,
        "directory": federation.directory.name,
        "request_id": request_id or "",
        "binding": binding_kind,  # redirect, post or idp-initiated
        "signed_request": signed,  # the AuthnRequest's signature was verified
    }
    if decision.issued and decision.binding is not None:
        after.update(upn=decision.binding.remote_upn, mfa=mfa)
    else:
        after.update(reason=decision.code, words=decision.words)
    record(
        actor=_actor(user, federation),
        action=ISSUED if decision.issued else REFUSED,
        target_type="user",
        target_id="" if foreign else user.pk,
        target_label="" if foreign else user.username,
        after=after,
    )


def _first_in_quiet_period(federation: DomainFederation, code: str, client: str) -> bool:
    """True once per (federation, reason, client address) per `QUIET_SECONDS` (Django cache)."""
    digest = hashlib.sha256(f"{federation.pk}|{code}|{client}".encode()).hexdigest()
    return bool(cache.add(f"saml:refused-audit:{digest}", 1, QUIET_SECONDS))


def audit_refused_request(
    federation: DomainFederation,
    *,
    code: str,
    words: str,
    binding_kind: str,
    client: str = "",
    signed_in: bool = True,
) -> None:
    """A request refused by its own checks (bad signature, replay, foreign ACS...). From nobody
    signed in, anyone can send these: recorded once per reason and client address a few
    minutes, so a flood of them cannot flood the audit log."""
    if not signed_in and not _first_in_quiet_period(federation, code, client):
        return
    after = {"domain": federation.domain, "binding": binding_kind, "reason": code, "words": words}
    if client:
        after["client"] = client
    record(
        actor=Actor.system(federation.directory.organization_id, "Microsoft 365 sign-in request"),
        action=REFUSED,
        target_type="saml_federation",
        target_id=federation.pk,
        target_label=federation.domain,
        after=after,
    )


@dataclass(frozen=True)
class SignInChoice:
    """A federated domain the user may sign in to Microsoft 365 with (User Portal home)."""

    directory_name: str
    domain: str
    upn: str
    start_path: str


def sign_in_choices(user: User) -> list[SignInChoice]:
    federations = DomainFederation.objects.filter(
        directory__organization_id=user.organization_id, state=FederationState.FEDERATED
    ).select_related("directory__organization")
    choices = []
    for federation in federations.order_by("directory__name", "domain"):
        decision = decide(user, federation)
        if decision.issued and decision.binding is not None:
            path = f"/saml/{federation.directory.organization.slug}/{federation.domain}/start"
            choices.append(
                SignInChoice(federation.directory.name, federation.domain, decision.binding.remote_upn, path)
            )
    return choices

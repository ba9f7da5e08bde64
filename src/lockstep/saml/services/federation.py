"""Federate a domain with Lockstep as its identity provider, roll it back, show where it stands.

Federation is refused until readiness is clear. The configuration Microsoft 365 gets
(`internalDomainFederation`, graph-facts §8.1): the domain's issuer URI (kept on the
DomainFederation: Microsoft matches a response's Issuer to it, so later URL changes must not
move it), the SSO and sign-out URLs, the active certificate (and the next one while a rotation
is under way), SAML as the protocol, and MFA done by Lockstep accepted.

Microsoft says a federation change can take up to two hours to reach every sign-in: for
LOCKSTEP_FEDERATION_PROPAGATION_MINUTES after a change the status says "in progress".
"""

from __future__ import annotations

import logging

from django.utils import timezone

from lockstep.directory import audit
from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict
from lockstep.m365.graph.client import GraphClient
from lockstep.m365.graph.errors import GraphError
from lockstep.m365.graph.payloads import InternalDomainFederation
from lockstep.m365.models import Directory, DirectoryDomain
from lockstep.m365.services.errors import refusal
from lockstep.saml import endpoints, keys
from lockstep.saml.models import DomainFederation, FederationState, SigningKey
from lockstep.saml.services import microsoft
from lockstep.saml.services.contract import DomainStatus
from lockstep.saml.services.locking import organization_lock
from lockstep.saml.services.propagation import in_progress
from lockstep.saml.services.readiness import readiness
from lockstep.saml.services.scope import bound_users, domain_name, own_directory

logger = logging.getLogger(__name__)

DISPLAY_NAME = "Lockstep"
PASSWORDS_AFTER_ROLL_BACK = (
    "Users of {domain} now sign in to Microsoft 365 with a cloud password again: each needs one. "
    "A password a user sets in Lockstep from now on is delivered to their account, and with password "
    "takeover on, so is the one they type at their next User Portal sign-in; until then they cannot "
    "sign in to Microsoft 365. Microsoft 365 can take up to two hours to switch."
)


def configuration(
    directory: Directory,
    domain: str,
    issuer: str,
    active: SigningKey,
    upcoming: SigningKey | None,
    *,
    signed_requests: bool = False,
) -> InternalDomainFederation:
    """The internalDomainFederation body for `domain` with the organization's published keys."""
    organization = directory.organization
    body: InternalDomainFederation = {
        "displayName": DISPLAY_NAME,
        "issuerUri": issuer,
        "passiveSignInUri": endpoints.sso_url(organization, domain),
        "signOutUri": endpoints.slo_url(organization, domain),
        "signingCertificate": keys.certificate_b64(active),
        "preferredAuthenticationProtocol": "saml",
        "federatedIdpMfaBehavior": "acceptIfMfaDoneByFederatedIdp",
        # Microsoft's prompt=login becomes a fresh password sign-in at Lockstep (wsFed-era
        # "translate"); nativeSupport would forward it as ForceAuthn, which Lockstep honours
        # the same way, but translate is the documented behaviour for SAML IdPs without it.
        "promptLoginBehavior": "translateToFreshPasswordAuthentication",
        "isSignedAuthenticationRequestRequired": signed_requests,
    }
    if upcoming is not None:
        body["nextSigningCertificate"] = keys.certificate_b64(upcoming)
    return body


def _set_domain_type(directory: Directory, domain: str, kind: str) -> None:
    """Lockstep's copy of the domain's type: the sync engine stops sending passwords (and the
    immutable id) to a federated domain's accounts."""
    DirectoryDomain.objects.filter(directory=directory, name=domain).update(authentication_type=kind)


def _publish(client: GraphClient, body: InternalDomainFederation, domain: str) -> tuple[str, str]:
    """Create the configuration, or bring ours up to date if Microsoft 365 already holds it (a
    retry after a lost answer): the configuration's id, and a note when Microsoft 365 answered
    an error yet holds it.

    Creating can answer 500 (or lose its answer) yet leave the domain federated (graph-facts
    §8.1): after any error of the create the configuration is read again, and if it carries our
    issuer the domain IS federated with Lockstep; recording a failure then would leave users
    sent to Lockstep's /sso while Lockstep refuses them (only federated domains are served)."""
    issuer = body["issuerUri"]
    existing = microsoft.federation_configuration(client, domain)
    if existing is not None and existing.get("issuerUri") == issuer:
        client.update_federation_configuration(domain, str(existing["id"]), body)
        return str(existing["id"]), ""
    try:
        created = client.create_federation_configuration(domain, body)
    except GraphError as error:
        try:
            after = microsoft.federation_configuration(client, domain)
        except GraphError:
            raise error from None
        if after is None or after.get("issuerUri") != issuer:
            raise
        words = error.plain_words or error.message or str(error)
        return str(after["id"]), (
            f"Microsoft 365 answered an error ({words}) but holds Lockstep's configuration: "
            f"{domain} is federated."
        )
    return str(created.get("id", "")), ""


def federate(directory: Directory, domain: str, *, actor: Actor) -> DomainFederation:
    """Federate `domain` (owner only); Conflict naming every blocker while readiness is not clear."""
    actor.require_owner()
    own_directory(directory, actor)
    name = domain_name(domain)
    check = readiness(directory, name, actor=actor)
    if not check.ready:
        words = " ".join(
            f"{b.message}" + (f" ({', '.join(b.users)})" if b.users else "") for b in check.blockers
        )
        audit.record(
            actor=actor,
            action="saml.federate.refused",
            target_type="directory",
            target_id=directory.pk,
            target_label=f"{directory.name}: {name}",
            after={"domain": name, "blockers": [b.code.value for b in check.blockers]},
        )
        raise Conflict("domain", f"{name} cannot be federated yet. {words}")
    with organization_lock(directory.organization_id):
        federation, failure = _federate_locked(directory, name, actor)
    if failure is not None:
        raise refusal("domain", failure) from failure
    assert federation is not None
    return federation


def _federate_locked(
    directory: Directory, name: str, actor: Actor
) -> tuple[DomainFederation | None, GraphError | None]:
    """Publish and record, holding the organization (`locking`); a Graph failure is recorded
    and handed back, to be raised once the lock's transaction has kept the record."""
    stored = DomainFederation.objects.filter(directory=directory, domain=name).first()
    issuer = stored.issuer_uri if stored else endpoints.issuer_uri(directory.organization, name)
    signed = bool(stored and stored.require_signed_requests)
    organization = directory.organization
    active, upcoming = keys.active_key(organization), keys.next_key(organization)
    body = configuration(directory, name, issuer, active, upcoming, signed_requests=signed)
    try:
        with microsoft.graph_client(directory) as client:
            remote_id, note = _publish(client, body, name)
    except GraphError as error:
        _remember_failure(directory, name, issuer, error, actor)
        return None, error
    federation, _ = DomainFederation.objects.update_or_create(
        directory=directory,
        domain=name,
        defaults={
            "issuer_uri": issuer,
            "remote_id": remote_id,
            "state": FederationState.FEDERATED,
            "published_key": active,
            "published_next_key": upcoming,
            "changed_at": timezone.now(),
            "last_error": "",
        },
    )
    _set_domain_type(directory, name, "Federated")
    after: dict[str, object] = {
        "domain": name,
        "issuer": issuer,
        "remote_id": remote_id,
        "key": federation.published_key_id,
        "signed_requests": signed,
    }
    if note:
        after["note"] = note
        logger.warning("saml.federate: %s", note)
    audit.record(
        actor=actor,
        action="saml.federate",
        target_type="directory",
        target_id=directory.pk,
        target_label=f"{directory.name}: {name}",
        after=after,
    )
    return federation, None


def _remember_failure(
    directory: Directory, domain: str, issuer: str, error: GraphError, actor: Actor
) -> None:
    words = error.plain_words or error.message or str(error)
    federation = DomainFederation.objects.filter(directory=directory, domain=domain).first()
    if federation is None:
        DomainFederation.objects.create(
            directory=directory,
            domain=domain,
            issuer_uri=issuer,
            state=FederationState.FAILED,
            last_error=words,
        )
    else:
        DomainFederation.objects.filter(pk=federation.pk).update(last_error=words)
    audit.record(
        actor=actor,
        action="saml.federate.failed",
        target_type="directory",
        target_id=directory.pk,
        target_label=f"{directory.name}: {domain}",
        after={"domain": domain, "error": words},
    )


def roll_back(directory: Directory, domain: str, *, actor: Actor) -> DomainFederation:
    """Delete the configuration (owner only): the domain is managed again, users need passwords."""
    actor.require_owner()
    own_directory(directory, actor)
    name = domain_name(domain)
    with organization_lock(directory.organization_id):
        federation, failure = _roll_back_locked(directory, name, actor)
    if failure is not None:
        raise refusal("domain", failure) from failure
    assert federation is not None
    federation.refresh_from_db()
    return federation


def _roll_back_locked(
    directory: Directory, name: str, actor: Actor
) -> tuple[DomainFederation | None, GraphError | None]:
    """Delete and record, holding the organization; a Graph failure is handed back (see
    `_federate_locked`)."""
    federation = DomainFederation.objects.filter(directory=directory, domain=name).first()
    try:
        with microsoft.graph_client(directory) as client:
            existing = microsoft.federation_configuration(client, name)
            if existing is not None:
                if federation is None or existing.get("issuerUri") != federation.issuer_uri:
                    raise Conflict(
                        "domain",
                        f"{name} is federated with another identity provider, not Lockstep; "
                        "Lockstep leaves that federation alone.",
                    )
                client.delete_federation_configuration(name, str(existing["id"]))
    except GraphError as error:
        if federation is not None:
            DomainFederation.objects.filter(pk=federation.pk).update(
                last_error=error.plain_words or error.message or str(error)
            )
        return None, error
    if federation is None:
        raise Conflict("domain", f"{name} is not federated; there is nothing to roll back.")
    DomainFederation.objects.filter(pk=federation.pk).update(
        state=FederationState.ROLLED_BACK,
        remote_id="",
        published_key=None,
        published_next_key=None,
        changed_at=timezone.now(),
        last_error="",
    )
    _set_domain_type(directory, name, "Managed")
    waiting = _await_passwords(directory, name)
    audit.record(
        actor=actor,
        action="saml.roll_back",
        target_type="directory",
        target_id=directory.pk,
        target_label=f"{directory.name}: {name}",
        before={"state": federation.state, "remote_id": federation.remote_id},
        after={
            "state": FederationState.ROLLED_BACK,
            "accounts_waiting": waiting,
            "note": PASSWORDS_AFTER_ROLL_BACK.format(domain=name),
        },
    )
    return federation, None


def _await_passwords(directory: Directory, domain: str) -> int:
    """After a roll back every account of the domain needs a cloud password again: mark each as
    never having had one from Lockstep, so that with password takeover on, the user's next User
    Portal sign-in delivers the password they type (`password_delivery.hold_presented_password`),
    and the list shows them as waiting for it. A password set in Lockstep is delivered anyway."""
    return bound_users(directory, domain).update(password_synced_at=None)


def federation_status(directory: Directory) -> list[DomainStatus]:
    """Every domain of the tenant: Microsoft 365's authentication type and Lockstep's state."""
    stored = {f.domain: f for f in DomainFederation.objects.filter(directory=directory)}
    organization = directory.organization
    try:
        with microsoft.graph_client(directory) as client:
            domains = [
                (
                    str(d.get("id", "")).lower(),
                    bool(d.get("isDefault")),
                    bool(d.get("isInitial")),
                    str(d.get("authenticationType", "")),
                )
                for d in client.list_domains()
            ]
        reached = ""
    except GraphError as error:
        domains = [
            (d.name, d.is_default, d.is_initial, "")
            for d in DirectoryDomain.objects.filter(directory=directory).order_by("name")
        ]
        reached = microsoft.unreachable_words(error)
    now = timezone.now()
    statuses = []
    for name, is_default, is_initial, kind in sorted(domains):
        federation = stored.get(name)
        changed = federation.changed_at if federation else None
        statuses.append(
            DomainStatus(
                domain=name,
                is_default=is_default,
                is_initial=is_initial,
                microsoft_state=kind,
                lockstep_state=federation.state if federation else "",
                in_progress=bool(federation and federation.state != FederationState.FAILED)
                and in_progress(changed, now=now),
                changed_at=changed,
                issuer_uri=federation.issuer_uri if federation else endpoints.issuer_uri(organization, name),
                sso_url=endpoints.sso_url(organization, name),
                metadata_url=endpoints.metadata_url(organization, name),
                last_error=(federation.last_error if federation else "") or reached,
                signed_requests=bool(federation and federation.require_signed_requests),
            )
        )
    return statuses

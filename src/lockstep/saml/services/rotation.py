"""Signing-key rotation with overlap, across every federated domain of the organization.

1. `publish_next_key`: a NEXT key is made and set as `nextSigningCertificate` on every
   federated domain (with the active key as `signingCertificate` in the same PATCH); Microsoft
   365 then accepts assertions signed by either key. Refused while a promote has not reached
   every domain: the active key is still only `nextSigningCertificate` there.
2. `promote_next_key`: refused until every federated domain holds the next key, and until
   Microsoft 365 may have it on every sign-in (LOCKSTEP_FEDERATION_PROPAGATION_MINUTES after
   the domain's last change, `propagation`); the key then signs, and each domain gets it as `signingCertificate` with `nextSigningCertificate` cleared
   (null, as Graph clears a property).
No sign-in fails in between: whichever key signs, Microsoft 365 holds it. Each domain's
published keys are stored as Microsoft 365 confirmed them; a domain that failed is named in the
error, keeps its last confirmed state (still overlapping), and the same call again finishes it.
Each step holds the organization's row (`locking`): two at once run one after the other.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import IntegrityError
from django.db.models import Q
from django.utils import timezone

from lockstep.directory import audit
from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict, NotFound
from lockstep.directory.models import Organization
from lockstep.m365.graph.errors import GraphError
from lockstep.m365.graph.payloads import InternalDomainFederation
from lockstep.m365.services.errors import MicrosoftRefused
from lockstep.saml import keys
from lockstep.saml.models import DomainFederation, FederationState, KeyStatus, SigningKey
from lockstep.saml.services import microsoft
from lockstep.saml.services.contract import KeyInfo
from lockstep.saml.services.locking import organization_lock
from lockstep.saml.services.propagation import in_progress, settled_at


def _own(organization: Organization, actor: Actor) -> None:
    actor.require_owner()
    if organization.pk != actor.organization_id:
        raise NotFound("organization", organization.pk)


def federated_domains(organization: Organization) -> list[DomainFederation]:
    return list(
        DomainFederation.objects.filter(directory__organization=organization, state=FederationState.FEDERATED)
        .select_related("directory")
        .order_by("directory_id", "domain")
    )


def _patch_each(
    federations: list[DomainFederation],
    body: InternalDomainFederation,
    record: Callable[[DomainFederation], None],
) -> list[str]:
    """PATCH `body` onto each domain's configuration; `record` stores each success. The failures."""
    failed = []
    for federation in federations:
        try:
            with microsoft.graph_client(federation.directory) as client:
                remote_id = federation.remote_id
                if not remote_id:
                    config = microsoft.federation_configuration(client, federation.domain) or {}
                    remote_id = str(config.get("id", ""))
                client.update_federation_configuration(federation.domain, remote_id, body)
        except GraphError as error:
            words = error.plain_words or error.message or str(error)
            DomainFederation.objects.filter(pk=federation.pk).update(last_error=words)
            failed.append(f"{federation.domain} ({federation.directory.name}): {words}")
            continue
        record(federation)
    return failed


def _publish_pair(
    pending: list[DomainFederation], active: SigningKey, upcoming: SigningKey | None
) -> list[str]:
    """PATCH both certificate slots (the active key always, the next one or null) on each
    pending domain and record what each then holds; the domains that failed, by name."""
    body: InternalDomainFederation = {
        "signingCertificate": keys.certificate_b64(active),
        "nextSigningCertificate": keys.certificate_b64(upcoming) if upcoming is not None else None,
    }

    def done(federation: DomainFederation) -> None:
        DomainFederation.objects.filter(pk=federation.pk).update(
            published_key=active, published_next_key=upcoming, changed_at=timezone.now(), last_error=""
        )

    return _patch_each(pending, body, done)


def _raise_if_failed(failed: list[str], step: str) -> None:
    if failed:
        raise MicrosoftRefused(
            "key",
            f"{step} did not reach every federated domain; the others are done and still accept "
            f"both keys. Run it again to finish: {'; '.join(failed)}",
            kind="transient",
        )


def _refuse_while_promote_unfinished(federations: list[DomainFederation], active: SigningKey) -> None:
    """A domain whose promote failed holds the old key as signingCertificate and the active one
    as nextSigningCertificate: publishing a new next certificate there would take the active
    one's place, and every sign-in of that domain would then fail."""
    behind = [f.domain for f in federations if f.published_key_id != active.pk]
    if behind:
        raise Conflict(
            "key",
            "Finish promoting the current certificate first (promote again): Microsoft 365 does "
            f"not hold it as the signing certificate yet for {', '.join(behind)}, and a new next "
            "certificate there would replace it and fail every sign-in.",
        )


def _next_key_once(organization: Organization, actor: Actor) -> SigningKey:
    try:
        return keys.create_next_key(organization, actor=actor)
    except IntegrityError as error:  # another request made one meanwhile (the lock makes it rare)
        raise Conflict(
            "key", "Another administrator is publishing a next certificate right now; reload and look."
        ) from error


def publish_next_key(organization: Organization, *, actor: Actor) -> SigningKey:
    """Make (or keep) the NEXT key and publish it as nextSigningCertificate everywhere (owner).

    Each PATCH also sends the active key as signingCertificate: whatever Microsoft 365 held
    there, the domain then accepts exactly the two keys Lockstep may sign with."""
    _own(organization, actor)
    with organization_lock(organization.pk):
        federations = federated_domains(organization)
        active = keys.active_key(organization)
        _refuse_while_promote_unfinished(federations, active)
        upcoming = _next_key_once(organization, actor)
        pending = [f for f in federations if f.published_next_key_id != upcoming.pk]
        failed = _publish_pair(pending, active, upcoming)
        audit.record(
            actor=actor,
            action="saml.key.publish_next",
            target_type="saml_key",
            target_id=upcoming.pk,
            after={
                "fingerprint": upcoming.fingerprint,
                "domains": [f.domain for f in pending],
                "failed": failed,
            },
        )
    _raise_if_failed(failed, "Publishing the next certificate")
    return upcoming


def _refuse_until_settled(federations: list[DomainFederation]) -> None:
    """The next certificate is relied on only once Microsoft 365 may have it everywhere."""
    now = timezone.now()
    young = [f for f in federations if in_progress(f.changed_at, now=now)]
    if young:
        until = max(settled_at(f.changed_at) for f in young)
        raise Conflict(
            "key",
            "Microsoft 365 can take up to two hours to use a new certificate on every sign-in: promote "
            f"the next certificate after {until:%Y-%m-%d %H:%M} UTC, when it has reached "
            f"{', '.join(sorted(f.domain for f in young))}.",
        )


def promote_next_key(organization: Organization, *, actor: Actor) -> SigningKey:
    """The NEXT key signs from now on and becomes signingCertificate everywhere (owner)."""
    _own(organization, actor)
    with organization_lock(organization.pk):
        active, failed = _promote_locked(organization, actor)
    _raise_if_failed(failed, "Publishing the new signing certificate")
    return active


def _promote_locked(organization: Organization, actor: Actor) -> tuple[SigningKey, list[str]]:
    upcoming = keys.next_key(organization)
    federations = federated_domains(organization)
    if upcoming is not None:
        missing = [f.domain for f in federations if f.published_next_key_id != upcoming.pk]
        if missing:
            raise Conflict(
                "key",
                "Publish the next certificate first: Microsoft 365 does not hold it yet for "
                f"{', '.join(missing)}, so sign-ins there would fail once it signs.",
            )
        _refuse_until_settled(federations)
        try:
            active = keys.promote_next_key(organization, actor=actor)
        except LookupError as error:  # promoted meanwhile by another request
            raise Conflict(
                "key", "The next certificate was promoted by another request meanwhile; reload and look."
            ) from error
    else:
        active = keys.active_key(organization)  # a retry: finish the domains not done yet
        if all(f.published_key_id == active.pk for f in federations):
            raise Conflict("key", "There is no next signing key to promote; publish one first.")
    pending = [
        f for f in federations if f.published_key_id != active.pk or f.published_next_key_id is not None
    ]
    failed = _publish_pair(pending, active, None)
    audit.record(
        actor=actor,
        action="saml.key.publish_active",
        target_type="saml_key",
        target_id=active.pk,
        after={"fingerprint": active.fingerprint, "domains": [f.domain for f in pending], "failed": failed},
    )
    return active, failed


def key_overview(organization: Organization) -> list[KeyInfo]:
    """The organization's keys (next, active, then retired newest first) and where each is held."""
    order = {KeyStatus.NEXT: 0, KeyStatus.ACTIVE: 1, KeyStatus.RETIRED: 2}
    keys.active_key(organization)
    found = sorted(
        SigningKey.objects.filter(organization=organization),
        key=lambda k: (order.get(KeyStatus(k.status), 3), -k.created_at.timestamp()),
    )
    overview = []
    for key in found:
        domains = DomainFederation.objects.filter(
            Q(published_key=key) | Q(published_next_key=key), state=FederationState.FEDERATED
        ).values_list("domain", flat=True)
        overview.append(
            KeyInfo(key.fingerprint, str(key.status), key.not_before, key.not_after, sorted(domains))
        )
    return overview

"""Whether Microsoft 365 must sign its AuthnRequests to Lockstep for a domain.

Microsoft 365 signs the AuthnRequest only when the domain's configuration says
`isSignedAuthenticationRequestRequired` (graph-facts §8.1); Lockstep then checks the signature
with the SP certificate and refuses an unsigned or forged request. The choice is stored on the
DomainFederation (`require_signed_requests`): it is PATCHed at once on a federated domain and
sent with the configuration whenever the domain is federated again.
"""

from __future__ import annotations

from lockstep.directory import audit
from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict
from lockstep.m365.graph.errors import GraphError
from lockstep.m365.models import Directory
from lockstep.m365.services.errors import refusal
from lockstep.saml.models import DomainFederation, FederationState
from lockstep.saml.services import microsoft
from lockstep.saml.services.locking import organization_lock
from lockstep.saml.services.scope import domain_name, own_directory


def set_signed_requests(
    directory: Directory, domain: str, *, required: bool, actor: Actor
) -> DomainFederation:
    """Require (or stop requiring) signed AuthnRequests for `domain` (owner only)."""
    actor.require_owner()
    own_directory(directory, actor)
    name = domain_name(domain)
    with organization_lock(directory.organization_id):
        federation, failure = _set_locked(directory, name, required, actor)
    if failure is not None:
        raise refusal("domain", failure) from failure
    federation.refresh_from_db()
    return federation


def _set_locked(
    directory: Directory, name: str, required: bool, actor: Actor
) -> tuple[DomainFederation, GraphError | None]:
    federation = DomainFederation.objects.filter(directory=directory, domain=name).first()
    if federation is None:
        raise Conflict(
            "domain", f"{name} has never been federated with Lockstep: federate it first, then choose this."
        )
    if federation.state == FederationState.FEDERATED:
        try:
            _patch(directory, federation, required)
        except GraphError as error:
            words = error.plain_words or error.message or str(error)
            DomainFederation.objects.filter(pk=federation.pk).update(last_error=words)
            return federation, error
    DomainFederation.objects.filter(pk=federation.pk).update(require_signed_requests=required, last_error="")
    audit.record(
        actor=actor,
        action="saml.signed_requests",
        target_type="directory",
        target_id=directory.pk,
        target_label=f"{directory.name}: {name}",
        before={"domain": name, "required": federation.require_signed_requests},
        after={
            "domain": name,
            "required": required,
            "sent_to_microsoft": federation.state == FederationState.FEDERATED,
        },
    )
    return federation, None


def _patch(directory: Directory, federation: DomainFederation, required: bool) -> None:
    with microsoft.graph_client(directory) as client:
        remote_id = federation.remote_id
        if not remote_id:
            found = microsoft.federation_configuration(client, federation.domain) or {}
            remote_id = str(found.get("id", ""))
        client.update_federation_configuration(
            federation.domain, remote_id, {"isSignedAuthenticationRequestRequired": required}
        )

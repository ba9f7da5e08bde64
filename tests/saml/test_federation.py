"""Federate a domain through Graph (m365sim over HTTPS), see its status, roll it back; only an
owner may (issue 10, build point 3)."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from django.utils import timezone
from tests.m365.test_permissions_exact import uncatalogued
from tests.saml.fed_support import DOMAIN, Tenant, administrator, sign_in, tenant_with_users

from lockstep.directory.actors import Actor
from lockstep.directory.audit import AuditEvent
from lockstep.directory.errors import Conflict, PermissionDenied
from lockstep.directory.models import Organization
from lockstep.m365 import password_delivery
from lockstep.m365.models import DirectoryDomain
from lockstep.saml import endpoints, keys
from lockstep.saml import services as saml
from lockstep.saml.models import DomainFederation, FederationState
from m365sim.testing import SimServer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def tenant(sim: SimServer, actor: Actor) -> Tenant:
    return tenant_with_users(sim, actor)


def make_ready(tenant: Tenant, actor: Actor) -> None:
    tenant.disable_seeded()
    assert saml.test_sign_in(tenant.directory, DOMAIN, actor=actor).passed


def test_federate_gives_microsoft_the_configuration_and_a_user_signs_in(
    tenant: Tenant, actor: Actor, org: Organization
) -> None:
    make_ready(tenant, actor)
    tenant.sim.clear_request_log()
    federation = saml.federate(tenant.directory, DOMAIN, actor=actor)

    remote = tenant.sim.sim.tenant.domains[DOMAIN]
    assert remote.authenticationType == "Federated"
    config = remote.federation
    assert config is not None and config["id"] == federation.remote_id
    assert config["issuerUri"] == endpoints.issuer_uri(org, DOMAIN) == federation.issuer_uri
    assert config["passiveSignInUri"] == endpoints.sso_url(org, DOMAIN)
    assert config["signOutUri"] == endpoints.slo_url(org, DOMAIN)
    assert config["signingCertificate"] == keys.certificate_b64(keys.active_key(org))
    assert config["nextSigningCertificate"] is None
    assert config["preferredAuthenticationProtocol"] == "saml"
    assert config["federatedIdpMfaBehavior"] == "acceptIfMfaDoneByFederatedIdp"
    assert federation.state == FederationState.FEDERATED
    assert federation.published_key == keys.active_key(org)
    assert (
        DirectoryDomain.objects.get(directory=tenant.directory, name=DOMAIN).authentication_type
        == "Federated"
    )
    assert AuditEvent.objects.filter(action="saml.federate", target_id=str(tenant.directory.pk)).exists()
    # every call is in the permission catalogue and allowed by the set-up guide's set
    log = tenant.sim.request_log()
    assert uncatalogued(log) == [] and not [r for r in log if r["status"] == 403]

    ada = tenant.users[0]
    verdict = sign_in(tenant, ada, keys.active_key(org))
    assert verdict["result"] == "success" and verdict["upn"] == ada.email

    status = {s.domain: s for s in saml.federation_status(tenant.directory)}
    assert status[DOMAIN].microsoft_state == "Federated" and status[DOMAIN].lockstep_state == "federated"
    assert status[DOMAIN].in_progress  # Microsoft: up to two hours to reach every sign-in
    assert status["contoso.com"].lockstep_state == "" and not status["contoso.com"].in_progress
    assert status["contoso.onmicrosoft.com"].is_initial


def test_roll_back_makes_the_domain_managed_again(tenant: Tenant, actor: Actor, org: Organization) -> None:
    make_ready(tenant, actor)
    saml.federate(tenant.directory, DOMAIN, actor=actor)
    rolled = saml.roll_back(tenant.directory, DOMAIN, actor=actor)
    remote = tenant.sim.sim.tenant.domains[DOMAIN]
    assert remote.authenticationType == "Managed" and remote.federation is None
    assert rolled.state == FederationState.ROLLED_BACK and rolled.remote_id == ""
    assert (
        DirectoryDomain.objects.get(directory=tenant.directory, name=DOMAIN).authentication_type == "Managed"
    )
    event = AuditEvent.objects.get(action="saml.roll_back")
    assert "needs one" in str(event.after)  # users need passwords again: said in the audit log
    assert event.after["accounts_waiting"] == 2
    # with password takeover on, the next User Portal sign-in delivers the typed password
    ada = tenant.users[0]
    assert (
        password_delivery.hold_presented_password(
            organization_id=org.pk, user_id=ada.pk, password="Typed-At-Portal-42x"
        )
        == 1
    )
    verdict = sign_in(tenant, tenant.users[0], keys.active_key(org))
    assert verdict["result"] == "error"  # a managed domain takes no assertion
    # federating again keeps the issuer Microsoft knows
    assert saml.test_sign_in(tenant.directory, DOMAIN, actor=actor).passed
    again = saml.federate(tenant.directory, DOMAIN, actor=actor)
    assert again.issuer_uri == rolled.issuer_uri and again.state == FederationState.FEDERATED


def test_federate_is_refused_naming_every_blocker_and_nothing_is_sent(tenant: Tenant, actor: Actor) -> None:
    tenant.sim.clear_request_log()
    with pytest.raises(Conflict) as refused:
        saml.federate(tenant.directory, DOMAIN, actor=actor)
    message = refused.value.message
    assert "not managed by Lockstep" in message and "test sign-in" in message
    for account in tenant.seeded_accounts():
        if account["accountEnabled"]:
            assert account["userPrincipalName"] in message
    assert not [r for r in tenant.sim.request_log() if r["method"] != "GET" and "federation" in r["path"]]
    assert tenant.sim.sim.tenant.domains[DOMAIN].authenticationType == "Managed"
    assert not DomainFederation.objects.exists()
    refusal = AuditEvent.objects.get(action="saml.federate.refused")
    assert "unmanaged_users" in refusal.after["blockers"]


def test_only_an_owner_may_federate_roll_back_or_rotate(
    tenant: Tenant, actor: Actor, org: Organization
) -> None:
    make_ready(tenant, actor)
    other = administrator(org)
    with pytest.raises(PermissionDenied):
        saml.federate(tenant.directory, DOMAIN, actor=other)
    assert tenant.sim.sim.tenant.domains[DOMAIN].authenticationType == "Managed"
    saml.federate(tenant.directory, DOMAIN, actor=actor)
    for attempt in (
        lambda: saml.roll_back(tenant.directory, DOMAIN, actor=other),
        lambda: saml.publish_next_key(org, actor=other),
        lambda: saml.promote_next_key(org, actor=other),
    ):
        with pytest.raises(PermissionDenied):
            attempt()
    assert tenant.sim.sim.tenant.domains[DOMAIN].authenticationType == "Federated"
    assert keys.next_key(org) is None


def test_in_progress_ends_after_the_propagation_time(tenant: Tenant, actor: Actor, settings: object) -> None:
    make_ready(tenant, actor)
    federation = saml.federate(tenant.directory, DOMAIN, actor=actor)
    DomainFederation.objects.filter(pk=federation.pk).update(
        changed_at=timezone.now() - dt.timedelta(minutes=119)
    )
    assert {s.domain: s for s in saml.federation_status(tenant.directory)}[DOMAIN].in_progress
    DomainFederation.objects.filter(pk=federation.pk).update(
        changed_at=timezone.now() - dt.timedelta(minutes=121)
    )
    status = {s.domain: s for s in saml.federation_status(tenant.directory)}[DOMAIN]
    assert not status.in_progress and status.microsoft_state == "Federated"


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "lost_response"},  # created, the answer lost
        {"kind": "applied_status", "status": 500},  # graph-facts §8.1: created, yet 500
    ],
)
def test_a_create_that_errs_but_federated_the_domain_is_recorded_federated(
    tenant: Tenant, actor: Actor, fault: dict[str, object]
) -> None:
    """Microsoft 365 created the configuration but answered an error (or nothing): Lockstep reads
    it again and, finding its issuer, records the domain federated, so that the IdP serves it
    (it serves only federated domains) and the administrator is told."""
    make_ready(tenant, actor)
    tenant.sim.sim.faults.add(
        method="POST", path=r"/domains/[^/]+/federationConfiguration$", count=1, **fault
    )
    federation = saml.federate(tenant.directory, DOMAIN, actor=actor)
    remote = tenant.sim.sim.tenant.domains[DOMAIN]
    assert remote.authenticationType == "Federated"
    assert federation.state == FederationState.FEDERATED and federation.last_error == ""
    assert federation.remote_id == remote.federation["id"]
    event = AuditEvent.objects.get(action="saml.federate")
    assert "holds Lockstep's configuration" in event.after["note"]
    assert not AuditEvent.objects.filter(action="saml.federate.failed").exists()
    # federating again adopts the same configuration instead of failing on "already federated"
    again = saml.federate(tenant.directory, DOMAIN, actor=actor)
    assert again.remote_id == federation.remote_id and len(tenant.sim.sim.tenant.domains) >= 1


def test_a_create_that_failed_without_federating_is_recorded_failed(tenant: Tenant, actor: Actor) -> None:
    make_ready(tenant, actor)
    tenant.sim.sim.faults.add(
        "status", method="POST", path=r"/domains/[^/]+/federationConfiguration$", status=500, count=1
    )
    with pytest.raises(Conflict):
        saml.federate(tenant.directory, DOMAIN, actor=actor)
    assert tenant.sim.sim.tenant.domains[DOMAIN].authenticationType == "Managed"
    failed = DomainFederation.objects.get(domain=DOMAIN)
    assert failed.state == FederationState.FAILED and failed.last_error
    assert AuditEvent.objects.filter(action="saml.federate.failed").exists()


def _sim_signs_requests(tenant: Tenant) -> bool:
    """Whether m365sim's SP-initiated sign-in (no `signed` asked) sends a signed AuthnRequest."""
    with httpx.Client(verify=tenant.sim.ssl_context(), timeout=20) as client:
        answer = client.get(
            tenant.sim.base_url + "/_sim/saml/start", params={"domain": DOMAIN, "binding": "redirect"}
        )
    assert answer.status_code == 302, answer.text
    return "Signature=" in answer.headers["location"]


def test_signed_requests_can_be_required_and_are_sent_again_on_federate(
    tenant: Tenant, actor: Actor, org: Organization
) -> None:
    make_ready(tenant, actor)
    with pytest.raises(Conflict):  # nothing to set it on yet
        saml.set_signed_requests(tenant.directory, DOMAIN, required=True, actor=actor)
    saml.federate(tenant.directory, DOMAIN, actor=actor)
    assert tenant.sim.sim.tenant.domains[DOMAIN].federation["isSignedAuthenticationRequestRequired"] is False
    assert not _sim_signs_requests(tenant)
    with pytest.raises(PermissionDenied):
        saml.set_signed_requests(tenant.directory, DOMAIN, required=True, actor=administrator(org))

    federation = saml.set_signed_requests(tenant.directory, DOMAIN, required=True, actor=actor)
    assert federation.require_signed_requests
    assert tenant.sim.sim.tenant.domains[DOMAIN].federation["isSignedAuthenticationRequestRequired"] is True
    assert _sim_signs_requests(tenant)
    event = AuditEvent.objects.get(action="saml.signed_requests")
    assert event.after["required"] is True and event.before["required"] is False

    saml.roll_back(tenant.directory, DOMAIN, actor=actor)
    assert saml.test_sign_in(tenant.directory, DOMAIN, actor=actor).passed
    saml.federate(tenant.directory, DOMAIN, actor=actor)  # the stored choice goes with it
    assert tenant.sim.sim.tenant.domains[DOMAIN].federation["isSignedAuthenticationRequestRequired"] is True

    saml.set_signed_requests(tenant.directory, DOMAIN, required=False, actor=actor)
    assert tenant.sim.sim.tenant.domains[DOMAIN].federation["isSignedAuthenticationRequestRequired"] is False
    assert not DomainFederation.objects.get(domain=DOMAIN).require_signed_requests

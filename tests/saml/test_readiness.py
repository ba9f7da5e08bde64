"""Federation readiness blocks on each listed condition, read live from m365sim over HTTPS, and
is clear once each is fixed (issue 10, build point 3)."""

from __future__ import annotations

from typing import Any

import pytest
from tests.saml.fed_support import BREAK_GLASS, DOMAIN, SECOND, Tenant, tenant_with_users

from lockstep.directory.actors import Actor
from lockstep.directory.audit import AuditEvent
from lockstep.directory.errors import PermissionDenied
from lockstep.saml import keys
from lockstep.saml import services as saml
from lockstep.saml.services import BlockerCode
from lockstep.testing.m365 import sync_until_settled
from m365sim import federation as sim_federation
from m365sim.testing import SimServer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def tenant(sim: SimServer, actor: Actor) -> Tenant:
    return tenant_with_users(sim, actor)


def codes(tenant: Tenant, actor: Actor, domain: str = DOMAIN) -> dict[BlockerCode, list[str]]:
    found = saml.readiness(tenant.directory, domain, actor=actor)
    return {b.code: b.users for b in found.blockers}


def test_every_blocker_is_listed_then_readiness_is_clear_once_each_is_fixed(
    tenant: Tenant, actor: Actor
) -> None:
    ada, _ = tenant.users
    tenant.account(ada.email)["onPremisesImmutableId"] = None  # cleared in Microsoft 365 by hand
    tenant.account(BREAK_GLASS)["accountEnabled"] = False  # the only onmicrosoft.com Global Admin
    seeded = sorted(a["userPrincipalName"] for a in tenant.seeded_accounts() if a["accountEnabled"])
    assert seeded  # the demo tenant's own accounts of fabrikam.com, unknown to Lockstep

    blockers = codes(tenant, actor)
    assert set(blockers) == {
        BlockerCode.MISSING_IMMUTABLE_ID,
        BlockerCode.NO_BREAK_GLASS,
        BlockerCode.UNMANAGED_USERS,
        BlockerCode.NO_TEST_SIGN_IN,
    }
    assert blockers[BlockerCode.MISSING_IMMUTABLE_ID] == [ada.email]  # read from Graph, not memory
    assert blockers[BlockerCode.UNMANAGED_USERS] == seeded  # disabled accounts lose nothing

    assert saml.set_immutable_ids(tenant.directory, DOMAIN, actor=actor) == 1
    assert AuditEvent.objects.filter(action="saml.immutable_ids.queue").exists()
    sync_until_settled()
    assert tenant.account(ada.email)["onPremisesImmutableId"] == ada.immutable_id
    tenant.account(BREAK_GLASS)["accountEnabled"] = True
    tenant.disable_seeded()
    test = saml.test_sign_in(tenant.directory, DOMAIN, actor=actor)
    assert test.passed, test.problems
    assert test.key_fingerprint == keys.active_key(tenant.directory.organization).fingerprint
    assert AuditEvent.objects.filter(action="saml.test_sign_in").exists()

    ready = saml.readiness(tenant.directory, DOMAIN, actor=actor)
    assert ready.ready, ready.blockers


def test_a_global_admin_on_a_custom_domain_is_no_break_glass(tenant: Tenant, actor: Actor) -> None:
    """The demo tenant also has a Global Administrator on contoso.com: it does not count."""
    assert BlockerCode.NO_BREAK_GLASS not in codes(tenant, actor)
    tenant.account(BREAK_GLASS)["accountEnabled"] = False
    assert BlockerCode.NO_BREAK_GLASS in codes(tenant, actor)


@pytest.mark.parametrize(
    ("domain", "code"),
    [
        ("contoso.onmicrosoft.com", BlockerCode.INITIAL_DOMAIN),
        ("northwind.example", BlockerCode.UNVERIFIED_DOMAIN),
        ("nosuch.example", BlockerCode.UNKNOWN_DOMAIN),
        ("contoso.com", BlockerCode.DEFAULT_DOMAIN),  # the demo tenant's default
    ],
)
def test_domains_microsoft_never_federates_are_blocked(
    tenant: Tenant, actor: Actor, domain: str, code: BlockerCode
) -> None:
    assert code in codes(tenant, actor, domain)


def test_a_domain_federated_with_another_idp_is_blocked(tenant: Tenant, actor: Actor) -> None:
    sim_federation.federate_godaddy(tenant.sim.sim.tenant.domains[DOMAIN])
    assert BlockerCode.FEDERATED_ELSEWHERE in codes(tenant, actor)


def test_a_failed_latest_test_sign_in_blocks_and_names_the_problem(tenant: Tenant, actor: Actor) -> None:
    ada, _ = tenant.users
    assert saml.test_sign_in(tenant.directory, DOMAIN, actor=actor, user=ada).passed
    tenant.account(ada.email)["onPremisesImmutableId"] = "someone-else"
    failed = saml.test_sign_in(tenant.directory, DOMAIN, actor=actor, user=ada)
    assert not failed.passed
    assert any("AADSTS51004" in p for p in failed.problems)
    readiness = saml.readiness(tenant.directory, DOMAIN, actor=actor)
    blocker = next(b for b in readiness.blockers if b.code == BlockerCode.FAILED_TEST_SIGN_IN)
    assert "onPremisesImmutableId" in blocker.message


def test_a_test_sign_in_with_a_key_that_no_longer_signs_does_not_count(tenant: Tenant, actor: Actor) -> None:
    tenant.disable_seeded()
    assert saml.test_sign_in(tenant.directory, DOMAIN, actor=actor).passed
    assert BlockerCode.NO_TEST_SIGN_IN not in codes(tenant, actor)
    organization = tenant.directory.organization
    keys.create_next_key(organization, actor=actor)
    keys.promote_next_key(organization, actor=actor)
    assert BlockerCode.NO_TEST_SIGN_IN in codes(tenant, actor)


def test_a_test_sign_in_of_a_suspended_or_disabled_user_fails_in_plain_words(
    tenant: Tenant, actor: Actor
) -> None:
    _, bob = tenant.users
    tenant.account(bob.email)["accountEnabled"] = False
    test = saml.test_sign_in(tenant.directory, DOMAIN, actor=actor, user=bob)
    assert test.problems == ["The account is disabled in Microsoft 365."]


def test_microsoft_unreachable_is_a_blocker_not_an_error(tenant: Tenant, actor: Actor) -> None:
    tenant.directory.graph_base_url = "https://127.0.0.1:9/v1.0"  # nothing listens there
    tenant.directory.save()
    readiness = saml.readiness(tenant.directory, DOMAIN, actor=actor)
    unreachable = [b for b in readiness.blockers if b.code == BlockerCode.UNREACHABLE]
    assert len(unreachable) == 1 and "Microsoft 365 could not be asked" in unreachable[0].message
    assert not readiness.ready


def test_read_only_cannot_queue_immutable_ids_or_test(
    tenant: Tenant, read_only_actor: Actor, sim: SimServer
) -> None:
    with pytest.raises(PermissionDenied):
        saml.set_immutable_ids(tenant.directory, DOMAIN, actor=read_only_actor)
    with pytest.raises(PermissionDenied):
        saml.test_sign_in(tenant.directory, DOMAIN, actor=read_only_actor)
    assert saml.readiness(tenant.directory, DOMAIN, actor=read_only_actor).domain == DOMAIN


@pytest.mark.django_db
def test_a_real_cloud_needs_an_https_public_url(actor: Actor, org: Any, settings: Any) -> None:
    from lockstep.m365.models import Cloud, Directory
    from lockstep.saml.services.readiness import endpoint_blockers

    directory = Directory(organization=org, name="real", tenant_id="t", client_id="c", cloud=Cloud.GLOBAL)
    settings.BASE_URL = "http://lockstep.example.org"
    (blocker,) = endpoint_blockers(directory)
    assert blocker.code == BlockerCode.INSECURE_ENDPOINTS and "LOCKSTEP_BASE_URL" in blocker.message
    settings.BASE_URL = "https://lockstep.example.org"
    assert endpoint_blockers(directory) == []
    directory.cloud = Cloud.CUSTOM  # m365sim and other custom endpoints take http
    settings.BASE_URL = "http://127.0.0.1:8000"
    assert endpoint_blockers(directory) == []


def move_upn(tenant: Tenant, user: Any, upn: str) -> None:
    """The user's account has the UPN `upn`, in another domain than their email (an account
    adopted as it was, or a move held while a domain is federated); the sync is not run after."""
    from lockstep.m365.models import UserBinding

    account = tenant.account(user.email)
    state = tenant.sim.sim.tenant
    state.by_upn.pop(user.email.lower(), None)
    account["userPrincipalName"] = upn
    state.by_upn[upn.lower()] = account["id"]
    binding = UserBinding.objects.get(user=user)
    binding.remote_upn = upn
    binding.last_applied = {**binding.last_applied, "userPrincipalName": upn}
    binding.save(update_fields=["remote_upn", "last_applied"])


def test_users_of_a_domain_are_those_whose_account_upn_is_in_it(sim: SimServer, actor: Actor) -> None:
    """Microsoft 365 sends a user to a domain's identity provider by the account's UPN, and the
    assertion carries it: the domain's users are decided by it, not by the company email."""
    tenant = tenant_with_users(sim, actor, second_domain=True)
    ada, bob, cy = tenant.users
    move_upn(tenant, cy, f"cy@{DOMAIN}")  # email in litware.com, account in fabrikam.com
    move_upn(tenant, bob, f"bob@{SECOND}")  # email in fabrikam.com, account in litware.com
    for upn in (f"cy@{DOMAIN}", f"bob@{SECOND}"):
        tenant.account(upn)["onPremisesImmutableId"] = None

    blockers = codes(tenant, actor)
    assert blockers[BlockerCode.MISSING_IMMUTABLE_ID] == [f"cy@{DOMAIN}"]
    assert f"cy@{DOMAIN}" not in blockers.get(BlockerCode.UNMANAGED_USERS, [])
    assert codes(tenant, actor, SECOND)[BlockerCode.MISSING_IMMUTABLE_ID] == [f"bob@{SECOND}"]
    assert saml.set_immutable_ids(tenant.directory, DOMAIN, actor=actor) == 1  # cy's, not bob's
    queued = AuditEvent.objects.get(action="saml.immutable_ids.queue")
    assert queued.after["accounts"] == [f"cy@{DOMAIN}"]

    tenant.account(f"cy@{DOMAIN}")["onPremisesImmutableId"] = cy.immutable_id
    test = saml.test_sign_in(tenant.directory, DOMAIN, actor=actor, user=cy)
    assert test.passed, test.problems  # IDPEmail is the account's UPN, cy@fabrikam.com
    refused = saml.test_sign_in(tenant.directory, DOMAIN, actor=actor, user=bob)
    assert not refused.passed and f"no account of this directory in {DOMAIN}" in refused.problems[0]
    assert saml.test_sign_in(tenant.directory, DOMAIN, actor=actor).user == ada  # the first of the domain

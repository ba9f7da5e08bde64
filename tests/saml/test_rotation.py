"""Certificate rotation with overlap: no sign-in fails between publishing the next certificate
and promoting it, a partial failure is named and finished by running the step again."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pytest
from django.utils import timezone
from tests.saml.fed_support import DOMAIN, SECOND, Tenant, sign_in, tenant_with_users

from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict
from lockstep.directory.models import Organization, User
from lockstep.m365.services.errors import MicrosoftRefused
from lockstep.saml import keys
from lockstep.saml import services as saml
from lockstep.saml.models import DomainFederation, KeyStatus, SigningKey
from m365sim.saml_state import sp_of
from m365sim.testing import SimServer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def tenant(sim: SimServer, actor: Actor, settings: Any) -> Tenant:
    """fabrikam.com and litware.com both federated with Lockstep; no propagation wait (it has a
    test of its own)."""
    settings.FEDERATION_PROPAGATION_MINUTES = 0
    made = tenant_with_users(sim, actor, second_domain=True)
    made.disable_seeded()
    for domain in (DOMAIN, SECOND):
        assert saml.test_sign_in(made.directory, domain, actor=actor).passed
        saml.federate(made.directory, domain, actor=actor)
    return made


def held(tenant: Tenant, domain: str) -> tuple[str, str | None]:
    config = tenant.sim.sim.tenant.domains[domain].federation
    return config["signingCertificate"], config["nextSigningCertificate"]


def test_rotation_never_fails_a_sign_in(tenant: Tenant, actor: Actor, org: Organization) -> None:
    ada, _, cy = tenant.users
    old = keys.active_key(org)
    for user in (ada, cy):
        assert saml_result(tenant, user, old) == "success"

    upcoming = saml.publish_next_key(org, actor=actor)
    for domain in (DOMAIN, SECOND):
        assert held(tenant, domain) == (keys.certificate_b64(old), keys.certificate_b64(upcoming))
    for user in (ada, cy):  # still signing with the old key, and the new one is accepted too
        assert saml_result(tenant, user, old) == "success"
        assert saml_result(tenant, user, upcoming) == "success"

    active = saml.promote_next_key(org, actor=actor)
    assert active.pk == upcoming.pk and keys.active_key(org).pk == upcoming.pk
    for domain in (DOMAIN, SECOND):
        assert held(tenant, domain) == (keys.certificate_b64(upcoming), None)
    for user in (ada, cy):
        assert saml_result(tenant, user, keys.active_key(org)) == "success"
        assert saml_result(tenant, user, old) == "error"  # the retired key is no longer held

    overview = {k.fingerprint: k for k in saml.key_overview(org)}
    assert overview[upcoming.fingerprint].status == KeyStatus.ACTIVE
    assert overview[upcoming.fingerprint].published_domains == [DOMAIN, SECOND]
    assert overview[old.fingerprint].status == KeyStatus.RETIRED
    assert overview[old.fingerprint].published_domains == []


def test_a_key_microsoft_does_not_hold_is_refused(
    tenant: Tenant, org: Organization, other_org: Organization
) -> None:
    stranger = keys.active_key(other_org)
    assert saml_result(tenant, tenant.users[0], stranger) == "error"


def test_promote_is_refused_before_the_next_certificate_is_everywhere(
    tenant: Tenant, actor: Actor, org: Organization
) -> None:
    with pytest.raises(Conflict, match="no next signing key"):
        saml.promote_next_key(org, actor=actor)
    keys.create_next_key(org, actor=actor)  # made, but never published to Microsoft 365
    with pytest.raises(Conflict, match="Publish the next certificate first"):
        saml.promote_next_key(org, actor=actor)
    assert keys.next_key(org) is not None  # nothing promoted


def test_a_partial_failure_is_named_and_the_same_step_finishes_it(
    tenant: Tenant, actor: Actor, org: Organization
) -> None:
    failing = tenant.sim.sim.faults.add(
        "status", method="PATCH", path=rf"/domains/{SECOND}/federationConfiguration/", status=400, count=1
    )
    with pytest.raises(MicrosoftRefused) as refused:
        saml.publish_next_key(org, actor=actor)
    assert SECOND in refused.value.message and "Run it again" in refused.value.message
    tenant.sim.sim.faults.remove(failing.id)
    upcoming = keys.next_key(org)
    assert upcoming is not None
    assert held(tenant, DOMAIN)[1] == keys.certificate_b64(upcoming)
    assert held(tenant, SECOND)[1] is None
    assert DomainFederation.objects.get(domain=SECOND).last_error
    with pytest.raises(Conflict):  # litware.com does not hold it yet: promoting would break it
        saml.promote_next_key(org, actor=actor)
    assert saml.publish_next_key(org, actor=actor).pk == upcoming.pk  # the same key, finished
    assert held(tenant, SECOND)[1] == keys.certificate_b64(upcoming)

    failing = tenant.sim.sim.faults.add(
        "status", method="PATCH", path=rf"/domains/{DOMAIN}/federationConfiguration/", status=400, count=1
    )
    with pytest.raises(MicrosoftRefused):
        saml.promote_next_key(org, actor=actor)
    tenant.sim.sim.faults.remove(failing.id)
    # fabrikam.com still holds the new key as next: its sign-ins keep working meanwhile
    assert saml_result(tenant, tenant.users[0], keys.active_key(org)) == "success"
    saml.promote_next_key(org, actor=actor)  # a retry finishes the promotion
    for domain in (DOMAIN, SECOND):
        assert held(tenant, domain) == (keys.certificate_b64(upcoming), None)
    assert SigningKey.objects.filter(organization=org, status=KeyStatus.ACTIVE).get().pk == upcoming.pk


def saml_result(tenant: Tenant, user: User, key: SigningKey) -> str:
    """m365sim's verdict on an IdP-initiated sign-in of `user` signed by `key`."""
    return sign_in(tenant, user, key)["result"]


def test_promote_waits_until_microsoft_may_hold_the_next_certificate_everywhere(
    tenant: Tenant, actor: Actor, org: Organization, settings: Any
) -> None:
    settings.FEDERATION_PROPAGATION_MINUTES = 120
    old = keys.active_key(org)
    saml.publish_next_key(org, actor=actor)
    with pytest.raises(Conflict, match="up to two hours") as refused:
        saml.promote_next_key(org, actor=actor)
    assert DOMAIN in refused.value.message and SECOND in refused.value.message
    assert keys.active_key(org).pk == old.pk  # nothing promoted
    DomainFederation.objects.update(changed_at=timezone.now() - dt.timedelta(minutes=121))
    assert saml.promote_next_key(org, actor=actor).pk != old.pk


def test_rotation_survives_microsofts_propagation_delay(
    tenant: Tenant, actor: Actor, org: Organization, settings: Any
) -> None:
    """m365sim's sign-ins see each federation change 2 s late (Microsoft: up to two hours):
    publishing, waiting out Lockstep's propagation time, then promoting fails no sign-in, while
    signing with the next key before it has propagated would have."""
    sp = sp_of(tenant.sim.sim)
    sp.settings.federation_propagation_seconds = 2.0
    settings.FEDERATION_PROPAGATION_MINUTES = 2.5 / 60
    try:
        time.sleep(2.1)  # the federation itself has reached sign-ins
        ada = tenant.users[0]
        old = keys.active_key(org)
        assert saml_result(tenant, ada, old) == "success"
        upcoming = saml.publish_next_key(org, actor=actor)
        assert saml_result(tenant, ada, old) == "success"
        assert saml_result(tenant, ada, upcoming) == "error"  # not propagated yet: why Lockstep waits
        with pytest.raises(Conflict, match="up to two hours"):
            saml.promote_next_key(org, actor=actor)
        time.sleep(2.6)
        assert saml.promote_next_key(org, actor=actor).pk == upcoming.pk
        for _ in range(3):  # across the propagation of the promotion itself
            assert saml_result(tenant, ada, keys.active_key(org)) == "success"
            time.sleep(1.0)
    finally:
        sp.settings.federation_propagation_seconds = 0.0


def test_publish_is_refused_until_a_failed_promote_is_finished(
    tenant: Tenant, actor: Actor, org: Organization
) -> None:
    """A promote that failed for one domain leaves it holding the old key as signingCertificate
    and the active key as next: publishing a new next certificate there would replace the active
    one and fail every sign-in, so it is refused, naming the domain, until the promote finishes."""
    saml.publish_next_key(org, actor=actor)
    failing = tenant.sim.sim.faults.add(
        "status", method="PATCH", path=rf"/domains/{SECOND}/federationConfiguration/", status=400, count=1
    )
    with pytest.raises(MicrosoftRefused):
        saml.promote_next_key(org, actor=actor)
    tenant.sim.sim.faults.remove(failing.id)
    active = keys.active_key(org)
    before = held(tenant, SECOND)
    assert before[1] == keys.certificate_b64(active)
    with pytest.raises(Conflict) as refused:
        saml.publish_next_key(org, actor=actor)
    assert SECOND in refused.value.message and DOMAIN not in refused.value.message
    assert keys.next_key(org) is None and held(tenant, SECOND) == before
    cy = tenant.users[2]
    assert saml_result(tenant, cy, active) == "success"
    saml.promote_next_key(org, actor=actor)  # finish it; then publishing works
    upcoming = saml.publish_next_key(org, actor=actor)
    assert held(tenant, SECOND) == (keys.certificate_b64(active), keys.certificate_b64(upcoming))


def test_publish_sends_the_active_key_as_signing_certificate_too(
    tenant: Tenant, actor: Actor, org: Organization
) -> None:
    """Whatever Microsoft 365 held as signingCertificate, after publishing it holds exactly the
    two keys Lockstep may sign with."""
    old = keys.active_key(org)
    saml.publish_next_key(org, actor=actor)
    saml.promote_next_key(org, actor=actor)
    active = keys.active_key(org)
    tenant.sim.sim.tenant.domains[SECOND].federation["signingCertificate"] = keys.certificate_b64(old)
    upcoming = saml.publish_next_key(org, actor=actor)
    for domain in (DOMAIN, SECOND):
        assert held(tenant, domain) == (keys.certificate_b64(active), keys.certificate_b64(upcoming))


def _race(step: Any, org: Organization, actor: Actor) -> list[object]:
    """Run `step(org, actor=actor)` in two threads at once; each one's result or error."""
    from django.db import connection

    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def run() -> None:
        barrier.wait()
        try:
            outcomes.append(step(org, actor=actor))
        except Exception as error:  # the outcome under test
            outcomes.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return outcomes


def test_concurrent_publish_or_promote_give_one_result_or_a_conflict(
    tenant: Tenant, actor: Actor, org: Organization
) -> None:
    """Two owners (or a double click) at once: one after the other under the organization's
    lock, never an IntegrityError or LookupError (a 500)."""
    published = _race(saml.publish_next_key, org, actor)
    assert all(isinstance(o, SigningKey | Conflict) for o in published), published
    assert SigningKey.objects.filter(organization=org, status=KeyStatus.NEXT).count() == 1
    upcoming = keys.next_key(org)
    assert upcoming is not None
    promoted = _race(saml.promote_next_key, org, actor)
    assert all(isinstance(o, SigningKey | Conflict) for o in promoted), promoted
    assert [o.pk for o in promoted if isinstance(o, SigningKey)] == [upcoming.pk]
    assert keys.active_key(org).pk == upcoming.pk

"""Consent and role assignments granted but not yet in the token: "granted, may take a few minutes".

Rule (graph-facts §9, §12.3): within `CONSENT_PROPAGATION` (15 minutes) of the admin-consent
callback, a token without permissions is "consent granted, not yet in tokens", never a failure;
a User Administrator assignment listed in roleAssignments but absent from the token's `wids` is
"role granted, not yet in tokens".
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from lockstep.directory.actors import Actor
from lockstep.m365.credentials import connection_for
from lockstep.m365.graph.client import GraphClient
from lockstep.m365.models import Health
from lockstep.m365.permissions import REQUIRED_SET
from lockstep.m365.services import directories
from lockstep.m365.verification import CONSENT_PROPAGATION, verify
from lockstep.testing.m365 import directory_fields
from m365sim.state import USER_ADMIN
from m365sim.testing import SimServer

PENDING = "granted, may take a few minutes"


def add(sim: SimServer, actor: Actor, *, consent: bool = True):  # type: ignore[no-untyped-def]
    app = sim.add_app(roles=list(REQUIRED_SET), directory_roles=[USER_ADMIN], consent=consent)
    fields = directory_fields(sim, client_id=app["client_id"], client_secret=app["client_secret"])
    directory, _ = directories.add_directory(actor=actor, fields=fields, verify_now=False)
    return directory, app


def test_verify_soon_after_the_consent_callback_says_granted_not_failed(sim: SimServer, actor: Actor) -> None:
    directory, _ = add(sim, actor, consent=False)  # Microsoft has not put the roles in tokens yet
    report = directories.run_verification(directory)
    assert directory.health == Health.RED and "has not been granted" in report.problems[0]

    directories.record_consent(directory)  # the admin came back from the consent page
    report = directories.run_verification(directory)
    assert report.problems == [] and len(report.pending) == 1 and PENDING in report.pending[0]
    assert directory.health == Health.DEGRADED and PENDING in directory.health_reason
    assert directories.consent_granted_at(directory) is not None  # kept across verifications


def test_consent_pending_ends_after_the_propagation_window(sim: SimServer, actor: Actor) -> None:
    directory, _ = add(sim, actor, consent=False)
    granted = timezone.now()
    with GraphClient(connection_for(directory)) as client:
        just_inside = verify(
            client, "", consent_granted_at=granted, now=granted + CONSENT_PROPAGATION - timedelta(seconds=1)
        )
        at_edge = verify(client, "", consent_granted_at=granted, now=granted + CONSENT_PROPAGATION)
    assert just_inside.pending and not just_inside.problems
    assert not at_edge.pending and "has not been granted" in at_edge.problems[0]


def test_once_consent_reaches_the_token_verify_is_green(sim: SimServer, actor: Actor) -> None:
    directory, app = add(sim, actor, consent=False)
    directories.record_consent(directory)
    sim.set_consent(app["client_id"], True)
    report = directories.run_verification(directory)
    assert report.pending == [] and report.problems == [] and directory.health == Health.OK


@pytest.mark.parametrize("lag", [600, 0])
def test_a_role_assigned_but_not_yet_in_the_token_is_pending(sim: SimServer, actor: Actor, lag: int) -> None:
    sim.update_settings(token_claims_lag_s=lag)
    try:
        directory, _ = add(sim, actor)
        report = directories.run_verification(directory)
    finally:
        sim.update_settings(token_claims_lag_s=0)
    assert report.missing_roles == [] and "User Administrator" in report.roles
    if lag:
        assert [p for p in report.pending if "User Administrator" in p and PENDING in p]
        assert directory.health == Health.DEGRADED and report.problems == []
    else:
        assert report.pending == [] and directory.health == Health.OK


def test_the_consent_callback_is_remembered_and_then_verify_says_pending(
    admin_client: Client, sim: SimServer, actor: Actor
) -> None:
    directory, _ = add(sim, actor, consent=False)
    url = reverse("directories:detail", args=[directory.pk])
    admin_client.get(
        url, {"admin_consent": "True", "state": f"lockstep-directory-{directory.pk}", "tenant": "t"}
    )
    directory.refresh_from_db()
    assert directories.consent_granted_at(directory) is not None
    response = admin_client.post(reverse("directories:verify", args=[directory.pk]), follow=True)
    assert PENDING in response.content.decode()
    directory.refresh_from_db()
    assert directory.health == Health.DEGRADED

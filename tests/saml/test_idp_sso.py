"""SP-initiated sign-in end to end over both bindings: m365sim builds the AuthnRequest, Lockstep
checks it, the user signs in to the User Portal, and the auto-posted SAMLResponse is accepted by
m365sim's /login.srf (python3-saml strict). Also the audit rows and the MFA claim."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from tests.saml.idp_support import (
    World,
    autopost_fields,
    build_world,
    enrol_totp,
    follow_to_form,
    next_code,
    post_to_sim,
    send,
    sim_result,
    start_at_sim,
)

from lockstep.directory.actors import Actor
from lockstep.directory.models import AuditEvent, Organization
from lockstep.saml.models import AnsweredRequest

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(org: Organization, actor: Actor, sim: Any, settings: Any) -> World:
    return build_world(org, actor, sim, settings)


@pytest.mark.parametrize(
    ("binding", "signed"), [("redirect", False), ("redirect", True), ("post", False), ("post", True)]
)
def test_a_sign_in_started_at_microsoft_ends_signed_in_there(
    world: World, binding: str, signed: bool
) -> None:
    client = Client()
    relay = f"{world.sim.login_base_url}/landing?x=1&y=2"  # Microsoft's own host: allowed
    method, path, fields = start_at_sim(world, binding=binding, signed=signed, relay=relay)
    first = send(client, method, path, fields)
    assert first.status_code == 303, first.content
    page = follow_to_form(client, first)
    assert page.status_code == 200, page.content
    action, posted = autopost_fields(page)
    assert action == world.sim.login_base_url + "/login.srf"
    assert posted["RelayState"] == relay  # unchanged
    csp = page["Content-Security-Policy"]
    assert f"form-action {world.sim.login_base_url}" in csp and "script-src 'self'" in csp
    result = sim_result(post_to_sim(world, action, posted))
    assert result["result"] == "success", result
    assert result["upn"] == world.account["userPrincipalName"]
    assert result["mfa"] == "false"
    assert AnsweredRequest.objects.filter(organization=world.org).count() == 1
    issued = AuditEvent.objects.get(action="saml.sign_in.issued")
    assert issued.target_id == str(world.user.pk)
    assert issued.after["signed_request"] is signed
    assert issued.after["binding"] == binding and issued.after["upn"] == world.account["userPrincipalName"]


def test_the_mfa_claim_is_sent_only_after_the_totp_step(world: World) -> None:
    plain = Client()
    page = follow_to_form(plain, send(plain, *start_at_sim(world)))
    assert sim_result(post_to_sim(world, *autopost_fields(page)))["mfa"] == "false"

    secret = enrol_totp(world.user)
    strong = Client()
    page = follow_to_form(strong, send(strong, *start_at_sim(world)), code=next_code(world.user, secret))
    assert page.status_code == 200, page.content
    result = sim_result(post_to_sim(world, *autopost_fields(page)))
    assert result["result"] == "success" and result["mfa"] == "true"


def test_a_signed_in_user_goes_straight_to_microsoft(world: World) -> None:
    client = Client()
    follow_to_form(client, send(client, *start_at_sim(world)))
    second = send(client, *start_at_sim(world))
    page = client.get(second["Location"])
    assert page.status_code == 200
    assert sim_result(post_to_sim(world, *autopost_fields(page)))["result"] == "success"


def test_idp_initiated_sign_in_from_the_portal_home(world: World) -> None:
    client = Client()
    from tests.saml.idp_support import portal_login

    assert portal_login(client, "adele").status_code == 302
    home = client.get("/portal/")
    start = f"/saml/{world.org.slug}/contoso.com/start"
    assert start.encode() in home.content and b"Sign in to Microsoft 365 as" in home.content
    page = client.post(start)
    assert page.status_code == 200, page.content
    action, posted = autopost_fields(page)
    assert "RelayState" not in posted
    answer = post_to_sim(world, action, posted)
    assert sim_result(answer)["result"] == "success", answer.text
    assert AuditEvent.objects.get(action="saml.sign_in.issued").after["binding"] == "idp-initiated"


def test_the_start_button_is_only_for_users_who_may_sign_in_and_needs_csrf(
    world: World, actor: Actor
) -> None:
    from tests.saml.idp_support import make_user, portal_login

    make_user(actor, "ursula")  # not bound to the directory
    outsider = Client()
    assert portal_login(outsider, "ursula").status_code == 302
    assert b"Sign in to Microsoft 365 as" not in outsider.get("/portal/").content
    start = f"/saml/{world.org.slug}/contoso.com/start"
    assert outsider.post(start).status_code == 403  # the decision refuses her all the same

    signed_in = Client()
    assert portal_login(signed_in, "adele").status_code == 302
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = signed_in.cookies
    assert strict.post(start).status_code == 403  # no CSRF token
    assert strict.get(start).status_code == 405
    assert Client().post(start)["Location"].startswith("/portal/login/")
    assert not AuditEvent.objects.filter(action="saml.sign_in.issued").exists()

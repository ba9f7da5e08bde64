"""Every AuthnRequest that must be refused is, with a reason and an audit row: unsigned or
tampered when signing is required, an unknown SP, a foreign ACS, a replayed id, a DTD or external
entity, oversized input, a RelayState leading elsewhere; and the users who get no assertion."""

from __future__ import annotations

import base64
import datetime as dt
import zlib
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from tests.saml.idp_support import (
    World,
    bind,
    build_world,
    follow_to_form,
    make_user,
    portal_login,
    send,
    start_at_sim,
)

from lockstep.directory.actors import Actor
from lockstep.directory.models import AuditEvent, Organization, User, UserState
from lockstep.directory.services import organizations
from lockstep.m365.models import UserBinding
from lockstep.saml.xml_input import MAX_ENCODED_CHARS

pytestmark = pytest.mark.django_db(transaction=True)
SP = "urn:federation:MicrosoftOnline"


@pytest.fixture
def world(org: Organization, actor: Actor, sim: Any, settings: Any) -> World:
    return build_world(org, actor, sim, settings)


@pytest.fixture
def strict_world(org: Organization, actor: Actor, sim: Any, settings: Any) -> World:
    return build_world(org, actor, sim, settings, signed_required=True)


def authn_xml(
    *,
    issuer: str = SP,
    acs: str | None = None,
    request_id: str = "_r1",
    head: str = "",
    body: str = "",
    instant: dt.datetime | None = None,
    destination: str | None = None,
) -> str:
    now = (instant or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%S.1839884Z")
    acs_attribute = f' AssertionConsumerServiceURL="{acs}"' if acs else ""
    acs_attribute += f' Destination="{destination}"' if destination else ""
    return (
        f'{head}<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="{request_id}" '
        f'Version="2.0" IssueInstant="{now}"{acs_attribute}>'
        f'<saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">{issuer}</saml:Issuer>{body}'
        "</samlp:AuthnRequest>"
    )


def redirect_query(xml: str, relay: str | None = None) -> str:
    deflated = zlib.compress(xml.encode())[2:-4]
    params = {"SAMLRequest": base64.b64encode(deflated).decode()}
    if relay is not None:
        params["RelayState"] = relay
    return urlencode(params)


def refused(response: Any, reason: str, status: int = 400) -> None:
    assert response.status_code == status, response.content
    assert f'data-reason="{reason}"'.encode() in response.content, response.content


def refusal_rows(reason: str) -> list[AuditEvent]:
    rows = AuditEvent.objects.filter(action="saml.sign_in.refused")
    return [row for row in rows if (row.after or {}).get("reason") == reason]


# ----- the request ----------------------------------------------------------------------------------


@pytest.mark.parametrize("binding", ["redirect", "post"])
def test_an_unsigned_request_is_refused_when_signing_is_required(strict_world: World, binding: str) -> None:
    method, path, fields = start_at_sim(strict_world, binding=binding, signed=False)
    refused(send(Client(), method, path, fields), "unsigned")
    assert len(refusal_rows("unsigned")) == 1


def test_a_tampered_redirect_request_is_refused(strict_world: World) -> None:
    _, path, _ = start_at_sim(strict_world, binding="redirect", signed=True, relay="abc")
    assert "RelayState=abc" in path
    refused(Client().get(path.replace("RelayState=abc", "RelayState=abd")), "signature")
    assert refusal_rows("signature")


def test_a_tampered_post_request_is_refused(strict_world: World) -> None:
    _, path, fields = start_at_sim(strict_world, binding="post", signed=True)
    xml = base64.b64decode(fields["SAMLRequest"]).replace(b"persistent", b"transient")
    fields["SAMLRequest"] = base64.b64encode(xml).decode()
    refused(Client().post(path, fields), "signature")


def test_a_signature_is_checked_even_when_not_required(world: World) -> None:
    _, path, _ = start_at_sim(world, binding="redirect", signed=True, relay="abc")
    refused(Client().get(path.replace("RelayState=abc", "RelayState=abd")), "signature")
    assert Client().get(path).status_code == 303


def test_without_microsofts_certificate_a_required_signature_cannot_pass(
    strict_world: World, settings: Any
) -> None:
    settings.TRUSTED_CA_FILE = ""  # m365sim's certificate is no longer trusted: no SP metadata
    _, path, _ = start_at_sim(strict_world, binding="redirect", signed=True)
    refused(Client().get(path), "no_certificate")


def test_signed_requests_pass_when_signing_is_required(strict_world: World) -> None:
    client = Client()
    for binding in ("redirect", "post"):
        page = follow_to_form(client, send(client, *start_at_sim(strict_world, binding=binding, signed=True)))
        assert page.status_code == 200, page.content


def test_a_request_from_an_unknown_sp_is_refused(world: World) -> None:
    refused(
        Client().get(f"{world.sso_path}?{redirect_query(authn_xml(issuer='https://sp.evil.example'))}"),
        "unknown_sp",
    )


def test_a_foreign_acs_url_is_refused_and_microsofts_own_passes(world: World) -> None:
    evil = authn_xml(acs="https://evil.example/login.srf")
    refused(Client().get(f"{world.sso_path}?{redirect_query(evil)}"), "foreign_acs")
    own = authn_xml(acs=world.sim.login_base_url + "/login.srf", request_id="_r2")
    assert Client().get(f"{world.sso_path}?{redirect_query(own)}").status_code == 303


def test_an_old_request_or_one_for_another_destination_is_refused(world: World) -> None:
    old = authn_xml(instant=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=14))
    refused(Client().get(f"{world.sso_path}?{redirect_query(old)}"), "expired")
    recent = authn_xml(instant=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=9), request_id="_r3")
    assert Client().get(f"{world.sso_path}?{redirect_query(recent)}").status_code == 303
    elsewhere = authn_xml(destination="https://idp.evil.example/sso", request_id="_r4")
    refused(Client().get(f"{world.sso_path}?{redirect_query(elsewhere)}"), "destination")


def test_a_replayed_request_id_is_refused(world: World) -> None:
    client = Client()
    method, path, fields = start_at_sim(world)
    first = send(client, method, path, fields)
    assert follow_to_form(client, first).status_code == 200
    refused(send(client, method, path, fields), "replay")  # the same request again
    refused(client.get(first["Location"]), "replay")  # or its continuation
    assert len(refusal_rows("replay")) == 2


DTD = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]>'


@pytest.mark.parametrize("binding", ["redirect", "post"])
def test_external_entities_and_dtds_are_refused(world: World, binding: str) -> None:
    xml = authn_xml(head=DTD, issuer="&e;")
    if binding == "redirect":
        response = Client().get(f"{world.sso_path}?{redirect_query(xml)}")
    else:
        response = Client().post(world.sso_path, {"SAMLRequest": base64.b64encode(xml.encode()).decode()})
    refused(response, "dtd")
    plain_dtd = authn_xml(head="<!DOCTYPE samlp:AuthnRequest [<!ELEMENT a ANY>]>")
    refused(Client().get(f"{world.sso_path}?{redirect_query(plain_dtd)}"), "dtd")


def _padded_post(size: int) -> str:
    """A base64 SAMLRequest of exactly `size` characters (a multiple of 4) around a valid request."""
    xml = authn_xml(request_id=f"_pad{size}")
    padding = size // 4 * 3 - len(xml.encode()) - len("<!---->")
    return base64.b64encode(
        xml.replace("</samlp:AuthnRequest>", f"<!--{'x' * padding}--></samlp:AuthnRequest>").encode()
    ).decode()


def test_oversized_input_is_refused_at_one_past_the_limit(world: World) -> None:
    at_limit = _padded_post(MAX_ENCODED_CHARS)
    assert len(at_limit) == MAX_ENCODED_CHARS
    assert Client().post(world.sso_path, {"SAMLRequest": at_limit}).status_code == 303
    refused(Client().post(world.sso_path, {"SAMLRequest": at_limit + "A"}), "too_large")


def test_a_deflate_bomb_is_refused(world: World) -> None:
    bomb = authn_xml(body="<!--" + "x" * 200_000 + "-->")
    assert len(redirect_query(bomb)) < MAX_ENCODED_CHARS  # small on the wire, huge inflated
    refused(Client().get(f"{world.sso_path}?{redirect_query(bomb)}"), "too_large")


@pytest.mark.parametrize(
    "relay", ["https://evil.example/steal", "//evil.example/x", "javascript:alert(1)", "x" * 2049]
)
def test_a_relay_state_leading_elsewhere_is_refused(world: World, relay: str) -> None:
    _, path, _ = start_at_sim(world, relay=relay)
    refused(Client().get(path), "relay_state")


@pytest.mark.parametrize(
    "relay", ["a\\b", "\\\\evil.example/x", "ctx\x01", "ctx\nLocation: x", "ctx\x7f", "ctx\x85"]
)
def test_a_relay_state_with_backslashes_or_control_characters_is_refused(world: World, relay: str) -> None:
    refused(Client().get(f"{world.sso_path}?{redirect_query(authn_xml(), relay)}"), "relay_state")


def test_an_absolute_relay_state_must_be_https_to_microsofts_login_host(world: World) -> None:
    login = world.sim.login_base_url
    assert login.startswith("https://")
    host = login.removeprefix("https://")
    for n, relay in enumerate([f"http://{host}/x", f"//{host}/x", f"https://{host}.evil.example/x"]):
        xml = authn_xml(request_id=f"_rs{n}")
        refused(Client().get(f"{world.sso_path}?{redirect_query(xml, relay)}"), "relay_state")
    allowed = redirect_query(authn_xml(request_id="_rs_ok"), f"{login}/landing?x=1")
    assert Client().get(f"{world.sso_path}?{allowed}").status_code == 303


def test_an_opaque_relay_state_passes_unchanged(world: World) -> None:
    client = Client()
    page = follow_to_form(client, send(client, *start_at_sim(world, relay="ctx=a+b/c%20d")))
    assert b'name="RelayState" value="ctx=a+b/c%20d"' in page.content


def test_a_domain_that_is_not_federated_has_no_sign_in(world: World) -> None:
    assert (
        Client().get(f"/saml/{world.org.slug}/fabrikam.com/sso?{redirect_query(authn_xml())}").status_code
        == 404
    )


# ----- the user -------------------------------------------------------------------------------------


def _sign_in_as(world: World, login: str) -> Any:
    client = Client()
    assert portal_login(client, login).status_code == 302
    return client, follow_to_form(client, send(client, *start_at_sim(world)), login=login)


def test_a_suspended_user_is_refused(world: World, actor: Actor) -> None:
    client = Client()
    assert portal_login(client, "adele").status_code == 302
    from lockstep.directory.services import users

    users.change_state(actor=actor, user_id=world.user.pk, to_state=UserState.SUSPENDED)
    page = follow_to_form(client, send(client, *start_at_sim(world)))
    refused(page, "suspended", 403)
    assert b"suspended" in page.content
    row = AuditEvent.objects.get(action="saml.sign_in.refused")
    assert row.target_id == str(world.user.pk) and row.after["reason"] == "suspended"


def test_a_user_outside_the_domain_is_refused(world: World, actor: Actor) -> None:
    other = make_user(actor, "fabian")
    account = next(
        u for u in world.sim.sim.tenant.users.values() if u["userPrincipalName"].endswith("@fabrikam.com")
    )
    bind(world.directory, other, account, world.sim)
    _, page = _sign_in_as(world, "fabian")
    refused(page, "other_domain", 403)
    assert AuditEvent.objects.get(action="saml.sign_in.refused").after["reason"] == "other_domain"


def test_an_unbound_user_is_refused(world: World, actor: Actor) -> None:
    make_user(actor, "ursula")
    _, page = _sign_in_as(world, "ursula")
    refused(page, "unbound", 403)
    UserBinding.objects.filter(user=world.user).update(unbound=True)
    _, page = _sign_in_as(world, "adele")
    refused(page, "unbound", 403)


def test_a_user_of_another_organization_is_refused(world: World) -> None:
    other_org = organizations.create_organization(name="Fabrikam Inc")
    from lockstep.directory.models import Administrator

    owner = Administrator.objects.filter(organization=other_org).first()
    other_actor = Actor.for_admin(owner) if owner else Actor.system(other_org.pk)
    make_user(other_actor, "otto")
    _, page = _sign_in_as(world, "otto")
    refused(page, "other_organization", 403)
    row = AuditEvent.objects.get(action="saml.sign_in.refused")
    assert row.organization_id == world.org.pk and row.target_label == ""


def test_no_assertion_was_issued_in_any_refusal(world: World, actor: Actor) -> None:
    make_user(actor, "ursula")
    _sign_in_as(world, "ursula")
    assert not AuditEvent.objects.filter(action="saml.sign_in.issued").exists()
    assert User.objects.count() == 2

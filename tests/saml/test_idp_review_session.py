"""Security review fixes around the user's session: ForceAuthn makes a signed-in user sign in
again, IsPassive never shows a sign-in page (Microsoft gets Responder/NoPassive), an unsigned
LogoutRequest must name the signed-in user, and a LogoutRequest id ends a session once."""

from __future__ import annotations

import base64
import datetime as dt
import time
import zlib
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from lxml import etree
from signxml import XMLVerifier
from tests.saml.idp_support import World, autopost_fields, build_world, follow_to_form, portal_login

from lockstep.directory.actors import Actor
from lockstep.directory.models import AuditEvent, Organization
from lockstep.saml import endpoints, keys

pytestmark = pytest.mark.django_db(transaction=True)
SAMLP = "{urn:oasis:names:tc:SAML:2.0:protocol}"
SAML = "{urn:oasis:names:tc:SAML:2.0:assertion}"


@pytest.fixture
def world(org: Organization, actor: Actor, sim: Any, settings: Any) -> World:
    return build_world(org, actor, sim, settings)


def _deflated(xml: str) -> str:
    return base64.b64encode(zlib.compress(xml.encode())[2:-4]).decode()


def authn_query(request_id: str, attributes: str = "") -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    xml = (
        f'<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="{request_id}" '
        f'Version="2.0" IssueInstant="{now}" {attributes}>'
        '<saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">urn:federation:MicrosoftOnline</saml:Issuer>'
        "</samlp:AuthnRequest>"
    )
    return urlencode({"SAMLRequest": _deflated(xml)})


def logout_query(request_id: str, name_id: str) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    xml = (
        '<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        f'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{request_id}" Version="2.0" IssueInstant="{now}">'
        "<saml:Issuer>urn:federation:MicrosoftOnline</saml:Issuer>"
        f'<saml:NameID Format="{endpoints.PERSISTENT}">{name_id}</saml:NameID>'
        "</samlp:LogoutRequest>"
    )
    return urlencode({"SAMLRequest": _deflated(xml), "RelayState": "bye"})


def _response(page: Any, world: World) -> etree._Element:
    _, fields = autopost_fields(page)
    xml = base64.b64decode(fields["SAMLResponse"])
    signed = XMLVerifier().verify(xml, x509_cert=keys.active_key(world.org).certificate_pem).signed_xml
    assert isinstance(signed, etree._Element)
    return signed


def _signed_in_a_moment_ago(client: Client) -> dt.datetime:
    """Signed in, then more than a second passes (AuthnInstant has whole seconds); the time after."""
    assert portal_login(client, "adele").status_code == 302
    time.sleep(1.2)
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _authn_instant(page: Any, world: World) -> dt.datetime:
    _, fields = autopost_fields(page)
    statement = etree.fromstring(base64.b64decode(fields["SAMLResponse"])).find(f".//{SAML}AuthnStatement")
    assert statement is not None
    return dt.datetime.fromisoformat(statement.get("AuthnInstant", ""))


def test_force_authn_makes_a_signed_in_user_sign_in_again(world: World) -> None:
    client = Client()
    asked_at = _signed_in_a_moment_ago(client)
    query = authn_query("_force", 'ForceAuthn="true"')
    first = client.get(f"{world.sso_path}?{query}")
    assert first.status_code == 303
    to_login = client.get(first["Location"])
    assert to_login.status_code == 302 and to_login["Location"].startswith("/portal/login/?")
    page = follow_to_form(client, to_login)
    assert _authn_instant(page, world) >= asked_at


def test_without_force_authn_the_earlier_sign_in_counts(world: World) -> None:
    client = Client()
    asked_at = _signed_in_a_moment_ago(client)
    query = authn_query("_plain", 'ForceAuthn="false"')
    first = client.get(f"{world.sso_path}?{query}")
    page = client.get(first["Location"])
    assert page.status_code == 200
    assert _authn_instant(page, world) < asked_at


def test_is_passive_without_a_session_answers_no_passive(world: World) -> None:
    client = Client()
    query = authn_query("_passive", 'IsPassive="true"')
    first = client.get(f"{world.sso_path}?{query}")
    page = client.get(first["Location"])
    assert page.status_code == 200, page["Location"] if page.status_code == 302 else page.content
    assert autopost_fields(page)[0] == world.sim.login_base_url + "/login.srf"
    response = _response(page, world)
    assert response.get("InResponseTo") == "_passive"
    codes = [code.get("Value") for code in response.iter(f"{SAMLP}StatusCode")]
    assert codes == [
        "urn:oasis:names:tc:SAML:2.0:status:Responder",
        "urn:oasis:names:tc:SAML:2.0:status:NoPassive",
    ]
    assert response.find(f"{SAML}Assertion") is None


def test_is_passive_with_a_session_signs_in_without_a_page(world: World) -> None:
    client = Client()
    assert portal_login(client, "adele").status_code == 302
    query = authn_query("_passive2", 'IsPassive="1"')
    first = client.get(f"{world.sso_path}?{query}")
    page = client.get(first["Location"])
    assert _authn_instant(page, world) <= dt.datetime.now(dt.UTC)  # an assertion, no page


def test_an_unsigned_logout_request_for_another_user_keeps_the_session(world: World) -> None:
    client = Client()
    assert portal_login(client, "adele").status_code == 302
    first = client.get(f"{world.sso_path.replace('/sso', '/slo')}?{logout_query('_o1', 'someone-else')}")
    page = client.get(first["Location"])
    assert page.status_code == 400 and b'data-reason="other_user"' in page.content
    assert client.get("/portal/").status_code == 200
    rows = AuditEvent.objects.filter(action="saml.sign_in.refused")
    assert [row.after["reason"] for row in rows] == ["other_user"]


def test_a_replayed_logout_request_is_refused(world: World) -> None:
    slo = world.sso_path.replace("/sso", "/slo")
    query = logout_query("_o2", world.user.immutable_id)
    client = Client()
    assert portal_login(client, "adele").status_code == 302
    first = client.get(f"{slo}?{query}")
    assert client.get(first["Location"]).status_code == 200
    assert client.get("/portal/").status_code == 302  # signed out
    assert portal_login(client, "adele").status_code == 302
    again = client.get(f"{slo}?{query}")
    assert again.status_code == 400 and b'data-reason="replay"' in again.content
    replayed = client.get(first["Location"])  # or its continuation
    assert replayed.status_code == 400 and b'data-reason="replay"' in replayed.content
    assert client.get("/portal/").status_code == 200

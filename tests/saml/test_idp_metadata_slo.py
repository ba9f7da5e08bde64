"""The IdP metadata (read back by python3-saml's metadata parser) and sign-out."""

from __future__ import annotations

import base64
import datetime as dt
import re
import zlib
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from lxml import etree
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from signxml import XMLVerifier
from tests.saml.idp_support import World, autopost_fields, build_world, portal_login

from lockstep.directory.actors import Actor
from lockstep.directory.models import Organization
from lockstep.m365.models import Directory, DirectoryDomain
from lockstep.saml import endpoints, keys
from lockstep.saml.models import DomainFederation, SigningKey

MD = "{urn:oasis:names:tc:SAML:2.0:metadata}"


@pytest.mark.django_db
def test_metadata_of_a_domain_not_yet_federated(org: Organization, actor: Actor, settings: Any) -> None:
    settings.BASE_URL = "https://lockstep.example"
    directory = Directory.objects.create(
        organization=org, name="Contoso 365", tenant_id="t", client_id="c", credential_kind="secret"
    )
    DirectoryDomain.objects.create(directory=directory, name="contoso.com", is_verified=True)
    assert Client().get(f"/saml/{org.slug}/contoso.com/metadata").status_code == 404  # no key yet
    assert not SigningKey.objects.exists()  # and a GET made none
    upcoming = keys.create_next_key(org, actor=actor)
    response = Client().get(f"/saml/{org.slug}/Contoso.com/metadata")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/samlmetadata+xml"
    parsed = OneLogin_Saml2_IdPMetadataParser.parse(response.content.decode())["idp"]
    assert parsed["entityId"] == endpoints.issuer_uri(org, "contoso.com")
    assert parsed["singleSignOnService"]["url"] == f"https://lockstep.example/saml/{org.slug}/contoso.com/sso"
    assert parsed["singleLogoutService"]["url"] == f"https://lockstep.example/saml/{org.slug}/contoso.com/slo"
    published = parsed["x509certMulti"]["signing"]
    assert published == [keys.certificate_b64(keys.active_key(org)), keys.certificate_b64(upcoming)]
    root = etree.fromstring(response.content)
    descriptor = root.find(f"{MD}IDPSSODescriptor")
    assert descriptor is not None
    bindings = {
        s.get("Binding", "").rsplit(":", 1)[1] for s in descriptor.findall(f"{MD}SingleSignOnService")
    }
    assert bindings == {"HTTP-Redirect", "HTTP-POST"}
    assert [n.text for n in descriptor.findall(f"{MD}NameIDFormat")] == [endpoints.PERSISTENT]
    assert all(k.get("use") == "signing" for k in descriptor.findall(f"{MD}KeyDescriptor"))


@pytest.mark.django_db(transaction=True)
def test_metadata_keeps_the_stored_issuer_of_a_federated_domain(
    org: Organization, actor: Actor, sim: Any, settings: Any
) -> None:
    world = build_world(org, actor, sim, settings)
    DomainFederation.objects.filter(pk=world.federation.pk).update(issuer_uri="https://old.example/issuer")
    response = Client().get(f"/saml/{org.slug}/contoso.com/metadata")
    assert etree.fromstring(response.content).get("entityID") == "https://old.example/issuer"
    assert Client().get(f"/saml/{org.slug}/not_a_domain/metadata").status_code == 404
    unknown_org = Client().get("/saml/no-such-org/contoso.com/metadata")
    assert unknown_org.status_code == 404
    unknown_domain = Client().get(f"/saml/{org.slug}/evil-example.com/metadata")
    assert unknown_domain.status_code == 404 and unknown_domain.content == unknown_org.content
    # a domain known only as the domain of a bound account's UPN is served too
    world.binding.remote_upn = "adele@bound-only.example"
    world.binding.save()
    assert Client().get(f"/saml/{org.slug}/bound-only.example/metadata").status_code == 200


def _logout_query(world: World) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    xml = (
        '<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        f'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_out1" Version="2.0" IssueInstant="{now}">'
        "<saml:Issuer>urn:federation:MicrosoftOnline</saml:Issuer>"
        f'<saml:NameID Format="{endpoints.PERSISTENT}">{world.user.immutable_id}</saml:NameID>'
        "</samlp:LogoutRequest>"
    )
    deflated = base64.b64encode(zlib.compress(xml.encode())[2:-4]).decode()
    return urlencode({"SAMLRequest": deflated, "RelayState": "bye"})


@pytest.mark.django_db(transaction=True)
def test_a_logout_request_ends_the_portal_session_and_is_answered(
    org: Organization, actor: Actor, sim: Any, settings: Any
) -> None:
    world = build_world(org, actor, sim, settings)
    client = Client()
    assert portal_login(client, "adele").status_code == 302
    assert client.get("/portal/").status_code == 200
    first = client.get(f"/saml/{org.slug}/contoso.com/slo?{_logout_query(world)}")
    assert first.status_code == 303
    page = client.get(first["Location"])
    assert page.status_code == 200, page.content
    action, fields = autopost_fields(page)
    assert action == sim.login_base_url + "/login.srf" and fields["RelayState"] == "bye"
    xml = base64.b64decode(fields["SAMLResponse"])
    signed = XMLVerifier().verify(xml, x509_cert=keys.active_key(org).certificate_pem).signed_xml
    assert signed is not None and signed.get("InResponseTo") == "_out1"
    assert client.get("/portal/").status_code == 302  # signed out


@pytest.mark.django_db(transaction=True)
def test_sign_out_without_a_request_asks_first_and_needs_csrf(
    org: Organization, actor: Actor, sim: Any, settings: Any
) -> None:
    build_world(org, actor, sim, settings)
    client = Client()
    assert portal_login(client, "adele").status_code == 302
    client.handler.enforce_csrf_checks = True
    page = client.get(f"/saml/{org.slug}/contoso.com/slo")  # a cross-site link, say
    assert page.status_code == 200 and b"Sign out of Lockstep?" in page.content
    assert client.get("/portal/").status_code == 200  # still signed in
    assert client.post(f"/saml/{org.slug}/contoso.com/slo").status_code == 403  # no CSRF token
    assert client.get("/portal/").status_code == 200
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content)
    assert token is not None
    done = client.post(f"/saml/{org.slug}/contoso.com/slo", {"csrfmiddlewaretoken": token.group(1).decode()})
    assert done.status_code == 200 and b"You are signed out" in done.content
    assert client.get("/portal/").status_code == 302


@pytest.mark.django_db(transaction=True)
def test_a_posted_logout_request_is_carried_to_a_get_before_the_session_ends(
    org: Organization, actor: Actor, sim: Any, settings: Any
) -> None:
    world = build_world(org, actor, sim, settings)
    client = Client()
    assert portal_login(client, "adele").status_code == 302
    query = dict(part.split("=", 1) for part in _logout_query(world).split("&"))
    from urllib.parse import unquote

    xml = zlib.decompress(base64.b64decode(unquote(query["SAMLRequest"])), -15)
    first = client.post(f"/saml/{org.slug}/contoso.com/slo", {"SAMLRequest": base64.b64encode(xml).decode()})
    assert first.status_code == 303
    assert client.get("/portal/").status_code == 200  # the POST itself ended nothing
    page = client.get(first["Location"])
    assert autopost_fields(page)[0] == sim.login_base_url + "/login.srf"
    assert client.get("/portal/").status_code == 302

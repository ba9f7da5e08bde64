"""Security review fixes on the way a request comes in: the Redirect binding's fields come from the
query its signature covers (no second spelling of a name), a bad signature cannot force a metadata
download every time, and anonymous refusals cannot flood the audit log."""

from __future__ import annotations

import base64
import datetime as dt
import zlib
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from django.test import Client
from tests.saml.idp_support import World, build_world, portal_login, start_at_sim

from lockstep.directory.actors import Actor
from lockstep.directory.models import AuditEvent, Organization
from lockstep.saml import sp_certificates

pytestmark = pytest.mark.django_db(transaction=True)
SP = "urn:federation:MicrosoftOnline"


@pytest.fixture
def world(org: Organization, actor: Actor, sim: Any, settings: Any) -> World:
    return build_world(org, actor, sim, settings)


def unsigned_request(request_id: str, issuer: str = SP) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    xml = (
        f'<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="{request_id}" '
        f'Version="2.0" IssueInstant="{now}">'
        f'<saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">{issuer}</saml:Issuer>'
        "</samlp:AuthnRequest>"
    )
    return base64.b64encode(zlib.compress(xml.encode())[2:-4]).decode()


def refused(response: Any, reason: str, status: int = 400) -> None:
    assert response.status_code == status, response.content
    assert f'data-reason="{reason}"'.encode() in response.content, response.content


def test_a_percent_encoded_second_saml_request_is_refused(world: World) -> None:
    _, path, _ = start_at_sim(world, signed=True, relay="abc")
    assert "Signature=" in path
    assert Client().get(path).status_code == 303  # as signed, it passes
    forged = quote(unsigned_request("_forged"), safe="")
    refused(Client().get(f"{path}&SAML%52equest={forged}"), "malformed")
    refused(Client().get(f"{path}&SAMLRequest={forged}"), "malformed")


def test_a_percent_encoded_second_relay_state_is_refused(world: World) -> None:
    _, path, _ = start_at_sim(world, signed=True, relay="abc")
    refused(Client().get(f"{path}&Relay%53tate=swapped"), "malformed")
    refused(Client().get(f"{path}&Sig%41lg=x"), "malformed")


def test_a_bad_signature_forces_at_most_one_metadata_download(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    downloads: list[str] = []
    real = sp_certificates._download

    def counted(url: str) -> bytes:
        downloads.append(url)
        return real(url)

    monkeypatch.setattr(sp_certificates, "_download", counted)
    _, path, _ = start_at_sim(world, signed=True, relay="abc")
    for _ in range(4):
        refused(Client().get(path.replace("RelayState=abc", "RelayState=abd")), "signature")
    assert len(downloads) == 2  # the first fetch, and one forced refresh in REFRESH_SECONDS


def _rows(reason: str) -> int:
    return sum(
        1
        for row in AuditEvent.objects.filter(action="saml.sign_in.refused")
        if (row.after or {}).get("reason") == reason
    )


def test_anonymous_refusals_are_audited_once_per_reason_and_address(world: World) -> None:
    def ask(request_id: str, address: str = "198.51.100.7", client: Client | None = None) -> None:
        query = urlencode({"SAMLRequest": unsigned_request(request_id, issuer="https://sp.evil.example")})
        response = (client or Client()).get(f"{world.sso_path}?{query}", REMOTE_ADDR=address)
        refused(response, "unknown_sp")

    for n in range(5):
        ask(f"_a{n}")
    assert _rows("unknown_sp") == 1
    ask("_b1", address="198.51.100.8")  # another address
    assert _rows("unknown_sp") == 2
    refused(Client().get(f"{world.sso_path}?SAMLRequest=%%%", REMOTE_ADDR="198.51.100.7"), "malformed")
    assert _rows("malformed") == 1  # another reason
    signed_in = Client()
    assert portal_login(signed_in, "adele").status_code == 302
    ask("_c1", client=signed_in)
    ask("_c2", client=signed_in)
    assert _rows("unknown_sp") == 4  # someone is signed in: every refusal counts

"""Tokens through msal against m365sim's real token endpoint (secret and certificate), and the
classification of real login and consent failures."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from lockstep.m365.graph import errors as e
from lockstep.m365.graph.client import GraphClient
from lockstep.m365.graph.connection import CertificateCredential

from .test_auth_unit import make_cert

PERMISSIONS = ["User.ReadWrite.All", "Group.ReadWrite.All", "Directory.Read.All"]


def test_secret_token_is_fetched_once_and_cached(graph: GraphClient) -> None:
    assert len(list(graph.list_users(select=["id"]))) > 40
    graph.list_domains()
    assert graph.tokens.tokens_fetched == 1  # type: ignore[attr-defined]
    assert graph.stats.http_requests == 2


def test_certificate_with_sha256_thumbprint(sim: Any, make_client: Callable[..., GraphClient]) -> None:
    cert_pem, key_pem = make_cert()
    sim.add_certificate(sim.client_id, cert_pem)
    client = make_client(certificate=CertificateCredential(private_key_pem=key_pem, certificate_pem=cert_pem))
    assert (
        client.get_user("admin@contoso.onmicrosoft.com")["userPrincipalName"]
        == "admin@contoso.onmicrosoft.com"
    )


def test_certificate_with_sha1_thumbprint_only(sim: Any, make_client: Callable[..., GraphClient]) -> None:
    cert_pem, key_pem = make_cert()
    sim.add_certificate(sim.client_id, cert_pem)
    sha1 = CertificateCredential(private_key_pem=key_pem, certificate_pem=cert_pem).sha1_hex
    client = make_client(certificate=CertificateCredential(private_key_pem=key_pem, thumbprint_sha1=sha1))
    assert client.list_domains()[0]["id"]


def test_unregistered_certificate_is_rejected(make_client: Callable[..., GraphClient]) -> None:
    cert_pem, key_pem = make_cert()
    client = make_client(certificate=CertificateCredential(private_key_pem=key_pem, certificate_pem=cert_pem))
    with pytest.raises(e.CertificateRejected) as info:
        client.list_domains()
    assert info.value.kind == "fatal" and "certificate" in info.value.plain_words


def test_wrong_secret(make_client: Callable[..., GraphClient]) -> None:
    with pytest.raises(e.InvalidClientSecret) as info:
        make_client(client_secret="wrong").list_domains()
    assert "AADSTS7000215" in info.value.message
    assert "secret" in info.value.plain_words


def test_expired_secret(sim: Any, make_client: Callable[..., GraphClient]) -> None:
    app = sim.add_app(roles=PERMISSIONS, secret_expired=True)
    with pytest.raises(e.ExpiredClientSecret):
        make_client(client_id=app["client_id"], client_secret=app["client_secret"]).list_domains()


def test_unknown_application(make_client: Callable[..., GraphClient]) -> None:
    with pytest.raises(e.UnknownApplication) as info:
        make_client(client_id="11111111-2222-3333-4444-555555555555").list_domains()
    assert "AADSTS700016" in info.value.message


def test_unknown_tenant(make_client: Callable[..., GraphClient]) -> None:
    with pytest.raises(e.UnknownTenant) as info:
        make_client(tenant_id="00000000-0000-0000-0000-00000000dead").list_domains()
    assert info.value.kind == "fatal"


def test_missing_consent_gives_a_token_but_graph_answers_403(
    sim: Any, make_client: Callable[..., GraphClient]
) -> None:
    app = sim.add_app(roles=PERMISSIONS, consent=False)
    client = make_client(client_id=app["client_id"], client_secret=app["client_secret"])
    with pytest.raises(e.AccessDenied) as info:
        list(client.list_users())
    err = info.value
    assert err.status == 403 and err.code == "Authorization_RequestDenied"
    assert isinstance(err, e.FatalForDirectory)
    assert err.request_id and "consent" in err.plain_words


def test_consent_revoked_while_running(sim: Any, graph: GraphClient) -> None:
    graph.list_domains()
    sim.sim.faults.add("consent_revoked", app_id=sim.client_id)
    with pytest.raises(e.AccessDenied):
        graph.list_domains()


def test_login_endpoint_outage_is_transient(sim: Any, make_client: Callable[..., GraphClient]) -> None:
    sim.sim.faults.add("status", path=r"/oauth2/v2\.0/token$", status=503)
    with pytest.raises(e.Transient):
        make_client().list_domains()


def test_ca_file_is_used_even_when_requests_ca_bundle_points_elsewhere(
    monkeypatch: pytest.MonkeyPatch, make_client: Callable[..., GraphClient], tmp_path: Any
) -> None:
    other = tmp_path / "other-ca.pem"
    other.write_text(make_cert()[0])
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other))
    monkeypatch.setenv("SSL_CERT_FILE", str(other))
    assert make_client().list_domains()[0]["id"]


def test_without_the_sim_ca_tls_verification_fails(make_client: Callable[..., GraphClient]) -> None:
    with pytest.raises((e.ConnectionFailed, e.AuthenticationFailed)):
        make_client(ca_file=None).list_domains()


def test_revoked_token_is_refreshed_transparently(sim: Any, graph: GraphClient) -> None:
    graph.list_domains()
    # A new signing key makes every cached token invalid, as a key rollover would.
    from cryptography.hazmat.primitives.asymmetric import rsa

    sim.sim.signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    started = time.monotonic()
    assert graph.list_domains()[0]["id"]
    assert graph.tokens.tokens_fetched == 2  # type: ignore[attr-defined]
    assert time.monotonic() - started < 10


def test_scope_of_another_cloud_is_invalid_scope(make_client: Callable[..., GraphClient]) -> None:
    with pytest.raises(e.InvalidScope) as info:
        make_client(token_scope="https://graph.microsoft.us/.default").list_domains()
    assert "AADSTS70011" in info.value.message

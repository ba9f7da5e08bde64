"""Pieces of token acquisition that need no server (the msal flows run against m365sim)."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from lockstep.m365.graph.auth import _PinnedCASession
from lockstep.m365.graph.connection import CertificateCredential


def make_cert() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lockstep-test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem


def test_ca_file_wins_over_requests_ca_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/wrong.pem")
    session = _PinnedCASession("/tmp/right.pem", timeout=5)
    settings = session.merge_environment_settings("https://login.example/x", {}, None, None, None)
    assert settings["verify"] == "/tmp/right.pem"
    plain = _PinnedCASession(None, timeout=5)
    assert (
        plain.merge_environment_settings("https://x/", {}, None, None, None)["verify"] == "/etc/ssl/wrong.pem"
    )


def test_certificate_credential_shapes() -> None:
    cert_pem, key_pem = make_cert()
    with_cert = CertificateCredential(private_key_pem=key_pem, certificate_pem=cert_pem)
    cred = with_cert.msal_credential()
    assert cred["public_certificate"] == cert_pem and "thumbprint" not in cred
    sha1 = x509.load_pem_x509_certificate(cert_pem.encode()).fingerprint(hashes.SHA1()).hex().upper()
    assert with_cert.sha1_hex == sha1
    only_thumb = CertificateCredential(private_key_pem=key_pem, thumbprint_sha1=sha1.lower())
    assert only_thumb.msal_credential() == {"private_key": key_pem, "thumbprint": sha1}
    assert key_pem not in repr(with_cert)


def test_unreadable_or_mismatched_keys_are_typed_errors() -> None:
    from lockstep.m365.graph import errors as e
    from lockstep.m365.graph.auth import MsalTokenSource
    from lockstep.m365.graph.connection import DirectoryConnection

    cert_pem, _ = make_cert()
    _, other_key = make_cert()

    def source(key: str) -> MsalTokenSource:
        return MsalTokenSource(
            DirectoryConnection(
                tenant_id="t",
                client_id="c",
                certificate=CertificateCredential(private_key_pem=key, certificate_pem=cert_pem),
                login_base_url="https://127.0.0.1:1",
                graph_base_url="https://127.0.0.1:1/v1.0",
            )
        )

    with pytest.raises(e.AuthenticationFailed) as info:
        source("garbage").token()
    assert info.value.code == "invalid_private_key" and info.value.kind == "fatal"
    with pytest.raises(e.CertificateRejected) as mismatch:
        source(other_key).token()
    assert "does not belong" in mismatch.value.plain_words

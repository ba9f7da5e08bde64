"""App credentials: generated certificates, encrypted secrets, and the Graph connection."""

from __future__ import annotations

import base64
import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.conf import settings

from lockstep.directory import crypto
from lockstep.m365.graph.connection import CertificateCredential, DirectoryConnection
from lockstep.m365.models import Cloud, CredentialKind, Directory


def secret_context(directory: Directory, what: str) -> str:
    return f"directory:{directory.pk}:{what}"


COMMON_NAME_BYTES = 64  # X.520 ub-common-name; cryptography counts UTF-8 bytes


def common_name(text: str) -> str:
    """`text` cut to at most 64 UTF-8 bytes, never inside a character (an empty name: "Lockstep")."""
    cut = text.strip().encode("utf-8")[:COMMON_NAME_BYTES].decode("utf-8", "ignore").strip()
    return cut or "Lockstep"


def generate_certificate(subject: str, *, days: int = 730) -> tuple[str, str]:
    """A new RSA-2048 key and a self-signed certificate to upload to the app registration.

    Returns (certificate PEM, private key PEM); the caller encrypts the key at once.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name(subject))])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return cert_pem, key_pem


def certificate_thumbprint(cert_pem: str) -> str:
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    return base64.b16encode(cert.fingerprint(hashes.SHA1())).decode()


def connection_for(directory: Directory) -> DirectoryConnection:
    """Decrypt the directory's credential into a connection (kept in memory only)."""
    secret = None
    certificate = None
    if directory.credential_kind == CredentialKind.SECRET:
        secret = crypto.decrypt(
            directory.client_secret_encrypted, context=secret_context(directory, "secret")
        )
    else:
        key_pem = crypto.decrypt(directory.private_key_encrypted, context=secret_context(directory, "key"))
        certificate = CertificateCredential(
            private_key_pem=key_pem, certificate_pem=directory.certificate_pem
        )
    custom = directory.cloud == Cloud.CUSTOM
    return DirectoryConnection(
        tenant_id=directory.tenant_id,
        client_id=directory.client_id,
        client_secret=secret,
        certificate=certificate,
        cloud=directory.cloud,
        login_base_url=directory.login_base_url if custom else None,
        graph_base_url=directory.graph_base_url if custom else None,
        ca_file=settings.TRUSTED_CA_FILE or None,
    )

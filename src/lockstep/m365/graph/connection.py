"""What the Graph client needs to know about one directory: tenant, app, credential, cloud."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from .clouds import Cloud, resolve_cloud


@dataclass(frozen=True, slots=True)
class CertificateCredential:
    """An app certificate: the private key (PEM) and the certificate and/or its thumbprints.

    With `certificate_pem`, msal computes the SHA-256 thumbprint itself (PS256 assertion, `x5t#S256`).
    With only `thumbprint_sha1` (hex), msal signs RS256 with `x5t` (the older, ADFS-compatible way).
    """

    private_key_pem: str = field(repr=False)
    certificate_pem: str | None = None
    thumbprint_sha1: str | None = None
    passphrase: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.certificate_pem and not self.thumbprint_sha1:
            raise ValueError("a certificate credential needs certificate_pem or thumbprint_sha1")

    @property
    def sha1_hex(self) -> str:
        """The SHA-1 thumbprint (upper-case hex), from the certificate when it is given."""
        if self.certificate_pem:
            cert = x509.load_pem_x509_certificate(self.certificate_pem.encode())
            return cert.fingerprint(hashes.SHA1()).hex().upper()
        return (self.thumbprint_sha1 or "").replace(":", "").upper()

    def msal_credential(self) -> dict[str, str | bool]:
        """msal's `client_credential` dict for this certificate."""
        cred: dict[str, str | bool] = {"private_key": self.private_key_pem}
        if self.passphrase:
            cred["passphrase"] = self.passphrase
        if self.certificate_pem:
            # msal derives the SHA-256 thumbprint from it (and also sends it as the x5c header)
            cred["public_certificate"] = self.certificate_pem
        else:
            cred["thumbprint"] = self.sha1_hex
        return cred


@dataclass(frozen=True, slots=True)
class DirectoryConnection:
    """Everything needed to talk to one tenant. Give exactly one of `client_secret`, `certificate`."""

    tenant_id: str
    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    certificate: CertificateCredential | None = None
    cloud: str = "global"
    login_base_url: str | None = None
    graph_base_url: str | None = None
    token_scope: str | None = None
    ca_file: str | None = None

    def __post_init__(self) -> None:
        if not self.tenant_id or not self.client_id:
            raise ValueError("tenant_id and client_id are required")
        if bool(self.client_secret) == bool(self.certificate):
            raise ValueError("give exactly one of client_secret and certificate")
        self.resolved_cloud()  # validates cloud / URLs early

    def resolved_cloud(self) -> Cloud:
        return resolve_cloud(
            self.cloud,
            login_base_url=self.login_base_url,
            graph_base_url=self.graph_base_url,
            scope=self.token_scope,
        )

    def credential_key(self) -> str:
        """A non-secret key that changes when the credential changes (for token-cache keys)."""
        if self.client_secret:
            return "secret:" + hashlib.sha256(self.client_secret.encode()).hexdigest()[:16]
        assert self.certificate is not None
        return "cert:" + self.certificate.sha1_hex

"""The organization's signing keys: generated here, the private key encrypted at rest.

Rotation with overlap (SPEC 6): `create_next_key` makes a NEXT key, which the federation
service publishes to every federated domain as `nextSigningCertificate` (Microsoft then accepts
either certificate); `promote_next_key` makes it ACTIVE (it signs from then on) and retires the
old one. The federation service then publishes the new key as `signingCertificate`.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.db import IntegrityError, transaction
from django.utils import timezone

from lockstep.directory import crypto
from lockstep.directory.actors import Actor
from lockstep.directory.audit import record
from lockstep.directory.models import Organization
from lockstep.saml.models import KeyStatus, SigningKey

KEY_BITS = 2048
VALID_DAYS = 3 * 365
COMMON_NAME = "Lockstep SAML signing"


def _context(organization_id: int) -> str:
    return f"organization:{organization_id}:saml-signing-key"


def _generate(organization: Organization, status: str) -> SigningKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    now = dt.datetime.now(dt.UTC)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, COMMON_NAME),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"organization {organization.pk}"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return SigningKey.objects.create(
        organization=organization,
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        private_key_encrypted=crypto.encrypt(key_pem, context=_context(organization.pk)),
        fingerprint=hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest(),
        status=status,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        activated_at=timezone.now() if status == KeyStatus.ACTIVE else None,
    )


def active_key(organization: Organization) -> SigningKey:
    """The key that signs; made on first use."""
    found = SigningKey.objects.filter(organization=organization, status=KeyStatus.ACTIVE).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return _generate(organization, KeyStatus.ACTIVE)
    except IntegrityError:  # made meanwhile by another request
        return SigningKey.objects.get(organization=organization, status=KeyStatus.ACTIVE)


def next_key(organization: Organization) -> SigningKey | None:
    return SigningKey.objects.filter(organization=organization, status=KeyStatus.NEXT).first()


def published_keys(organization: Organization) -> list[SigningKey]:
    """The active key, then the next one if any (what the IdP metadata lists)."""
    keys = [active_key(organization)]
    upcoming = next_key(organization)
    if upcoming is not None:
        keys.append(upcoming)
    return keys


@transaction.atomic
def create_next_key(organization: Organization, *, actor: Actor) -> SigningKey:
    """A NEXT key (the one already waiting if there is one)."""
    active_key(organization)
    existing = next_key(organization)
    if existing is not None:
        return existing
    made = _generate(organization, KeyStatus.NEXT)
    record(
        actor=actor,
        action="saml.key.create_next",
        target_type="saml_key",
        target_id=str(made.pk),
        after={"fingerprint": made.fingerprint, "not_after": made.not_after.isoformat()},
    )
    return made


@transaction.atomic
def promote_next_key(organization: Organization, *, actor: Actor) -> SigningKey:
    """The NEXT key signs from now on; the ACTIVE one is retired. Raises LookupError without one."""
    upcoming = (
        SigningKey.objects.select_for_update()
        .filter(organization=organization, status=KeyStatus.NEXT)
        .first()
    )
    if upcoming is None:
        raise LookupError("There is no next signing key to promote.")
    now = timezone.now()
    old = SigningKey.objects.filter(organization=organization, status=KeyStatus.ACTIVE).first()
    if old is not None:
        SigningKey.objects.filter(pk=old.pk).update(status=KeyStatus.RETIRED, retired_at=now)
    SigningKey.objects.filter(pk=upcoming.pk).update(status=KeyStatus.ACTIVE, activated_at=now)
    upcoming.refresh_from_db()
    record(
        actor=actor,
        action="saml.key.promote",
        target_type="saml_key",
        target_id=str(upcoming.pk),
        before={"fingerprint": old.fingerprint if old else ""},
        after={"fingerprint": upcoming.fingerprint},
    )
    return upcoming


def private_key(key: SigningKey) -> rsa.RSAPrivateKey:
    """The key's private half, for signing in memory; never stored or logged decrypted.

    Decrypting and loading a 2048-bit key (OpenSSL's RSA consistency checks) takes about 50 ms,
    most of a sign-in's signing time, so the loaded key is kept in this process (see `_loaded`).
    """
    return _loaded(key.private_key_encrypted, key.organization_id)


@functools.lru_cache(maxsize=64)
def _loaded(encrypted: str, organization_id: int) -> rsa.RSAPrivateKey:
    """Keyed by the ciphertext: a key re-encrypted under a new master key is loaded afresh.

    The RSA checks are skipped because the key is our own, generated by `_generate`, and only
    ever read back through the authenticated encryption of `crypto` (a changed byte fails there).
    """
    pem = crypto.decrypt(encrypted, context=_context(organization_id))
    loaded = serialization.load_pem_private_key(
        pem.encode(), password=None, unsafe_skip_rsa_key_validation=True
    )
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise TypeError("A SAML signing key must be an RSA key.")
    return loaded


def private_key_pem(key: SigningKey) -> str:
    """Decrypted PEM, in memory only; never stored or logged. Prefer `private_key` (loaded once)."""
    return crypto.decrypt(key.private_key_encrypted, context=_context(key.organization_id))


def forget_private_keys() -> None:
    """Drop the loaded private keys of this process (the benchmark's cold path; tests)."""
    _loaded.cache_clear()


@functools.lru_cache(maxsize=64)
def certificate(certificate_pem: str) -> x509.Certificate:
    """The parsed certificate (signxml embeds it in every signature)."""
    return x509.load_pem_x509_certificate(certificate_pem.encode())


def certificate_b64(key: SigningKey) -> str:
    """Base64 DER without PEM armour: what Graph's `signingCertificate` takes (graph-facts §8.1)."""
    return base64.b64encode(
        certificate(key.certificate_pem).public_bytes(serialization.Encoding.DER)
    ).decode()

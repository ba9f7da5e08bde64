"""The signing key is decrypted and loaded once per process, and it is the certificate's key."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization

from lockstep.directory import crypto
from lockstep.directory.models import Organization
from lockstep.saml import keys


def _public_der(public_key: object) -> bytes:
    return public_key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.django_db
def test_the_loaded_key_is_kept_and_belongs_to_the_certificate(org: Organization) -> None:
    key = keys.active_key(org)
    first = keys.private_key(key)
    assert keys.private_key(key) is first
    assert _public_der(first.public_key()) == _public_der(keys.certificate(key.certificate_pem).public_key())
    keys.forget_private_keys()
    again = keys.private_key(key)
    assert again is not first
    assert again.private_numbers() == first.private_numbers()


@pytest.mark.django_db
def test_a_key_re_encrypted_or_changed_is_not_served_from_the_cache(org: Organization) -> None:
    """The cache is keyed by the ciphertext: a changed byte fails authenticated decryption."""
    key = keys.active_key(org)
    cached = keys.private_key(key)
    context = f"organization:{org.pk}:saml-signing-key"
    original = key.private_key_encrypted
    key.private_key_encrypted = crypto.reencrypt(original, context=context)
    reloaded = keys.private_key(key)
    assert reloaded is not cached and reloaded.private_numbers() == cached.private_numbers()
    key.private_key_encrypted = original
    prefix, key_id, payload = key.private_key_encrypted.split(":", 2)
    flipped = payload[:-4] + ("AAAA" if payload[-4:] != "AAAA" else "BBBB")
    key.private_key_encrypted = f"{prefix}:{key_id}:{flipped}"
    with pytest.raises(Exception):  # noqa: B017  (InvalidTag or a base64 error: never a key)
        keys.private_key(key)

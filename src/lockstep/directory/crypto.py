"""Secrets at rest: AES-256-GCM with rotatable keys from LOCKSTEP_ENCRYPTION_KEYS.

The first key encrypts; every key is tried to decrypt, so keys can be rotated by
prepending a new one and re-encrypting at leisure (`reencrypt`).
"""

from __future__ import annotations

import base64
import hashlib
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

_PREFIX = "v1"


def _keys() -> list[bytes]:
    keys = [base64.urlsafe_b64decode(k) for k in settings.ENCRYPTION_KEYS]
    for key in keys:
        if len(key) != 32:
            raise ValueError("each LOCKSTEP_ENCRYPTION_KEYS entry must be 32 bytes, base64url-encoded")
    return keys


def _key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


def encrypt(plaintext: str, *, context: str = "") -> str:
    """Encrypt a secret; `context` binds it to its place (e.g. "admin:12:totp")."""
    key = _keys()[0]
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), context.encode())
    return f"{_PREFIX}:{_key_id(key)}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def decrypt(token: str, *, context: str = "") -> str:
    prefix, key_id, payload = token.split(":", 2)
    if prefix != _PREFIX:
        raise ValueError("unknown secret format")
    raw = base64.urlsafe_b64decode(payload)
    for key in _keys():
        if _key_id(key) == key_id:
            return AESGCM(key).decrypt(raw[:12], raw[12:], context.encode()).decode()
    raise ValueError("no configured encryption key can decrypt this secret")


def reencrypt(token: str, *, context: str = "") -> str:
    return encrypt(decrypt(token, context=context), context=context)

"""Second-factor recovery codes, for User Portal users and administrators alike: ten per account,
shown once, stored only as keyed hashes, each single-use.

A code has 50 random bits (ten base32 characters), so a keyed SHA-256 (HMAC with the
deployment's secret key) is enough; a slow hash would make ten checks per attempt costly.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings

COUNT = 10
ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # no 0/o, 1/l


def normalise(code: str) -> str:
    return "".join(code.lower().split()).replace("-", "")


def code_hash(code: str, *, purpose: str = "lockstep-recovery") -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"{purpose}:{normalise(code)}".encode(), hashlib.sha256).hexdigest()


def looks_like_code(code: str) -> bool:
    normal = normalise(code)
    return len(normal) == 10 and all(c in ALPHABET for c in normal)


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"

"""Second-factor recovery codes, for User Portal users and administrators alike: ten per account,
shown once, stored only as keyed hashes, each single-use.

A code has 50 random bits (ten base32 characters), so a keyed SHA-256 (HMAC with the
deployment's secret key) is enough; a slow hash would make ten checks per attempt costly.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

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


def replace_codes(codes_of: QuerySet[Any], make: Callable[[str], Any], *, purpose: str) -> list[str]:
    """Delete the owner's codes (`codes_of`), store COUNT new ones made by `make(code_hash)`,
    return the codes in clear (the only time they exist). Run inside a transaction."""
    codes_of.delete()
    codes = [new_code() for _ in range(COUNT)]
    codes_of.model.objects.bulk_create([make(code_hash(code, purpose=purpose)) for code in codes])
    return codes


def use_code(codes_of: QuerySet[Any], code: str, *, purpose: str) -> bool:
    """Mark the owner's matching unused code used; False for a wrong or used one. Run inside
    a transaction (the row is locked)."""
    if not looks_like_code(code):
        return False
    row = (
        codes_of.select_for_update()
        .filter(code_hash=code_hash(code, purpose=purpose), used_at__isnull=True)
        .first()
    )
    if row is None:
        return False
    row.used_at = timezone.now()
    row.save(update_fields=["used_at"])
    return True

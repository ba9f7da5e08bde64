"""MFA recovery codes: ten per user, shown once, stored only as keyed hashes, each single-use.

A code has 50 random bits (ten base32 characters), so a keyed SHA-256 (HMAC with the
deployment's secret key) is enough; a slow hash would make ten checks per attempt costly.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from lockstep.directory import audit
from lockstep.directory.actors import Actor
from lockstep.directory.models import User
from lockstep.portal.models import RecoveryCode

COUNT = 10
ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # no 0/o, 1/l


def _normalise(code: str) -> str:
    return "".join(code.lower().split()).replace("-", "")


def _hash(code: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"lockstep-recovery:{_normalise(code)}".encode(), hashlib.sha256).hexdigest()


def looks_like_code(code: str) -> bool:
    normal = _normalise(code)
    return len(normal) == 10 and all(c in ALPHABET for c in normal)


def _new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


@transaction.atomic
def regenerate(user: User) -> list[str]:
    """Replace the user's codes with ten new ones; returns them (the only time they are seen)."""
    RecoveryCode.objects.filter(user=user).delete()
    codes = [_new_code() for _ in range(COUNT)]
    RecoveryCode.objects.bulk_create([RecoveryCode(user=user, code_hash=_hash(code)) for code in codes])
    audit.record(
        actor=Actor.for_user(user),
        action="user.regenerate_recovery_codes",
        target_type="user",
        target_id=user.pk,
        target_label=user.username,
    )
    return codes


@transaction.atomic
def consume(user: User, code: str) -> bool:
    """Accept an unused code once; False for a wrong or used one."""
    if not looks_like_code(code):
        return False
    row = (
        RecoveryCode.objects.select_for_update()
        .filter(user=user, code_hash=_hash(code), used_at__isnull=True)
        .first()
    )
    if row is None:
        return False
    row.used_at = timezone.now()
    row.save(update_fields=["used_at"])
    audit.record(
        actor=Actor.for_user(user),
        action="user.use_recovery_code",
        target_type="user",
        target_id=user.pk,
        target_label=user.username,
    )
    return True


def remaining(user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


def discard(user: User) -> None:
    RecoveryCode.objects.filter(user=user).delete()

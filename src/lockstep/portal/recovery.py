"""User Portal MFA recovery codes (the code format and hashing: `lockstep.directory.recovery_codes`)."""

from __future__ import annotations

from django.db import transaction

from lockstep.directory import audit
from lockstep.directory.actors import Actor
from lockstep.directory.models import User
from lockstep.directory.recovery_codes import looks_like_code, replace_codes, use_code
from lockstep.portal.models import RecoveryCode

__all__ = ["consume", "discard", "looks_like_code", "regenerate", "remaining"]


PURPOSE = "lockstep-recovery"


@transaction.atomic
def regenerate(user: User) -> list[str]:
    """Replace the user's codes with ten new ones; returns them (the only time they are seen)."""
    codes = replace_codes(
        RecoveryCode.objects.filter(user=user),
        lambda hashed: RecoveryCode(user=user, code_hash=hashed),
        purpose=PURPOSE,
    )
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
    if not use_code(RecoveryCode.objects.filter(user=user), code, purpose=PURPOSE):
        return False
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

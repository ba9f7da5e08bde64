"""User Portal MFA recovery codes (the code format and hashing: `lockstep.directory.recovery_codes`)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from lockstep.directory import audit
from lockstep.directory.actors import Actor
from lockstep.directory.models import User
from lockstep.directory.recovery_codes import COUNT, code_hash, looks_like_code, new_code
from lockstep.portal.models import RecoveryCode

__all__ = ["consume", "discard", "looks_like_code", "regenerate", "remaining"]


@transaction.atomic
def regenerate(user: User) -> list[str]:
    """Replace the user's codes with ten new ones; returns them (the only time they are seen)."""
    RecoveryCode.objects.filter(user=user).delete()
    codes = [new_code() for _ in range(COUNT)]
    RecoveryCode.objects.bulk_create([RecoveryCode(user=user, code_hash=code_hash(code)) for code in codes])
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
        .filter(user=user, code_hash=code_hash(code), used_at__isnull=True)
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

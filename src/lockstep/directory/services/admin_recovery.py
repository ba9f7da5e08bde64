"""Administrators' second-factor recovery codes: made when the authenticator app is turned on
(and again on request), shown once, each accepted once at the code step instead of a TOTP code."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from lockstep.directory import audit
from lockstep.directory.actors import Actor
from lockstep.directory.models import Administrator, AdminRecoveryCode
from lockstep.directory.recovery_codes import COUNT, code_hash, looks_like_code, new_code

PURPOSE = "lockstep-admin-recovery"  # a user's code never hashes like an administrator's


@transaction.atomic
def regenerate(admin: Administrator) -> list[str]:
    """Replace the administrator's codes with COUNT new ones; returns them (seen only now)."""
    AdminRecoveryCode.objects.filter(admin=admin).delete()
    codes = [new_code() for _ in range(COUNT)]
    AdminRecoveryCode.objects.bulk_create(
        [AdminRecoveryCode(admin=admin, code_hash=code_hash(code, purpose=PURPOSE)) for code in codes]
    )
    audit.record(
        actor=Actor.for_admin(admin),
        action="admin.regenerate_recovery_codes",
        target_type="administrator",
        target_id=admin.pk,
        target_label=admin.email,
    )
    return codes


@transaction.atomic
def consume(admin: Administrator, code: str) -> bool:
    """Accept an unused code once; False for a wrong or used one."""
    if not looks_like_code(code):
        return False
    row = (
        AdminRecoveryCode.objects.select_for_update()
        .filter(admin=admin, code_hash=code_hash(code, purpose=PURPOSE), used_at__isnull=True)
        .first()
    )
    if row is None:
        return False
    row.used_at = timezone.now()
    row.save(update_fields=["used_at"])
    audit.record(
        actor=Actor.for_admin(admin),
        action="admin.use_recovery_code",
        target_type="administrator",
        target_id=admin.pk,
        target_label=admin.email,
        after={"remaining": remaining(admin)},
    )
    return True


def remaining(admin: Administrator) -> int:
    return AdminRecoveryCode.objects.filter(admin=admin, used_at__isnull=True).count()

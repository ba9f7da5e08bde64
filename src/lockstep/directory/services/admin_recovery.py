"""Administrators' second-factor recovery codes: made when the authenticator app is turned on
(and again on request), shown once, each accepted once at the code step instead of a TOTP code."""

from __future__ import annotations

from django.db import transaction

from lockstep.directory import audit
from lockstep.directory.actors import Actor
from lockstep.directory.models import Administrator, AdminRecoveryCode
from lockstep.directory.recovery_codes import replace_codes, use_code

PURPOSE = "lockstep-admin-recovery"  # a user's code never hashes like an administrator's


@transaction.atomic
def regenerate(admin: Administrator) -> list[str]:
    """Replace the administrator's codes with ten new ones; returns them (seen only now)."""
    codes = replace_codes(
        AdminRecoveryCode.objects.filter(admin=admin),
        lambda hashed: AdminRecoveryCode(admin=admin, code_hash=hashed),
        purpose=PURPOSE,
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
    if not use_code(AdminRecoveryCode.objects.filter(admin=admin), code, purpose=PURPOSE):
        return False
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

"""Administrator services: creation, roles, TOTP enrolment and verification."""

from __future__ import annotations

import secrets
import time

import pyotp
from django.db import transaction
from django.db.models import QuerySet

from lockstep.directory import audit, crypto
from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict, NotFound, ValidationFailed
from lockstep.directory.models import Administrator, AdminRole, Organization
from lockstep.directory.services.passwords import require_acceptable
from lockstep.directory.validation import GENERIC_EMAIL_RE

TOTP_ISSUER = "Lockstep"


def _totp_context(admin: Administrator) -> str:
    return f"admin:{admin.pk}:totp"


def generate_one_time_password() -> str:
    """A strong random password that satisfies Microsoft's policy (for the first admin)."""
    while True:
        candidate = secrets.token_urlsafe(15) + "-" + str(secrets.randbelow(10))
        if any(c.islower() for c in candidate) and any(c.isupper() for c in candidate):
            return candidate


@transaction.atomic
def create_admin(
    *,
    organization: Organization,
    email: str,
    password: str,
    role: str = AdminRole.ADMINISTRATOR,
    name: str = "",
    actor: Actor | None = None,
    must_change_password: bool = False,
) -> Administrator:
    """Create an administrator. `actor` is None only for bootstrap (CLI, first run)."""
    if actor is not None:
        actor.require_owner()
        if actor.organization_id != organization.pk:
            raise NotFound("organization", organization.pk)
    email = email.strip().lower()
    errors: dict[str, list[str]] = {}
    if not GENERIC_EMAIL_RE.match(email):
        errors["email"] = ["Must be an email address."]
    if role not in AdminRole.values:
        errors["role"] = [f"Must be one of: {', '.join(AdminRole.values)}."]
    try:
        require_acceptable(password, organization=organization, email=email, first_name=name)
    except ValidationFailed as failed:
        errors.update(failed.errors)
    if errors:
        raise ValidationFailed(errors)
    # Only this organization is looked at: whether the address administers another one is
    # nobody's business here (the same person may administer both).
    if Administrator.objects.filter(organization=organization, email__iexact=email).exists():
        raise Conflict("email", f"This organization already has an administrator with the email {email!r}.")
    admin = Administrator(
        organization=organization,
        email=email,
        role=role,
        name=name.strip(),
        must_change_password=must_change_password,
    )
    admin.set_password(password)
    admin.save()
    audit.record(
        actor=actor or Actor.system(organization.pk, "lockstep createadmin"),
        action="admin.create",
        target_type="administrator",
        target_id=admin.pk,
        target_label=email,
        after={"email": email, "role": role},
    )
    return admin


def list_admins(*, actor: Actor) -> QuerySet[Administrator]:
    return Administrator.objects.filter(organization_id=actor.organization_id).order_by("email")


def begin_totp_enrolment(admin: Administrator) -> str:
    """A fresh base32 secret to show as a QR code; stored only once confirmed."""
    return pyotp.random_base32()


def provisioning_uri(admin: Administrator, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=admin.email, issuer_name=TOTP_ISSUER)


def _accept_code(secret: str, code: str, last_counter: int, now: float | None = None) -> int | None:
    """The time-step counter the code matches (±1 step), or None; refuses replays."""
    code = code.strip().replace(" ", "")
    if not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    now = time.time() if now is None else now
    counter = int(now // totp.interval)
    for step in (counter - 1, counter, counter + 1):
        if step > last_counter and secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


@transaction.atomic
def confirm_totp_enrolment(*, admin: Administrator, secret: str, code: str) -> None:
    step = _accept_code(secret, code, 0)
    if step is None:
        raise ValidationFailed(
            {"code": ["The code does not match. Check the time on your device and try again."]}
        )
    admin.totp_secret_encrypted = crypto.encrypt(secret, context=_totp_context(admin))
    admin.totp_enabled = True
    admin.totp_last_counter = step
    admin.save(update_fields=["totp_secret_encrypted", "totp_enabled", "totp_last_counter"])
    audit.record(
        actor=Actor.for_admin(admin),
        action="admin.enable_totp",
        target_type="administrator",
        target_id=admin.pk,
        target_label=admin.email,
    )


@transaction.atomic
def verify_totp(*, admin: Administrator, code: str) -> bool:
    """Check a login code; a code is accepted at most once."""
    locked = Administrator.objects.select_for_update().get(pk=admin.pk)
    if not locked.totp_enabled:
        return False
    secret = crypto.decrypt(locked.totp_secret_encrypted, context=_totp_context(locked))
    step = _accept_code(secret, code, locked.totp_last_counter)
    if step is None:
        return False
    locked.totp_last_counter = step
    locked.save(update_fields=["totp_last_counter"])
    admin.totp_last_counter = step
    return True


@transaction.atomic
def set_role(*, actor: Actor, admin_id: int, role: str) -> Administrator:
    actor.require_owner()
    try:
        admin = Administrator.objects.get(pk=admin_id, organization_id=actor.organization_id)
    except Administrator.DoesNotExist:
        raise NotFound("administrator", admin_id) from None
    if role not in AdminRole.values:
        raise ValidationFailed({"role": [f"Must be one of: {', '.join(AdminRole.values)}."]})
    # under a row lock: two owners demoting each other at once cannot leave none
    if admin.role == AdminRole.OWNER and role != AdminRole.OWNER and _other_active_owners(actor, admin) == 0:
        raise Conflict("role", "The last owner cannot be demoted; make another administrator owner first.")
    before = admin.role
    admin.role = role
    admin.save(update_fields=["role"])
    audit.record(
        actor=actor,
        action="admin.set_role",
        target_type="administrator",
        target_id=admin.pk,
        target_label=admin.email,
        before={"role": before},
        after={"role": role},
    )
    return admin


@transaction.atomic
def change_own_password(*, admin: Administrator, current_password: str, new_password: str) -> Administrator:
    """An administrator replaces their own password (forced after a one-time password).

    The current password must be right and the new one must pass the organization's policy and
    differ from it. Other sessions of this administrator end (their session hash no longer
    matches); the caller keeps its own with `update_session_auth_hash`."""
    locked = Administrator.objects.select_for_update().get(pk=admin.pk)
    if not locked.check_password(current_password):
        raise ValidationFailed({"current_password": ["This is not your current password."]})
    errors: dict[str, list[str]] = {}
    if new_password == current_password:
        errors["new_password"] = ["Must differ from the current password."]
    else:
        try:
            require_acceptable(
                new_password, organization=locked.organization, field="new_password", email=locked.email
            )
        except ValidationFailed as failed:
            errors.update(failed.errors)
    if errors:
        raise ValidationFailed(errors)
    was_forced = locked.must_change_password
    locked.set_password(new_password)
    locked.must_change_password = False
    locked.save(update_fields=["password", "must_change_password"])
    audit.record(
        actor=Actor.for_admin(locked),
        action="admin.password_change",
        target_type="administrator",
        target_id=locked.pk,
        target_label=locked.email,
        after={"replaced_one_time_password": was_forced},
    )
    return locked


def _other_active_owners(actor: Actor, admin: Administrator) -> int:
    """Active owners of the organization besides `admin`, counted under a row lock."""
    owners = Administrator.objects.select_for_update().filter(
        organization_id=actor.organization_id, role=AdminRole.OWNER, is_active=True
    )
    return sum(1 for owner in owners if owner.pk != admin.pk)


def _owned_admin(actor: Actor, admin_id: int) -> Administrator:
    actor.require_owner()
    admin = (
        Administrator.objects.select_for_update()
        .filter(pk=admin_id, organization_id=actor.organization_id)
        .first()
    )
    if admin is None:
        raise NotFound("administrator", admin_id)
    if actor.kind == "admin" and actor.id == str(admin.pk):
        raise Conflict(
            "administrator", "You cannot deactivate or remove your own account; ask another owner."
        )
    return admin


@transaction.atomic
def set_active(*, actor: Actor, admin_id: int, active: bool) -> Administrator:
    """Owners deactivate (sign-in refused, sessions and API keys stop working) or reactivate an
    administrator; the last active owner is never deactivated."""
    admin = _owned_admin(actor, admin_id)
    if admin.is_active == active:
        return admin
    if not active and admin.role == AdminRole.OWNER and _other_active_owners(actor, admin) == 0:
        raise Conflict("administrator", "The last active owner cannot be deactivated.")
    admin.is_active = active
    admin.save(update_fields=["is_active"])
    audit.record(
        actor=actor,
        action="admin.reactivate" if active else "admin.deactivate",
        target_type="administrator",
        target_id=admin.pk,
        target_label=admin.email,
        before={"is_active": not active},
        after={"is_active": active},
    )
    return admin


@transaction.atomic
def remove_admin(*, actor: Actor, admin_id: int) -> str:
    """Owners remove an administrator for good: their API keys are revoked first (a key must
    never outlive the person it acts for). The last active owner is never removed. Returns
    the removed email."""
    from django.utils import timezone

    from lockstep.directory.models import ApiKey

    admin = _owned_admin(actor, admin_id)
    if admin.role == AdminRole.OWNER and admin.is_active and _other_active_owners(actor, admin) == 0:
        raise Conflict("administrator", "The last active owner cannot be removed.")
    revoked = ApiKey.objects.filter(created_by=admin, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    email = admin.email
    audit.record(
        actor=actor,
        action="admin.remove",
        target_type="administrator",
        target_id=admin.pk,
        target_label=email,
        before={"email": email, "role": admin.role},
        after={"api_keys_revoked": revoked},
    )
    admin.delete()
    return email

"""A directory user's authenticator app (TOTP) for the User Portal: enrol, verify, turn off.

The secret is held encrypted on the user (`User.totp_secret_encrypted`); the last accepted time
step lives in `TotpCounter`, so a code works once. Codes are checked as for administrators
(the current step and one either side).
"""

from __future__ import annotations

import pyotp
from django.db import transaction

from lockstep.directory import audit, crypto
from lockstep.directory.actors import Actor
from lockstep.directory.errors import ValidationFailed
from lockstep.directory.models import User
from lockstep.directory.services.admins import _accept_code
from lockstep.portal import recovery
from lockstep.portal.models import TotpCounter

ISSUER = "Lockstep"


def _context(user: User) -> str:
    return f"user:{user.pk}:totp"


def begin_enrolment() -> str:
    """A fresh secret to show as a QR code; kept only in the session until confirmed."""
    return pyotp.random_base32()


def provisioning_uri(user: User, secret: str) -> str:
    issuer = f"{user.organization.name} ({ISSUER})" if user.organization_id else ISSUER
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=issuer)


def _audit(user: User, action: str) -> None:
    audit.record(
        actor=Actor.for_user(user),
        action=action,
        target_type="user",
        target_id=user.pk,
        target_label=user.username,
    )


@transaction.atomic
def confirm_enrolment(*, user: User, secret: str, code: str) -> list[str]:
    """Turn TOTP on once the app shows the right code; returns the new recovery codes."""
    step = _accept_code(secret, code, 0)
    if step is None:
        raise ValidationFailed(
            {"code": ["The code does not match. Check the time on your device and try again."]}
        )
    user.totp_secret_encrypted = crypto.encrypt(secret, context=_context(user))
    user.totp_enabled = True
    user.save(update_fields=["totp_secret_encrypted", "totp_enabled"])
    TotpCounter.objects.update_or_create(user=user, defaults={"last_counter": step})
    _audit(user, "user.enable_totp")
    return recovery.regenerate(user)


@transaction.atomic
def verify(*, user: User, code: str) -> bool:
    """Check a sign-in code; each code is accepted at most once."""
    locked = User.objects.select_for_update().get(pk=user.pk)
    if not locked.totp_enabled or not locked.totp_secret_encrypted:
        return False
    counter, _created = TotpCounter.objects.select_for_update().get_or_create(user=locked)
    secret = crypto.decrypt(locked.totp_secret_encrypted, context=_context(locked))
    step = _accept_code(secret, code, counter.last_counter)
    if step is None:
        return False
    counter.last_counter = step
    counter.save(update_fields=["last_counter"])
    return True


def last_counter(user: User) -> int:
    row = TotpCounter.objects.filter(user=user).first()
    return row.last_counter if row else 0


@transaction.atomic
def disable(*, user: User) -> None:
    user.totp_secret_encrypted = ""
    user.totp_enabled = False
    user.save(update_fields=["totp_secret_encrypted", "totp_enabled"])
    TotpCounter.objects.filter(user=user).delete()
    recovery.discard(user)
    _audit(user, "user.disable_totp")

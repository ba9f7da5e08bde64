"""Self-service: a directory user changing their own profile in the User Portal (SPEC 4).

The organization chooses which attributes its users may edit (`portal_editable_fields`), from
a fixed list of safe ones. Never on it: the username and company email (they are the Microsoft
365 sign-in name and the login), the state, the employee id (an HR key) and the usage location
(it decides which licences may be assigned).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from lockstep.directory import audit, events
from lockstep.directory.actors import Actor
from lockstep.directory.errors import PermissionDenied, ValidationFailed, collect
from lockstep.directory.models import User, UserState
from lockstep.directory.validation import clean_user_fields

# The attributes an organization may let its users edit, in the order the pages show them.
SELF_EDITABLE_FIELDS = (
    "display_name",
    "first_name",
    "last_name",
    "job_title",
    "department",
    "business_phone",
    "mobile_phone",
    "alternate_email",
)


def parse_editable(value: str) -> list[str]:
    """The stored comma-separated setting as a list (unknown names dropped, allow-list order)."""
    names = {name.strip() for name in value.split(",") if name.strip()}
    return [name for name in SELF_EDITABLE_FIELDS if name in names]


def clean_editable(value: Any, *, field: str = "portal_editable_fields") -> str:
    """Check a list of field names against the allow-list; returns the value to store."""
    if isinstance(value, str):
        value = [name.strip() for name in value.split(",") if name.strip()]
    if not isinstance(value, list | tuple) or not all(isinstance(name, str) for name in value):
        raise ValidationFailed({field: ["Must be a list of attribute names."]})
    errors: dict[str, list[str]] = {}
    for name in value:
        if name not in SELF_EDITABLE_FIELDS:
            collect(
                errors,
                field,
                f"{name!r} cannot be edited by users. Allowed: {', '.join(SELF_EDITABLE_FIELDS)}.",
            )
    if errors:
        raise ValidationFailed(errors)
    return ",".join(name for name in SELF_EDITABLE_FIELDS if name in value)


def editable_fields(user: User) -> list[str]:
    return parse_editable(user.organization.portal_editable_fields)


@transaction.atomic
def update_own_profile(*, actor: Actor, user: User, changes: dict[str, Any]) -> User:
    """Apply the user's own changes to the attributes their organization allows; audited as
    the user, and announced with the same event as an administrator's edit."""
    if actor.kind != "user" or actor.id != str(user.pk) or actor.organization_id != user.organization_id:
        raise PermissionDenied("Users may only edit their own profile.")
    locked = User.objects.select_for_update().select_related("organization").get(pk=user.pk)
    if locked.state != UserState.ACTIVE:
        raise PermissionDenied("Only active users may edit their profile.")
    allowed = editable_fields(locked)
    refused = sorted(name for name in changes if name not in allowed)
    if refused:
        raise ValidationFailed(
            {name: ["Your organization does not let you change this."] for name in refused}
        )
    cleaned, errors = clean_user_fields(changes, partial=True)
    if errors:
        raise ValidationFailed(errors)
    changed = {k: v for k, v in cleaned.items() if getattr(locked, k) != v}
    if not changed:
        return locked
    before = {k: getattr(locked, k) for k in changed}
    for field, value in changed.items():
        setattr(locked, field, value)
    locked.updated_at = timezone.now()
    locked.save(update_fields=[*changed, "updated_at"])
    audit.record(
        actor=actor,
        action="user.update_own_profile",
        target_type="user",
        target_id=locked.pk,
        target_label=locked.username,
        before=before,
        after=changed,
    )
    events.emit(
        events.user_changed, organization_id=locked.organization_id, user_id=locked.pk, fields=sorted(changed)
    )
    return locked

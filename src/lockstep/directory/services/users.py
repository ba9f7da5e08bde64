"""User services: create, update, state transitions, passwords, delete (queries: `user_queries`)."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from lockstep.directory import audit, events
from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from lockstep.directory.models import (
    ALLOWED_TRANSITIONS,
    IssuedImmutableId,
    Organization,
    PasswordSetup,
    User,
    UserState,
)
from lockstep.directory.services.passwords import hash_password, require_acceptable
from lockstep.directory.services.user_queries import UserPage as UserPage
from lockstep.directory.services.user_queries import decode_cursor as decode_cursor
from lockstep.directory.services.user_queries import encode_cursor as encode_cursor
from lockstep.directory.services.user_queries import filter_users as filter_users
from lockstep.directory.services.user_queries import list_users as list_users
from lockstep.directory.validation import USER_TEXT_FIELDS, clean_user_fields

AUDITED_FIELDS = (*USER_TEXT_FIELDS, "state")


def snapshot(user: User) -> dict[str, Any]:
    return {f: getattr(user, f) for f in AUDITED_FIELDS}


def new_immutable_id() -> str:
    """32 alphanumeric characters, never issued before (SPEC 1; no `$` or `_`)."""
    while True:
        value = uuid.uuid4().hex
        if not IssuedImmutableId.objects.filter(value=value).exists():
            IssuedImmutableId.objects.create(value=value)
            return value


def get_user(*, actor: Actor, user_id: int) -> User:
    try:
        return User.objects.get(pk=user_id, organization_id=actor.organization_id)
    except (User.DoesNotExist, ValueError, TypeError):
        raise NotFound("user", user_id) from None


def _check_unique(organization_id: int, values: dict[str, Any], exclude_id: int | None = None) -> None:
    others = User.objects.filter(organization_id=organization_id)
    if exclude_id is not None:
        others = others.exclude(pk=exclude_id)
    if "username" in values and others.filter(username__iexact=values["username"]).exists():
        raise Conflict("username", f"A user with the username {values['username']!r} already exists.")
    if "email" in values and others.filter(email=values["email"]).exists():
        raise Conflict("email", f"A user with the company email {values['email']!r} already exists.")


@transaction.atomic
def create_user(
    *,
    actor: Actor,
    fields: dict[str, Any],
    state: str = UserState.STAGED,
    initial_password: str | None = None,
) -> User:
    """Create a user; `initial_password` is the admin's choice in Password Settings."""
    actor.require_write()
    organization = Organization.objects.get(pk=actor.organization_id)
    cleaned, errors = clean_user_fields(fields, partial=False)
    if state not in UserState.values:
        errors.setdefault("state", []).append(f"Must be one of: {', '.join(UserState.values)}.")
    if not cleaned.get("display_name") and not errors:
        full = f"{cleaned.get('first_name', '')} {cleaned.get('last_name', '')}".strip()
        cleaned["display_name"] = full or cleaned["username"]
    if initial_password is not None and not errors:
        try:
            require_acceptable(
                initial_password,
                organization=organization,
                field="initial_password",
                first_name=cleaned.get("first_name", ""),
                last_name=cleaned.get("last_name", ""),
                username=cleaned.get("username", ""),
                email=cleaned.get("email", ""),
            )
        except ValidationFailed as failed:
            errors.update(failed.errors)
    if errors:
        raise ValidationFailed(errors)
    _check_unique(actor.organization_id, cleaned)
    now = timezone.now()
    user = User(organization=organization, state=state, immutable_id=new_immutable_id(), **cleaned)
    if initial_password is not None:
        user.password_hash = hash_password(initial_password)
        user.password_changed_at = now
        user.password_setup = PasswordSetup.INITIAL
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        _check_unique(actor.organization_id, cleaned)
        raise
    audit.record(
        actor=actor,
        action="user.create",
        target_type="user",
        target_id=user.pk,
        target_label=user.username,
        after={**snapshot(user), "password_setup": user.password_setup},
    )
    events.emit(events.user_changed, organization_id=user.organization_id, user_id=user.pk, fields=["*"])
    if initial_password is not None:
        plaintext = initial_password
        events.emit(
            events.password_set,
            organization_id=user.organization_id,
            user_id=user.pk,
            password=plaintext,
            how="initial",
        )
    return user


@transaction.atomic
def update_user(*, actor: Actor, user_id: int, changes: dict[str, Any]) -> User:
    actor.require_write()
    user = get_user(actor=actor, user_id=user_id)
    cleaned, errors = clean_user_fields(changes, partial=True)
    if errors:
        raise ValidationFailed(errors)
    changed = {k: v for k, v in cleaned.items() if getattr(user, k) != v}
    if not changed:
        return user
    _check_unique(actor.organization_id, changed, exclude_id=user.pk)
    before = snapshot(user)
    for field, value in changed.items():
        setattr(user, field, value)
    user.updated_at = timezone.now()
    user.save(update_fields=[*changed, "updated_at"])
    audit.record(
        actor=actor,
        action="user.update",
        target_type="user",
        target_id=user.pk,
        target_label=user.username,
        before={k: before[k] for k in changed},
        after=changed,
    )
    events.emit(
        events.user_changed, organization_id=user.organization_id, user_id=user.pk, fields=sorted(changed)
    )
    return user


@transaction.atomic
def change_state(*, actor: Actor, user_id: int, to_state: str) -> User:
    actor.require_write()
    user = get_user(actor=actor, user_id=user_id)
    allowed = list(ALLOWED_TRANSITIONS[user.state])
    if to_state not in allowed:
        raise Conflict(
            "state",
            f"A {user.state} user cannot become {to_state}. Allowed: {', '.join(allowed) or 'none'}.",
            allowed=allowed,
        )
    before = user.state
    user.state = to_state
    user.updated_at = timezone.now()
    user.save(update_fields=["state", "updated_at"])
    audit.record(
        actor=actor,
        action=f"user.{transition_verb(before, to_state)}",
        target_type="user",
        target_id=user.pk,
        target_label=user.username,
        before={"state": before},
        after={"state": to_state},
    )
    events.emit(events.user_changed, organization_id=user.organization_id, user_id=user.pk, fields=["state"])
    return user


def transition_verb(before: str, after: str) -> str:
    if after == UserState.SUSPENDED:
        return "suspend"
    if before == UserState.SUSPENDED:
        return "unsuspend"
    return "activate"


@transaction.atomic
def set_password(*, actor: Actor, user_id: int, password: str, how: str = "") -> User:
    """Set a user's password (admin or self-service); the plaintext leaves only in an event.

    `how` says which flow set it (see `events.password_set`); default: "admin" for an
    administrator or API key, "change" for the user themself."""
    if actor.kind == "user":
        if actor.id != str(user_id):
            raise PermissionDenied("Users may only set their own password.")
    else:
        actor.require_write()
    user = get_user(actor=actor, user_id=user_id)
    require_acceptable(
        password,
        organization=user.organization,
        first_name=user.first_name,
        last_name=user.last_name,
        username=user.username,
        email=user.email,
    )
    user.password_hash = hash_password(password)
    user.password_changed_at = timezone.now()
    user.updated_at = user.password_changed_at
    user.save(update_fields=["password_hash", "password_changed_at", "updated_at"])
    audit.record(
        actor=actor,
        action="user.set_password",
        target_type="user",
        target_id=user.pk,
        target_label=user.username,
    )
    events.emit(
        events.password_set,
        organization_id=user.organization_id,
        user_id=user.pk,
        password=password,
        how=how or ("change" if actor.kind == "user" else "admin"),
    )
    return user


@transaction.atomic
def delete_user(*, actor: Actor, user_id: int) -> None:
    actor.require_write()
    user = get_user(actor=actor, user_id=user_id)
    before = snapshot(user)
    audit.record(
        actor=actor,
        action="user.delete",
        target_type="user",
        target_id=user.pk,
        target_label=user.username,
        before=before,
    )
    events.emit(
        events.user_deleting,
        organization_id=user.organization_id,
        user_id=user.pk,
        immutable_id=user.immutable_id,
    )
    user.delete()

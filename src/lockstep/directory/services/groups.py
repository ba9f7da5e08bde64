"""Group services: security groups and their members."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from lockstep.directory import audit, events
from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict, NotFound, ValidationFailed
from lockstep.directory.models import Group, GroupMembership, User
from lockstep.directory.validation import clean_group_fields


def get_group(*, actor: Actor, group_id: int) -> Group:
    try:
        return Group.objects.get(pk=group_id, organization_id=actor.organization_id)
    except (Group.DoesNotExist, ValueError, TypeError):
        raise NotFound("group", group_id) from None


def list_groups(*, actor: Actor, search: str | None = None) -> QuerySet[Group]:
    queryset = Group.objects.filter(organization_id=actor.organization_id)
    if search:
        queryset = queryset.filter(name__icontains=search.strip())
    return queryset.order_by("name", "id")


def _check_unique_name(actor: Actor, name: str, exclude_id: int | None = None) -> None:
    others = Group.objects.filter(organization_id=actor.organization_id, name__iexact=name)
    if exclude_id is not None:
        others = others.exclude(pk=exclude_id)
    if others.exists():
        raise Conflict("name", f"A group named {name!r} already exists.")


@transaction.atomic
def create_group(*, actor: Actor, fields: dict[str, Any]) -> Group:
    actor.require_write()
    cleaned, errors = clean_group_fields(fields, partial=False)
    if errors:
        raise ValidationFailed(errors)
    _check_unique_name(actor, cleaned["name"])
    group = Group.objects.create(organization_id=actor.organization_id, **cleaned)
    audit.record(
        actor=actor,
        action="group.create",
        target_type="group",
        target_id=group.pk,
        target_label=group.name,
        after=cleaned,
    )
    events.emit(events.group_changed, organization_id=actor.organization_id, group_id=group.pk, fields=["*"])
    return group


@transaction.atomic
def update_group(*, actor: Actor, group_id: int, changes: dict[str, Any]) -> Group:
    actor.require_write()
    group = get_group(actor=actor, group_id=group_id)
    cleaned, errors = clean_group_fields(changes, partial=True)
    if errors:
        raise ValidationFailed(errors)
    changed = {k: v for k, v in cleaned.items() if getattr(group, k) != v}
    if not changed:
        return group
    if "name" in changed:
        _check_unique_name(actor, changed["name"], exclude_id=group.pk)
    before = {k: getattr(group, k) for k in changed}
    for field, value in changed.items():
        setattr(group, field, value)
    group.updated_at = timezone.now()
    group.save(update_fields=[*changed, "updated_at"])
    audit.record(
        actor=actor,
        action="group.update",
        target_type="group",
        target_id=group.pk,
        target_label=group.name,
        before=before,
        after=changed,
    )
    events.emit(
        events.group_changed, organization_id=actor.organization_id, group_id=group.pk, fields=sorted(changed)
    )
    return group


@transaction.atomic
def delete_group(*, actor: Actor, group_id: int) -> None:
    actor.require_write()
    group = get_group(actor=actor, group_id=group_id)
    audit.record(
        actor=actor,
        action="group.delete",
        target_type="group",
        target_id=group.pk,
        target_label=group.name,
        before={"name": group.name, "description": group.description},
    )
    events.emit(events.group_deleting, organization_id=actor.organization_id, group_id=group.pk)
    group.delete()


def _users_of_organization(actor: Actor, user_ids: list[int]) -> list[User]:
    unique = list(dict.fromkeys(user_ids))
    users = list(User.objects.filter(organization_id=actor.organization_id, pk__in=unique))
    missing = sorted(set(unique) - {u.pk for u in users})
    if missing:
        raise ValidationFailed({"user_ids": [f"No such user: {', '.join(map(str, missing))}."]})
    return users


@transaction.atomic
def add_members(*, actor: Actor, group_id: int, user_ids: list[int]) -> list[int]:
    """Add users to a group; returns the ids actually added (existing members are skipped)."""
    actor.require_write()
    group = get_group(actor=actor, group_id=group_id)
    users = _users_of_organization(actor, user_ids)
    existing = set(GroupMembership.objects.filter(group=group).values_list("user_id", flat=True))
    added = [u.pk for u in users if u.pk not in existing]
    GroupMembership.objects.bulk_create([GroupMembership(group=group, user_id=uid) for uid in added])
    if added:
        audit.record(
            actor=actor,
            action="group.add_members",
            target_type="group",
            target_id=group.pk,
            target_label=group.name,
            after={"added": added},
        )
        events.emit(
            events.membership_changed,
            organization_id=actor.organization_id,
            group_id=group.pk,
            added=added,
            removed=[],
        )
    return added


@transaction.atomic
def remove_members(*, actor: Actor, group_id: int, user_ids: list[int]) -> list[int]:
    actor.require_write()
    group = get_group(actor=actor, group_id=group_id)
    memberships = GroupMembership.objects.filter(group=group, user_id__in=user_ids)
    removed = sorted(memberships.values_list("user_id", flat=True))
    memberships.delete()
    if removed:
        audit.record(
            actor=actor,
            action="group.remove_members",
            target_type="group",
            target_id=group.pk,
            target_label=group.name,
            before={"removed": removed},
        )
        events.emit(
            events.membership_changed,
            organization_id=actor.organization_id,
            group_id=group.pk,
            added=[],
            removed=removed,
        )
    return removed


def list_members(*, actor: Actor, group_id: int) -> QuerySet[User]:
    group = get_group(actor=actor, group_id=group_id)
    return User.objects.filter(groupmembership__group=group).order_by("username", "id")

"""Bulk actions on many users at once: activate, suspend, add to a group.

Everything is validated first (every id must be a user of the caller's organization, at most
`BULK_LIMIT` of them); then one transaction writes the change for every user it applies to,
one audit row per user, and one domain event for all of them. Users the action does not apply
to (already in that state, already a member) are skipped and reported with the reason.
Queries go per chunk of ids, never per user.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from lockstep.directory import audit, events
from lockstep.directory.actors import Actor
from lockstep.directory.errors import ValidationFailed
from lockstep.directory.models import ALLOWED_TRANSITIONS, GroupMembership, User, UserState
from lockstep.directory.services.groups import get_group
from lockstep.directory.services.users import transition_verb

BULK_LIMIT = 10_000  # users per bulk action
ID_CHUNK = 500  # ids per IN (...) list: well under every database's parameter limit
BULK_STATES = (UserState.ACTIVE, UserState.SUSPENDED)


@dataclass(frozen=True)
class Skipped:
    """A selected user the action leaves as it is, and why (in plain words)."""

    user_id: int
    username: str
    reason: str


@dataclass(frozen=True)
class BulkPlan:
    """What a bulk action would do: the users it changes and the ones it skips."""

    selected: int
    changing: list[User]
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def changing_ids(self) -> list[int]:
        return [user.pk for user in self.changing]


@dataclass(frozen=True)
class BulkResult:
    """What a bulk action did."""

    changed: list[int]
    skipped: list[Skipped]


Item = TypeVar("Item")


def chunks(ids: Sequence[Item], size: int = ID_CHUNK) -> Iterator[Sequence[Item]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def clean_ids(user_ids: Sequence[object]) -> list[int]:
    """Distinct integer ids in their given order; anything else is a validation error."""
    ids: list[int] = []
    bad: list[str] = []
    for raw in user_ids:
        try:
            ids.append(int(str(raw)))
        except ValueError:
            bad.append(str(raw)[:20])
    if bad:
        raise ValidationFailed({"user_ids": [f"Not user ids: {', '.join(bad[:10])}."]})
    unique = list(dict.fromkeys(ids))
    if not unique:
        raise ValidationFailed({"user_ids": ["Select at least one user."]})
    if len(unique) > BULK_LIMIT:
        raise ValidationFailed(
            {
                "user_ids": [
                    f"At most {BULK_LIMIT:,} users per bulk action ({len(unique):,} selected): "
                    "narrow the search or filters."
                ]
            }
        )
    return unique


def resolve_users(*, actor: Actor, user_ids: Sequence[object], lock: bool = False) -> list[User]:
    """The selected users of the caller's organization, ordered by username; all must exist."""
    ids = clean_ids(user_ids)
    found: list[User] = []
    for chunk in chunks(ids):
        queryset: QuerySet[User] = User.objects.filter(
            organization_id=actor.organization_id, pk__in=chunk
        ).only("id", "organization_id", "username", "email", "state", "password_setup")
        if lock:
            queryset = queryset.select_for_update()
        found.extend(queryset)
    missing = sorted(set(ids) - {user.pk for user in found})
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (" …" if len(missing) > 10 else "")
        raise ValidationFailed(
            {"user_ids": [f"{len(missing)} selected user(s) no longer exist: {shown}. Nothing was changed."]}
        )
    return sorted(found, key=lambda user: (user.username, user.pk))


def _check_state(to_state: str) -> None:
    if to_state not in BULK_STATES:
        raise ValidationFailed({"to_state": [f"Must be one of: {', '.join(BULK_STATES)}."]})


def _state_plan(users: list[User], to_state: str) -> BulkPlan:
    changing: list[User] = []
    skipped: list[Skipped] = []
    label = UserState(to_state).label.lower()
    for user in users:
        if user.state == to_state:
            skipped.append(Skipped(user.pk, user.username, f"Already {label}."))
        elif to_state not in ALLOWED_TRANSITIONS[user.state]:
            skipped.append(Skipped(user.pk, user.username, f"A {user.state} user cannot become {label}."))
        else:
            changing.append(user)
    return BulkPlan(selected=len(users), changing=changing, skipped=skipped)


def plan_state_change(*, actor: Actor, user_ids: Sequence[object], to_state: str) -> BulkPlan:
    """Which of the selected users would change state (nothing is written)."""
    _check_state(to_state)
    return _state_plan(resolve_users(actor=actor, user_ids=user_ids), to_state)


@transaction.atomic
def change_states(*, actor: Actor, user_ids: Sequence[object], to_state: str) -> BulkResult:
    """Activate or suspend many users: one audit row each, one event for all."""
    actor.require_write()
    _check_state(to_state)
    plan = _state_plan(resolve_users(actor=actor, user_ids=user_ids, lock=True), to_state)
    now = timezone.now()
    changed = plan.changing_ids
    for chunk in chunks(changed):
        User.objects.filter(pk__in=chunk).update(state=to_state, updated_at=now)
    audit.record_many(
        [
            audit.build(
                actor=actor,
                action=f"user.{transition_verb(user.state, to_state)}",
                target_type="user",
                target_id=user.pk,
                target_label=user.username,
                before={"state": user.state},
                after={"state": to_state},
            )
            for user in plan.changing
        ]
    )
    if changed:
        events.emit(
            events.users_changed, organization_id=actor.organization_id, user_ids=changed, fields=["state"]
        )
    return BulkResult(changed=changed, skipped=plan.skipped)


def _group_plan(actor: Actor, group_id: int, users: list[User]) -> BulkPlan:
    group = get_group(actor=actor, group_id=group_id)
    members: set[int] = set()
    for chunk in chunks([user.pk for user in users]):
        members.update(
            GroupMembership.objects.filter(group=group, user_id__in=chunk).values_list("user_id", flat=True)
        )
    changing = [user for user in users if user.pk not in members]
    skipped = [
        Skipped(user.pk, user.username, f"Already a member of {group.name}.")
        for user in users
        if user.pk in members
    ]
    return BulkPlan(selected=len(users), changing=changing, skipped=skipped)


def plan_add_to_group(*, actor: Actor, user_ids: Sequence[object], group_id: int) -> BulkPlan:
    """Which of the selected users would join the group (nothing is written)."""
    return _group_plan(actor, group_id, resolve_users(actor=actor, user_ids=user_ids))


@transaction.atomic
def add_users_to_group(*, actor: Actor, user_ids: Sequence[object], group_id: int) -> BulkResult:
    """Add many users to a group: one audit row per new member, one membership event."""
    actor.require_write()
    group = get_group(actor=actor, group_id=group_id)
    plan = _group_plan(actor, group.pk, resolve_users(actor=actor, user_ids=user_ids))
    added = plan.changing_ids
    GroupMembership.objects.bulk_create(
        [GroupMembership(group=group, user_id=user_id) for user_id in added], batch_size=ID_CHUNK
    )
    audit.record_many(
        [
            audit.build(
                actor=actor,
                action="group.add_member",
                target_type="user",
                target_id=user.pk,
                target_label=user.username,
                after={"group": group.name, "group_id": group.pk},
            )
            for user in plan.changing
        ]
    )
    if added:
        events.emit(
            events.membership_changed,
            organization_id=actor.organization_id,
            group_id=group.pk,
            added=added,
            removed=[],
            bulk=True,
        )
    return BulkResult(changed=added, skipped=plan.skipped)

"""Bulk state changes and group membership: validate all first, one audit row per user, no per-user queries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from lockstep.directory import events
from lockstep.directory.actors import Actor
from lockstep.directory.errors import PermissionDenied, ValidationFailed
from lockstep.directory.models import AuditEvent, GroupMembership, Organization, User
from lockstep.directory.services import bulk, groups, users
from lockstep.directory.services.bulk import BULK_LIMIT


def make(actor: Actor, count: int, prefix: str = "user", state: str = "staged") -> list[User]:
    return [
        users.create_user(
            actor=actor,
            fields={"username": f"{prefix}{n:03d}", "email": f"{prefix}{n:03d}@contoso.com"},
            state=state,
        )
        for n in range(count)
    ]


def test_suspend_changes_each_user_once_with_one_audit_row_each(actor: Actor) -> None:
    people = make(actor, 3)
    users.change_state(actor=actor, user_id=people[2].pk, to_state="suspended")
    AuditEvent.objects.all().delete()
    received: list[dict[str, object]] = []

    def listener(**kwargs: object) -> None:
        received.append(kwargs)

    events.users_changed.connect(listener)
    try:
        result = bulk.change_states(actor=actor, user_ids=[p.pk for p in people], to_state="suspended")
    finally:
        events.users_changed.disconnect(listener)
    assert sorted(result.changed) == sorted(p.pk for p in people[:2])
    assert [(s.username, s.reason) for s in result.skipped] == [("user002", "Already suspended.")]
    assert set(User.objects.values_list("state", flat=True)) == {"suspended"}
    rows = list(
        AuditEvent.objects.order_by("target_label").values_list("action", "target_label", "before", "after")
    )
    assert rows == [
        ("user.suspend", "user000", {"state": "staged"}, {"state": "suspended"}),
        ("user.suspend", "user001", {"state": "staged"}, {"state": "suspended"}),
    ]
    assert len(received) == 1 and sorted(received[0]["user_ids"]) == sorted(result.changed)  # type: ignore[arg-type]


def test_activate_unsuspends_and_activates(actor: Actor) -> None:
    staged, suspended = make(actor, 2)
    users.change_state(actor=actor, user_id=suspended.pk, to_state="suspended")
    result = bulk.change_states(actor=actor, user_ids=[staged.pk, suspended.pk], to_state="active")
    assert len(result.changed) == 2
    actions = set(
        AuditEvent.objects.filter(action__in=["user.activate", "user.unsuspend"]).values_list(
            "action", flat=True
        )
    )
    assert actions == {"user.activate", "user.unsuspend"}


def test_a_user_of_another_organization_refuses_the_whole_action(
    actor: Actor, other_org: Organization
) -> None:
    mine = make(actor, 2)
    theirs = make(Actor.system(other_org.pk), 1, prefix="other")
    with pytest.raises(ValidationFailed) as failed:
        bulk.change_states(actor=actor, user_ids=[mine[0].pk, theirs[0].pk, mine[1].pk], to_state="suspended")
    assert "no longer exist" in str(failed.value)
    assert set(User.objects.values_list("state", flat=True)) == {"staged"}
    assert not AuditEvent.objects.filter(action="user.suspend").exists()


def test_read_only_admin_is_refused(actor: Actor, read_only_actor: Actor) -> None:
    people = make(actor, 2)
    group = groups.create_group(actor=actor, fields={"name": "Retail"})
    ids = [p.pk for p in people]
    with pytest.raises(PermissionDenied):
        bulk.change_states(actor=read_only_actor, user_ids=ids, to_state="suspended")
    with pytest.raises(PermissionDenied):
        bulk.add_users_to_group(actor=read_only_actor, user_ids=ids, group_id=group.pk)
    assert set(User.objects.values_list("state", flat=True)) == {"staged"}
    assert not GroupMembership.objects.exists()


def test_bulk_limit_at_the_limit_passes_one_beyond_is_refused() -> None:
    assert len(bulk.clean_ids(list(range(1, BULK_LIMIT + 1)))) == BULK_LIMIT
    with pytest.raises(ValidationFailed) as failed:
        bulk.clean_ids(list(range(1, BULK_LIMIT + 2)))
    assert f"At most {BULK_LIMIT:,} users" in str(failed.value)
    with pytest.raises(ValidationFailed):
        bulk.clean_ids([])
    with pytest.raises(ValidationFailed):
        bulk.clean_ids(["12", "abc"])
    assert bulk.clean_ids(["3", 3, "4"]) == [3, 4]


def test_invalid_target_state_is_refused(actor: Actor) -> None:
    people = make(actor, 1)
    with pytest.raises(ValidationFailed) as failed:
        bulk.change_states(actor=actor, user_ids=[people[0].pk], to_state="staged")
    assert "to_state" in failed.value.errors


def test_query_count_does_not_grow_with_the_number_of_users(actor: Actor) -> None:
    few, many = make(actor, 5, prefix="few"), make(actor, 60, prefix="many")

    def queries(people: list[User]) -> int:
        with CaptureQueriesContext(connection) as captured:
            bulk.change_states(actor=actor, user_ids=[p.pk for p in people], to_state="suspended")
        return len(captured)

    # SQLite inserts audit rows 90 at a time; 60 users fit one INSERT as 5 do.
    assert queries(few) == queries(many)


def test_add_to_group_one_audit_row_per_new_member(actor: Actor) -> None:
    people = make(actor, 3)
    group = groups.create_group(actor=actor, fields={"name": "Retail"})
    groups.add_members(actor=actor, group_id=group.pk, user_ids=[people[0].pk])
    result = bulk.add_users_to_group(actor=actor, user_ids=[p.pk for p in people], group_id=group.pk)
    assert sorted(result.changed) == sorted(p.pk for p in people[1:])
    assert [s.reason for s in result.skipped] == ["Already a member of Retail."]
    assert GroupMembership.objects.filter(group=group).count() == 3
    rows = AuditEvent.objects.filter(action="group.add_member").order_by("target_label")
    assert [(r.target_type, r.target_label, r.after) for r in rows] == [
        ("user", "user001", {"group": "Retail", "group_id": group.pk}),
        ("user", "user002", {"group": "Retail", "group_id": group.pk}),
    ]

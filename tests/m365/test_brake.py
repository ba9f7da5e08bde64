"""The deletion brake (SPEC 2.7) against m365sim: thresholds, held writes, approve, reject."""

from __future__ import annotations

import pytest

from lockstep.directory.actors import Actor
from lockstep.directory.errors import NotFound, PermissionDenied, ValidationFailed
from lockstep.directory.models import AuditEvent, User
from lockstep.directory.services import users
from lockstep.m365.models import Directory, HeldWrite, SyncStatus, UserBinding
from lockstep.m365.services import brake
from m365sim.testing import SimServer

from .test_drift import drift_round
from .test_provision_sync import new_user, remote, sync


@pytest.fixture
def team(directory: Directory, actor: Actor) -> list[User]:
    from lockstep.m365.services import bindings

    people = [new_user(actor, f"crew{i:02d}") for i in range(14)]
    for person in people:
        bindings.bind_user(actor=actor, user_id=person.pk, directory_id=directory.pk)
    sync()
    assert UserBinding.objects.filter(status=SyncStatus.SYNCED).count() == 14
    return people


def suspend(actor: Actor, people: list[User]) -> None:
    for person in people:
        users.change_state(actor=actor, user_id=person.pk, to_state="suspended")


def enabled(sim: SimServer, person: User) -> bool:
    account = remote(sim, person.email)
    assert account is not None
    return bool(account["accountEnabled"])


def test_a_pass_disabling_more_than_both_thresholds_is_held(
    team: list[User], directory: Directory, actor: Actor, sim: SimServer
) -> None:
    suspend(actor, team[:11])  # 11 > 10 accounts and 11/14 > 5 %
    sync()
    assert all(enabled(sim, p) for p in team)
    assert UserBinding.objects.filter(status=SyncStatus.HELD).count() == 11
    held = brake.list_held(actor=actor, directory_id=directory.pk)
    assert len(held) == 11 and {h.username for h in held} == {p.username for p in team[:11]}
    assert held[0].operation == "disable" and "suspended" in held[0].reason


def test_below_the_count_threshold_nothing_is_held(
    team: list[User], directory: Directory, actor: Actor, sim: SimServer
) -> None:
    suspend(actor, team[:3])
    sync()
    assert not HeldWrite.objects.exists()
    assert [enabled(sim, p) for p in team[:4]] == [False, False, False, True]


def test_the_percentage_threshold_must_be_passed_too(
    team: list[User], directory: Directory, actor: Actor, sim: SimServer
) -> None:
    brake.set_brake(actor=actor, directory_id=directory.pk, count=2, percent=50)
    suspend(actor, team[:3])  # 3 > 2 accounts but 3/14 is not over 50 %
    sync()
    assert not HeldWrite.objects.exists() and not enabled(sim, team[0])
    suspend(actor, team[3:11])  # 8 > 2 and 8/14 > 50 %
    sync()
    assert HeldWrite.objects.filter(decision="").count() == 8 and enabled(sim, team[3])


def test_approved_disables_go_out_on_the_next_pass(
    team: list[User], directory: Directory, actor: Actor, sim: SimServer
) -> None:
    suspend(actor, team[:12])
    sync()
    held = brake.list_held(actor=actor, directory_id=directory.pk)
    approved = [h for h in held if h.username in {p.username for p in team[:6]}]
    assert brake.approve_held(actor=actor, directory_id=directory.pk, held_ids=[h.id for h in approved]) == 6
    sync()
    assert [enabled(sim, p) for p in team[:12]] == [False] * 6 + [True] * 6
    assert len(brake.list_held(actor=actor, directory_id=directory.pk)) == 6
    assert HeldWrite.objects.filter(decision="applied").count() == 6  # the approval is used up
    assert AuditEvent.objects.filter(action="m365.brake.approve").count() == 6


def test_rejected_disables_keep_the_accounts_enabled_until_the_next_change(
    team: list[User], directory: Directory, actor: Actor, sim: SimServer
) -> None:
    suspend(actor, team[:12])
    sync()
    held = brake.list_held(actor=actor, directory_id=directory.pk)
    assert brake.reject_held(actor=actor, directory_id=directory.pk, held_ids=[h.id for h in held]) == 12
    sync()
    assert all(enabled(sim, p) for p in team)
    assert UserBinding.objects.filter(status=SyncStatus.HELD).count() == 0
    assert AuditEvent.objects.filter(action="m365.brake.reject").count() == 12
    assert not brake.list_held(actor=actor, directory_id=directory.pk)
    drift_round(directory)  # a full listing: remote enabled vs. Lockstep suspended is not "drift" now
    sync()
    assert all(enabled(sim, p) for p in team)
    # the next change in Lockstep ends the rejection: one disable, under the threshold
    users.update_user(actor=actor, user_id=team[0].pk, changes={"job_title": "Left"})
    sync()
    assert not enabled(sim, team[0]) and enabled(sim, team[1])


def test_brake_settings_and_decisions_are_validated(
    directory: Directory, actor: Actor, read_only_actor: Actor
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        brake.set_brake(actor=actor, directory_id=directory.pk, count=-1, percent=101)
    assert set(refused.value.errors) == {"count", "percent"}
    with pytest.raises(ValidationFailed):
        brake.set_brake(actor=actor, directory_id=directory.pk, count=True, percent=5)  # type: ignore[arg-type]
    with pytest.raises(PermissionDenied):
        brake.set_brake(actor=read_only_actor, directory_id=directory.pk, count=5, percent=5)
    updated = brake.set_brake(actor=actor, directory_id=directory.pk, count=25, percent=10)
    assert (updated.brake_count, updated.brake_percent) == (25, 10)
    assert AuditEvent.objects.filter(action="directory.brake").exists()
    with pytest.raises(ValidationFailed) as empty:
        brake.approve_held(actor=actor, directory_id=directory.pk, held_ids=[])
    assert "held_ids" in empty.value.errors
    with pytest.raises(NotFound):
        brake.reject_held(actor=actor, directory_id=directory.pk, held_ids=[987654])
    with pytest.raises(PermissionDenied):
        brake.approve_held(actor=read_only_actor, directory_id=directory.pk, held_ids=[1])

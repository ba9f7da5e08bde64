"""The deletion brake over its sliding window and at its exact thresholds, against m365sim."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from lockstep.directory.actors import Actor
from lockstep.directory.errors import ValidationFailed
from lockstep.directory.models import User
from lockstep.directory.services import users
from lockstep.m365 import brake_window
from lockstep.m365.graph import auth
from lockstep.m365.models import DestructiveWrite, Directory, Health, HeldWrite, SyncStatus, UserBinding
from lockstep.m365.services import bindings, brake, directories
from lockstep.testing.m365 import sync_until_settled
from m365sim.testing import SimServer

from .test_brake import enabled, suspend
from .test_provision_sync import new_user, sync

DEFAULT_COUNT = 10  # Directory.brake_count's default


def synced_crew(directory: Directory, actor: Actor, size: int) -> list[User]:
    people = [new_user(actor, f"mate{i:02d}") for i in range(size)]
    for person in people:
        bindings.bind_user(actor=actor, user_id=person.pk, directory_id=directory.pk)
    sync()
    assert UserBinding.objects.filter(status=SyncStatus.SYNCED).count() == size
    return people


@pytest.fixture
def crew(directory: Directory, actor: Actor) -> list[User]:
    """14 synced accounts: with the default 5 %, only the count threshold decides (11/14 > 5 %)."""
    return synced_crew(directory, actor, 14)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[timedelta], None]:
    """Move Lockstep's clock (django.utils.timezone.now) forward by a timedelta."""
    shift = timedelta()
    real_now = timezone.now

    def now() -> datetime:
        return real_now() + shift

    def advance(by: timedelta) -> None:
        nonlocal shift
        shift += by

    monkeypatch.setattr(timezone, "now", now)
    return advance


def held_usernames(directory: Directory, actor: Actor) -> set[str]:
    return {h.username for h in brake.list_held(actor=actor, directory_id=directory.pk)}


def test_the_default_window_is_ten_minutes(directory: Directory) -> None:
    assert directory.brake_window_minutes == brake_window.DEFAULT_WINDOW_MINUTES == 10
    assert directory.brake_count == DEFAULT_COUNT


@pytest.mark.parametrize(("suspended", "held"), [(DEFAULT_COUNT, 0), (DEFAULT_COUNT + 1, DEFAULT_COUNT + 1)])
def test_the_count_threshold_at_its_edge(
    crew: list[User], directory: Directory, actor: Actor, sim: SimServer, suspended: int, held: int
) -> None:
    suspend(actor, crew[:suspended])
    sync()
    assert HeldWrite.objects.filter(decision="").count() == held
    assert [enabled(sim, p) for p in crew[:suspended]] == [held > 0] * suspended


@pytest.mark.parametrize(("suspended", "held"), [(7, 0), (8, 8)])
def test_the_percentage_threshold_at_its_edge(
    crew: list[User], directory: Directory, actor: Actor, sim: SimServer, suspended: int, held: int
) -> None:
    brake.set_brake(actor=actor, directory_id=directory.pk, count=0, percent=50)  # 50 % of 14 = 7
    suspend(actor, crew[:suspended])
    sync()
    assert HeldWrite.objects.filter(decision="").count() == held
    assert [enabled(sim, p) for p in crew[:suspended]] == [held > 0] * suspended


@pytest.mark.parametrize("one_at_a_time", [False, True])
def test_twenty_suspensions_one_at_a_time_are_held_like_twenty_at_once(
    directory: Directory, actor: Actor, sim: SimServer, one_at_a_time: bool
) -> None:
    """The brake trips at the same account: the 11th within the window (20 bound, 5 % = 1).

    At once, nothing has gone out yet, so all twenty wait; one at a time, the ten before the
    11th have already gone out (within the thresholds), and every later one waits.
    """
    twenty = synced_crew(directory, actor, 20)
    if one_at_a_time:
        for person in twenty:  # each suspension is synced in its own pass
            suspend(actor, [person])
            sync()
        gone_out = twenty[:DEFAULT_COUNT]
    else:
        suspend(actor, twenty)
        sync()
        gone_out = []
    held = [p for p in twenty if p not in gone_out]
    assert [enabled(sim, p) for p in twenty] == [p in held for p in twenty]
    assert held_usernames(directory, actor) == {p.username for p in held}
    assert UserBinding.objects.filter(status=SyncStatus.HELD).count() == len(held)
    assert {h.reason for h in brake.list_held(actor=actor, directory_id=directory.pk)} == {
        "the user is suspended in Lockstep"
    }


def test_the_percentage_counts_over_the_window_too(
    crew: list[User], directory: Directory, actor: Actor, sim: SimServer
) -> None:
    brake.set_brake(actor=actor, directory_id=directory.pk, count=0, percent=50)
    for person in crew[:7]:
        suspend(actor, [person])
        sync()
    assert not HeldWrite.objects.exists() and not enabled(sim, crew[6])
    suspend(actor, [crew[7]])  # the 8th within the window: 8/14 > 50 %
    sync()
    assert held_usernames(directory, actor) == {crew[7].username} and enabled(sim, crew[7])


def test_the_window_slides(
    crew: list[User],
    directory: Directory,
    actor: Actor,
    sim: SimServer,
    clock: Callable[[timedelta], None],
) -> None:
    suspend(actor, crew[:DEFAULT_COUNT])
    sync()
    assert not HeldWrite.objects.exists()
    # The window counts from when the brake let the ten through: under replication lag they go
    # out seconds later (a 404 for accounts created moments ago is retried), so the clock is
    # set from their record, not from the end of the pass.
    [recorded_at] = set(DestructiveWrite.objects.filter(directory=directory).values_list("at", flat=True))
    clock(recorded_at + timedelta(minutes=9, seconds=59) - timezone.now())  # still within the window
    suspend(actor, [crew[10]])
    sync()
    assert held_usernames(directory, actor) == {crew[10].username} and enabled(sim, crew[10])
    clock(timedelta(seconds=1))  # ten minutes after them: they have left the window
    suspend(actor, crew[11:14])
    sync()
    assert [enabled(sim, p) for p in crew[11:14]] == [False, False, False]
    assert held_usernames(directory, actor) == {crew[10].username}  # a held disable waits for an admin


def test_a_longer_window_keeps_counting(
    crew: list[User],
    directory: Directory,
    actor: Actor,
    sim: SimServer,
    clock: Callable[[timedelta], None],
) -> None:
    brake.set_brake(actor=actor, directory_id=directory.pk, count=2, percent=5, window_minutes=30)
    suspend(actor, crew[:2])
    sync()
    clock(timedelta(minutes=29))
    suspend(actor, [crew[2]])
    sync()
    assert held_usernames(directory, actor) == {crew[2].username}
    clock(timedelta(minutes=1))
    suspend(actor, [crew[3]])
    sync()
    assert not enabled(sim, crew[3])


def test_approved_disables_are_not_counted(
    crew: list[User], directory: Directory, actor: Actor, sim: SimServer
) -> None:
    suspend(actor, crew[:12])
    sync()
    held = brake.list_held(actor=actor, directory_id=directory.pk)
    brake.approve_held(actor=actor, directory_id=directory.pk, held_ids=[h.id for h in held])
    sync()
    assert not any(enabled(sim, p) for p in crew[:12])
    suspend(actor, [crew[12]])  # the admin reviewed the twelve: one more is within the thresholds
    sync()
    assert not enabled(sim, crew[12]) and not HeldWrite.objects.filter(decision="").exists()


def test_the_window_counts_each_account_once(directory: Directory) -> None:
    ten = [f"account-{i}" for i in range(DEFAULT_COUNT)]
    first = brake_window.admit(directory, ten, bound=14)
    assert first.admitted == first.recorded == set(ten) and not first.held
    again = brake_window.admit(directory, ten[:3], bound=14)  # retried disables of the same accounts
    assert again.admitted == set(ten[:3]) and not again.held and not again.recorded
    mixed = brake_window.admit(directory, [*ten[:3], "account-new"], bound=14)
    assert mixed.admitted == set(ten[:3]) and mixed.held == {"account-new"} and not mixed.recorded
    assert DestructiveWrite.objects.filter(directory=directory).values("remote_id").distinct().count() == 10


def test_records_of_disables_never_sent_are_released(directory: Directory) -> None:
    ten = [f"account-{i}" for i in range(DEFAULT_COUNT)]
    brake_window.admit(directory, ten[:4], bound=14)
    later = brake_window.admit(directory, ten, bound=14)
    assert later.recorded == set(ten[4:])
    brake_window.release_unsent(directory, later, sent={ten[4]})  # the pass paused after one went out
    assert set(DestructiveWrite.objects.values_list("remote_id", flat=True)) == set(ten[:5])


@pytest.mark.parametrize("status", [503, 404])
def test_a_retried_disable_the_brake_let_through_is_never_held(
    crew: list[User], directory: Directory, actor: Actor, sim: SimServer, status: int
) -> None:
    """Ten disables go through the brake and fail (a transient 503, or a 404 for accounts just
    created: replication lag); on their retry pass an 11th suspension arrives. The ten were let
    through already and go out; only the 11th, new and over the count, is held."""
    failing = sim.sim.faults.add("status", method="PATCH", path=r"^/v1\.0/users/[^/]+$", status=status)
    suspend(actor, crew[:DEFAULT_COUNT])
    sync_until_settled(passes=1, wait_limit=0)  # one pass: every disable fails
    assert all(enabled(sim, p) for p in crew[:DEFAULT_COUNT]) and not HeldWrite.objects.exists()
    assert DestructiveWrite.objects.count() == DEFAULT_COUNT  # attempted, so counted
    sim.sim.faults.remove(failing.id)
    suspend(actor, [crew[DEFAULT_COUNT]])
    UserBinding.objects.update(retry_at=None)  # the retries come due together with the new one
    sync()
    assert [enabled(sim, p) for p in crew[: DEFAULT_COUNT + 1]] == [False] * DEFAULT_COUNT + [True]
    assert held_usernames(directory, actor) == {crew[DEFAULT_COUNT].username}
    assert DestructiveWrite.objects.count() == DEFAULT_COUNT


@pytest.mark.parametrize("pause", ["recycle_bin_refused", "secret_expired"])
def test_disables_of_a_paused_pass_are_not_counted(
    crew: list[User], directory: Directory, actor: Actor, sim: SimServer, pause: str
) -> None:
    """A pass paused before its disables go out records none of them: paused while looking for
    soft-deleted accounts before a create (403), or with no token at all (the write step)."""
    if pause == "recycle_bin_refused":
        newcomer = new_user(actor, "newcomer")  # a create: the pass lists the recycle bin first
        bindings.bind_user(actor=actor, user_id=newcomer.pk, directory_id=directory.pk)
        sim.sim.faults.add("status", method="GET", path=r"/directory/deletedItems", status=403)
    else:
        sim.sim.faults.add("secret_expired")
        auth.clear_app_cache()  # the token cached before the fault runs out
    suspend(actor, crew[:DEFAULT_COUNT])
    sync()
    directory.refresh_from_db()
    assert directory.health == Health.RED, "the pass was not paused"
    assert all(enabled(sim, p) for p in crew[:DEFAULT_COUNT])
    assert not DestructiveWrite.objects.exists()
    for person in crew[:DEFAULT_COUNT]:  # reactivated before the directory resumes: never sent
        users.change_state(actor=actor, user_id=person.pk, to_state="active")
    sim.sim.faults.clear()
    directories.verify_directory(actor=actor, directory_id=directory.pk)
    suspend(actor, [crew[DEFAULT_COUNT]])
    sync()
    assert not enabled(sim, crew[DEFAULT_COUNT]) and not HeldWrite.objects.exists()
    assert all(enabled(sim, p) for p in crew[:DEFAULT_COUNT])


def test_window_setting_is_validated(directory: Directory, actor: Actor) -> None:
    for bad in (0, brake_window.MAX_WINDOW_MINUTES + 1, True, "10"):
        with pytest.raises(ValidationFailed) as refused:
            brake.set_brake(actor=actor, directory_id=directory.pk, count=10, percent=5, window_minutes=bad)  # type: ignore[arg-type]
        assert set(refused.value.errors) == {"window_minutes"}
        assert "minutes" in refused.value.errors["window_minutes"][0]
    kept = brake.set_brake(actor=actor, directory_id=directory.pk, count=3, percent=5)
    assert kept.brake_window_minutes == 10  # unchanged when not given

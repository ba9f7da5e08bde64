"""Memberships reach Microsoft 365 through `members@odata.bind`, 20 per write (graph-facts §2.2,
§2.3), against m365sim over HTTPS. Old code: one `POST .../members/$ref` write per member."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from lockstep.directory.actors import Actor
from lockstep.directory.models import Group, User
from lockstep.directory.services import groups
from lockstep.m365 import engine, group_engine, sync_loop
from lockstep.m365.models import Directory, GroupBinding, SyncStatus, UserBinding
from lockstep.m365.services import bindings
from lockstep.testing.m365 import sync_until_settled
from m365sim.testing import SimServer

from .test_provision_sync import new_user, writes


@pytest.fixture
def port(directory: Directory) -> Iterator[Any]:
    ports = sync_loop.PortCache()
    yield ports.port_for(directory)
    ports.close()


def bound_users(actor: Actor, directory: Directory, prefix: str, count: int) -> list[User]:
    made = [new_user(actor, f"{prefix}{i:03d}") for i in range(count)]
    for user in made:
        bindings.bind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    return made


def bound_group(actor: Actor, directory: Directory, name: str, members: list[User]) -> Group:
    group = groups.create_group(actor=actor, fields={"name": name})
    if members:
        groups.add_members(actor=actor, group_id=group.pk, user_ids=[u.pk for u in members])
    bindings.bind_group(actor=actor, group_id=group.pk, directory_id=directory.pk)
    return group


def remote_id(user: User) -> str:
    return UserBinding.objects.get(user=user).remote_id


def remote_members(sim: SimServer, group: Group) -> set[str]:
    return set(sim.sim.tenant.members[GroupBinding.objects.get(group=group).remote_id])


def group_writes(sim: SimServer) -> list[dict[str, Any]]:
    return [w for w in writes(sim) if w["path"].startswith("/groups")]


@pytest.mark.lag_sensitive(reason="counts writes; a lagging replica's 404s add retries")
def test_onboarding_takes_one_write_per_user_and_one_per_20_members(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    people = bound_users(actor, directory, "onb", 45)
    teams = [
        bound_group(actor, directory, "Team A", people),
        bound_group(actor, directory, "Team B", people[:30]),
    ]
    sim.clear_request_log()
    sync_until_settled()
    fewest = len(people) + math.ceil(45 / 20) + math.ceil(30 / 20)
    assert len(writes(sim)) == fewest  # old code: 2 group creates + 75 `$ref` writes
    assert remote_members(sim, teams[0]) == {remote_id(u) for u in people}
    assert remote_members(sim, teams[1]) == {remote_id(u) for u in people[:30]}
    assert not [w for w in group_writes(sim) if w["path"].endswith("/$ref")]


@pytest.mark.lag_sensitive(reason="counts writes; a lagging replica's 404s add retries")
def test_a_new_groups_existing_members_are_bound_at_creation(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    people = bound_users(actor, directory, "early", 3)
    sync_until_settled()
    team = bound_group(actor, directory, "Early Birds", people)
    sim.clear_request_log()
    sync_until_settled()
    assert [(w["method"], w["path"]) for w in writes(sim)] == [("POST", "/groups")]
    assert remote_members(sim, team) == {remote_id(u) for u in people}
    assert GroupBinding.objects.get(group=team).status == SyncStatus.SYNCED


@pytest.mark.lag_sensitive(reason="counts writes; a lagging replica's 404s add retries")
def test_members_wait_for_accounts_being_created_to_share_a_write(
    directory: Directory, actor: Actor, sim: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Accounts created 8 per pass: the group still gets its 30 members in ceil(30/20) writes
    (the create carrying 20, one PATCH with the last 10), not a PATCH per pass."""
    monkeypatch.setattr(engine, "CLAIM_LIMIT", 8)
    people = bound_users(actor, directory, "wave", 30)
    team = bound_group(actor, directory, "Waves", people)
    sim.clear_request_log()
    sync_until_settled(passes=12)
    assert remote_members(sim, team) == {remote_id(u) for u in people}
    assert len(group_writes(sim)) == 2
    assert len(writes(sim)) == 30 + 2


@pytest.mark.lag_sensitive(reason="a stale member read is simulated by the port, not by lag")
def test_a_chunk_refused_for_an_existing_member_is_added_member_by_member(
    directory: Directory, actor: Actor, sim: SimServer, port: Any
) -> None:
    """The member list read missed one member already there: the PATCH is refused as a whole
    (400, nothing added), so each member of that chunk is added on its own and none is lost."""
    people = bound_users(actor, directory, "dup", 5)
    team = bound_group(actor, directory, "Dupes", [])
    sync_until_settled()
    gid = GroupBinding.objects.get(group=team).remote_id
    already = remote_id(people[0])
    sim.sim.tenant.add_member(gid, already)  # added in the admin centre
    groups.add_members(actor=actor, group_id=team.pk, user_ids=[u.pk for u in people])

    class StalePort:
        """The real port, but the member read has not seen the admin centre's add yet."""

        def __getattr__(self, name: str) -> Any:
            return getattr(port, name)

        def member_ids(self, group_id: str) -> frozenset[str]:
            return port.member_ids(group_id) - {already}

    sim.clear_request_log()
    group_engine.run_group_pass(directory, StalePort())  # type: ignore[arg-type]
    sent = [(w["method"], w["path"], w["status"]) for w in group_writes(sim)]
    assert sent[0] == ("PATCH", f"/groups/{gid}", 400)
    assert sorted(sent[1:]) == sorted(
        [("POST", f"/groups/{gid}/members/$ref", 400)] + [("POST", f"/groups/{gid}/members/$ref", 204)] * 4
    )
    assert remote_members(sim, team) == {remote_id(u) for u in people}
    binding = GroupBinding.objects.get(group=team)
    assert binding.status != SyncStatus.ERROR, binding.last_error
    sync_until_settled()
    binding.refresh_from_db()
    assert binding.status == SyncStatus.SYNCED and binding.applied_version == binding.desired_version


def test_a_removed_member_is_still_removed_by_its_own_ref(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    people = bound_users(actor, directory, "rem", 3)
    team = bound_group(actor, directory, "Leavers", people)
    sync_until_settled()
    groups.remove_members(actor=actor, group_id=team.pk, user_ids=[people[1].pk])
    sim.clear_request_log()
    sync_until_settled()
    gid = GroupBinding.objects.get(group=team).remote_id
    assert [(w["method"], w["path"]) for w in writes(sim) if w["status"] == 204] == [
        ("DELETE", f"/groups/{gid}/members/{remote_id(people[1])}/$ref")
    ]
    assert remote_members(sim, team) == {remote_id(people[0]), remote_id(people[2])}


@pytest.mark.lag_sensitive(reason="runs passes back to back; a lagging replica hides the new group")
def test_a_bound_member_gone_from_microsoft_365_costs_its_own_add_not_the_group(
    directory: Directory, actor: Actor, sim: SimServer, port: Any
) -> None:
    """A member deleted in Microsoft 365 behind Lockstep's back makes the atomic create and the
    PATCH answer 404: the group is still created, every other member still added (the chunk
    resent member by member, once), and only the missing member holds the group back."""
    people = bound_users(actor, directory, "gone", 4)
    sync_until_settled()
    UserBinding.objects.update(remote_created_at=timezone.now() - timedelta(hours=1))  # not lag
    gone = remote_id(people[2])
    del sim.sim.tenant.users[gone]  # hard-deleted, unnoticed by Lockstep
    team = bound_group(actor, directory, "Survivors", people)
    sim.clear_request_log()
    group_engine.run_group_pass(directory, port)
    assert [(w["method"], w["status"]) for w in group_writes(sim)] == [("POST", 404), ("POST", 201)]
    group_engine.run_group_pass(directory, port)
    assert remote_members(sim, team) == {remote_id(u) for u in people} - {gone}
    assert len([w for w in group_writes(sim) if w["path"].endswith("/$ref")]) == 4
    binding = GroupBinding.objects.get(group=team)
    assert binding.status == SyncStatus.PENDING  # a new group's 404: maybe lag, retried shortly
    GroupBinding.objects.filter(pk=binding.pk).update(
        remote_created_at=timezone.now() - timedelta(hours=1), retry_at=None
    )
    sim.clear_request_log()
    group_engine.run_group_pass(directory, port)
    assert [(w["method"], w["status"]) for w in group_writes(sim)] == [
        ("PATCH", 404)
    ]  # one member: no resend
    binding.refresh_from_db()
    assert binding.status == SyncStatus.ERROR and binding.last_error_code == "Request_ResourceNotFound"

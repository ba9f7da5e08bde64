"""The start-up check: bound objects deleted in Microsoft 365 while Lockstep was stopped are noticed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from lockstep.directory.actors import Actor
from lockstep.directory.services import groups
from lockstep.m365 import startup_check, sync_loop
from lockstep.m365.models import Directory, GroupBinding, SyncStatus, UserBinding
from lockstep.m365.remote_deletions import GROUP_DELETED_WORDS
from lockstep.m365.services import bindings
from lockstep.m365.sync_pass import REMOTE_DELETED_WORDS, REMOTE_PURGED_WORDS
from lockstep.testing.m365 import wait_for_replication
from m365sim.testing import SimServer

from .test_provision_sync import new_user, remote, sync, writes


def check(directory: Directory) -> list[startup_check.StartupCheck]:
    ports = sync_loop.PortCache()
    try:
        return startup_check.check_all(sync_loop.active_directories(), ports)
    finally:
        ports.close()


def created_long_ago() -> None:
    """Lockstep was stopped for a while: its objects are past Microsoft 365's replication grace."""
    earlier = timezone.now() - timedelta(hours=1)
    UserBinding.objects.update(remote_created_at=earlier)
    GroupBinding.objects.update(remote_created_at=earlier)


def batch_reads(sim: SimServer) -> list[dict[str, Any]]:
    return [r for r in sim.request_log() if r.get("in_batch") and r["method"] == "GET"]


@pytest.fixture
def bound(directory: Directory, actor: Actor, sim: SimServer) -> dict[str, Any]:
    people = {name: new_user(actor, name) for name in ("kept", "recycled", "purged")}
    for user in people.values():
        bindings.bind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    team = groups.create_group(actor=actor, fields={"name": "Night shift"})
    groups.add_members(actor=actor, group_id=team.pk, user_ids=[people["kept"].pk])
    bindings.bind_group(actor=actor, group_id=team.pk, directory_id=directory.pk)
    sync()
    wait_for_replication(sim)
    found = {name: UserBinding.objects.get(user=user) for name, user in people.items()}
    found["group"] = GroupBinding.objects.get(group=team)
    assert all(b.status == SyncStatus.SYNCED and b.remote_id for b in found.values())
    return found


def test_objects_deleted_behind_lockstep_are_marked_and_never_recreated(
    bound: dict[str, Any], directory: Directory, actor: Actor, sim: SimServer
) -> None:
    created_long_ago()
    with sim.client() as http:
        for name in ("recycled", "purged"):
            assert http.delete(f"/users/{bound[name].remote_id}").status_code == 204
        assert http.delete(f"/directory/deletedItems/{bound['purged'].remote_id}").status_code == 204
        assert http.delete(f"/groups/{bound['group'].remote_id}").status_code == 204
    wait_for_replication(sim)
    sim.clear_request_log()

    (result,) = check(directory)

    assert (result.users_checked, result.users_missing) == (3, 2)
    assert (result.groups_checked, result.groups_missing) == (1, 1)
    assert len(batch_reads(sim)) == 4  # one GET per bound object, inside `$batch` requests
    kept = UserBinding.objects.get(pk=bound["kept"].pk)
    assert kept.status == SyncStatus.SYNCED and kept.remote_deleted_at is None
    recycled = UserBinding.objects.get(pk=bound["recycled"].pk)
    assert recycled.status == SyncStatus.ERROR and recycled.last_error == REMOTE_DELETED_WORDS
    assert recycled.remote_deleted_at is not None
    purged = UserBinding.objects.get(pk=bound["purged"].pk)
    assert purged.status == SyncStatus.ERROR and purged.last_error == REMOTE_PURGED_WORDS
    assert purged.last_error_code == "purged_in_m365"
    group = GroupBinding.objects.get(pk=bound["group"].pk)
    assert group.status == SyncStatus.ERROR and group.last_error == GROUP_DELETED_WORDS

    sim.clear_request_log()
    sync()
    assert writes(sim) == []  # nothing re-created on its own
    assert remote(sim, "purged@contoso.com") is None


def test_nothing_missing_costs_two_batches_and_changes_nothing(
    bound: dict[str, Any], directory: Directory, sim: SimServer
) -> None:
    created_long_ago()
    sim.clear_request_log()
    (result,) = check(directory)
    assert (result.users_missing, result.groups_missing) == (0, 0)
    outer = [r["path"] for r in sim.request_log() if not r.get("in_batch") and "/oauth2/" not in r["path"]]
    assert outer == ["/$batch", "/$batch"]  # users, groups; no recycle-bin listing
    assert set(UserBinding.objects.values_list("status", flat=True)) == {SyncStatus.SYNCED}


def test_objects_created_moments_ago_are_not_read(
    bound: dict[str, Any], directory: Directory, sim: SimServer
) -> None:
    """A 404 right after Lockstep created an object is replication lag, not a deletion."""
    with sim.client() as http:
        assert http.delete(f"/users/{bound['kept'].remote_id}").status_code == 204
    sim.clear_request_log()
    (result,) = check(directory)
    assert result.users_checked == 0 and result.groups_checked == 0
    assert batch_reads(sim) == []
    assert UserBinding.objects.get(pk=bound["kept"].pk).status == SyncStatus.SYNCED


def test_a_refused_read_is_not_a_deletion(
    bound: dict[str, Any], directory: Directory, sim: SimServer
) -> None:
    created_long_ago()
    sim.set_consent(sim.client_id, False)
    check(directory)
    statuses = set(UserBinding.objects.values_list("status", flat=True))
    statuses |= set(GroupBinding.objects.values_list("status", flat=True))
    assert statuses == {SyncStatus.SYNCED}
    assert not UserBinding.objects.exclude(remote_deleted_at=None).exists()

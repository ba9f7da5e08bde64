"""Unbinding a group (SPEC 2.5): Lockstep stops managing the security group and leaves it in
Microsoft 365 as it is, members included (a deleted security group cannot be restored)."""

from __future__ import annotations

from typing import Any

import pytest

from lockstep.directory.actors import Actor
from lockstep.directory.errors import NotFound
from lockstep.directory.models import AuditEvent
from lockstep.directory.services import groups
from lockstep.m365.models import Directory, GroupBinding, SyncStatus
from lockstep.m365.services import bindings
from m365sim.testing import SimServer

from .test_provision_sync import new_user, sync, writes


def test_unbinding_a_group_leaves_microsoft_365_alone_and_audits(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    member = new_user(actor, "grace")
    group = groups.create_group(actor=actor, fields={"name": "Pilots"})
    groups.add_members(actor=actor, group_id=group.pk, user_ids=[member.pk])
    bindings.bind_user(actor=actor, user_id=member.pk, directory_id=directory.pk)
    bindings.bind_group(actor=actor, group_id=group.pk, directory_id=directory.pk)
    sync()
    binding = GroupBinding.objects.get(group=group)
    assert binding.status == SyncStatus.SYNCED and binding.remote_id
    members_before = dict(sim.sim.tenant.members.get(binding.remote_id, {}))
    assert members_before

    sim.clear_request_log()
    bindings.unbind_group(actor=actor, group_id=group.pk, directory_id=directory.pk)
    assert not GroupBinding.objects.filter(group=group).exists()
    groups.remove_members(actor=actor, group_id=group.pk, user_ids=[member.pk])  # no longer synced
    sync()
    assert writes(sim) == []
    assert binding.remote_id in sim.sim.tenant.groups
    assert dict(sim.sim.tenant.members.get(binding.remote_id, {})) == members_before
    event = AuditEvent.objects.get(action="group.unbind")
    assert event.target_id == str(group.pk) and event.before == {"remote_id": binding.remote_id}

    with pytest.raises(NotFound):  # nothing bound any more
        bindings.unbind_group(actor=actor, group_id=group.pk, directory_id=directory.pk)
    bindings.bind_group(actor=actor, group_id=group.pk, directory_id=directory.pk)  # binding again works
    assert GroupBinding.objects.filter(group=group, remote_id="").exists()


def test_unbinding_needs_write_access(directory: Directory, actor: Actor, read_only_actor: Actor) -> None:
    from lockstep.directory.errors import PermissionDenied

    group = groups.create_group(actor=actor, fields={"name": "Pilots"})
    bindings.bind_group(actor=actor, group_id=group.pk, directory_id=directory.pk)
    with pytest.raises(PermissionDenied):
        bindings.unbind_group(actor=read_only_actor, group_id=group.pk, directory_id=directory.pk)
    assert GroupBinding.objects.filter(group=group).exists()


def test_unbinding_a_group_over_the_api(directory: Directory, actor: Actor, api: Any) -> None:
    group = groups.create_group(actor=actor, fields={"name": "Pilots"})
    bindings.bind_group(actor=actor, group_id=group.pk, directory_id=directory.pk)
    url = f"/api/v1/groups/{group.pk}/bindings/{directory.pk}"
    assert api.delete(url).status_code == 204
    assert not GroupBinding.objects.filter(group=group).exists()
    assert AuditEvent.objects.filter(action="group.unbind", target_id=str(group.pk)).count() == 1
    again = api.delete(url)
    assert again.status_code == 404

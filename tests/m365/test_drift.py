"""Drift detection through delta queries (SPEC 2.4), end to end against m365sim over HTTPS."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from lockstep.directory.actors import Actor
from lockstep.directory.errors import ValidationFailed
from lockstep.directory.services import groups, users
from lockstep.m365 import drift, sync_loop
from lockstep.m365.engine import run_user_pass
from lockstep.m365.models import Directory, GroupBinding, SyncStatus, UserBinding
from lockstep.m365.services import accounts, bindings
from lockstep.testing.m365 import wait_for_replication
from m365sim.testing import SimServer

from .test_provision_sync import new_user, remote, sync, writes


def drift_round(directory: Directory) -> drift.DriftResult:
    directory.refresh_from_db()
    ports = sync_loop.PortCache()
    try:
        return drift.run_drift(directory, ports.port_for(directory).client)
    finally:
        ports.close()


def graph_calls(sim: SimServer) -> list[dict[str, Any]]:
    return [r for r in sim.request_log() if "/oauth2/" not in r["path"] and not r.get("in_batch")]


def patch_remote(sim: SimServer, object_id: str, body: dict[str, Any]) -> None:
    wait_for_replication(sim)  # an admin changes an account Microsoft 365 has finished creating
    with sim.client() as http:
        assert http.patch(f"/users/{object_id}", json=body).status_code == 204


@pytest.fixture
def bound(directory: Directory, actor: Actor, sim: SimServer) -> UserBinding:
    user = new_user(actor, "drifty", fields={"job_title": "Engineer", "department": "R&D"})
    bindings.bind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    sync()
    wait_for_replication(sim)
    drift_round(directory)  # the first round (a full listing) stores the deltaLink
    binding = UserBinding.objects.get(user=user)
    assert binding.status == SyncStatus.SYNCED and binding.remote_id
    return binding


def test_managed_attribute_changed_in_m365_is_put_back(
    bound: UserBinding, directory: Directory, sim: SimServer
) -> None:
    patch_remote(sim, bound.remote_id, {"jobTitle": "Changed in the admin center"})
    result = drift_round(directory)
    assert result.users_bumped == 1 and not result.full_users
    binding = UserBinding.objects.get(pk=bound.pk)
    assert binding.desired_version > binding.applied_version
    assert binding.last_applied["jobTitle"] == "Changed in the admin center"
    sync()
    assert remote(sim, "drifty@contoso.com")["jobTitle"] == "Engineer"  # type: ignore[index]
    assert UserBinding.objects.get(pk=bound.pk).status == SyncStatus.SYNCED


def test_unmanaged_attribute_is_left_alone(
    bound: UserBinding, directory: Directory, actor: Actor, sim: SimServer
) -> None:
    managed = [a for a in directory.managed() if a != "department"]
    accounts.set_managed_attributes(actor=actor, directory_id=directory.pk, attributes=managed)
    drift_round(directory)  # the $select changed: a full round again
    patch_remote(sim, bound.remote_id, {"department": "Changed remotely", "jobTitle": "Also changed"})
    drift_round(directory)
    before = len(writes(sim))
    sync()
    account = remote(sim, "drifty@contoso.com")
    assert account is not None
    assert account["department"] == "Changed remotely"  # not managed: stays
    assert account["jobTitle"] == "Engineer"  # managed: put back
    assert len(writes(sim)) - before == 1


def test_quiet_periodic_pass_costs_at_most_five_requests(
    bound: UserBinding, directory: Directory, sim: SimServer
) -> None:
    sim.clear_request_log()
    result = drift_round(directory)
    calls = graph_calls(sim)
    assert len(calls) <= 5, calls
    assert [c["path"] for c in calls] == ["/users/delta", "/groups/delta"]
    assert result.users_changed == 0 and result.users_bumped == 0 and result.requests == 2


def test_remote_soft_delete_turns_the_binding_to_error_and_is_never_recreated(
    bound: UserBinding, directory: Directory, actor: Actor, sim: SimServer
) -> None:
    with sim.client() as http:
        assert http.delete(f"/users/{bound.remote_id}").status_code == 204
    result = drift_round(directory)
    assert result.users_deleted == 1
    binding = UserBinding.objects.get(pk=bound.pk)
    assert binding.status == SyncStatus.ERROR and binding.remote_deleted_at is not None
    assert "Deleted in Microsoft 365; restore it or unbind" in binding.last_error
    users.update_user(actor=actor, user_id=bound.user_id, changes={"job_title": "Still here"})
    sim.clear_request_log()
    sync()
    assert writes(sim) == [] and not [r for r in sim.request_log() if r.get("in_batch")]
    assert remote(sim, "drifty@contoso.com") is None  # not re-created
    assert UserBinding.objects.get(pk=bound.pk).status == SyncStatus.ERROR

    # restored in Microsoft 365 by its admin: it reappears in delta and syncs again
    with sim.client() as http:
        assert http.post(f"/directory/deletedItems/{bound.remote_id}/restore").status_code == 200
    wait_for_replication(sim)
    result = drift_round(directory)
    assert result.users_restored == 1
    sync()
    binding = UserBinding.objects.get(pk=bound.pk)
    assert binding.status == SyncStatus.SYNCED and binding.remote_deleted_at is None
    assert remote(sim, "drifty@contoso.com")["jobTitle"] == "Still here"  # type: ignore[index]


def test_unbinding_a_remotely_deleted_account_just_forgets_it(
    bound: UserBinding, directory: Directory, actor: Actor, sim: SimServer
) -> None:
    with sim.client() as http:
        assert http.delete(f"/users/{bound.remote_id}").status_code == 204
    drift_round(directory)
    bindings.unbind_user(actor=actor, user_id=bound.user_id, directory_id=directory.pk)  # type: ignore[arg-type]
    sim.clear_request_log()
    sync()
    assert not UserBinding.objects.exists()
    assert writes(sim) == []


def test_extra_member_added_in_m365_is_removed_and_removed_member_comes_back(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    member = new_user(actor, "member")
    bindings.bind_user(actor=actor, user_id=member.pk, directory_id=directory.pk)
    group = groups.create_group(actor=actor, fields={"name": "Drift Group"})
    groups.add_members(actor=actor, group_id=group.pk, user_ids=[member.pk])
    bindings.bind_group(actor=actor, group_id=group.pk, directory_id=directory.pk)
    sync()
    wait_for_replication(sim)
    drift_round(directory)
    gb = GroupBinding.objects.get(group=group)
    mb = UserBinding.objects.get(user=member)
    assert set(sim.sim.tenant.members[gb.remote_id]) == {mb.remote_id}

    stranger = next(
        uid for uid, u in sim.sim.tenant.users.items() if u["userPrincipalName"].endswith("@contoso.com")
    )
    base = sim.graph_base_url
    with sim.client() as http:
        ref = {"@odata.id": f"{base}/directoryObjects/{stranger}"}
        assert http.post(f"/groups/{gb.remote_id}/members/$ref", json=ref).status_code == 204
    wait_for_replication(sim)
    result = drift_round(directory)
    assert result.groups_bumped == 1
    sync()
    assert set(sim.sim.tenant.members[gb.remote_id]) == {mb.remote_id}

    drift_round(directory)  # our own removal comes back through delta: nothing to do
    assert (
        GroupBinding.objects.get(pk=gb.pk).desired_version
        == GroupBinding.objects.get(pk=gb.pk).applied_version
    )

    with sim.client() as http:
        assert http.delete(f"/groups/{gb.remote_id}/members/{mb.remote_id}/$ref").status_code == 204
    wait_for_replication(sim)
    assert drift_round(directory).groups_bumped == 1
    sync()
    assert set(sim.sim.tenant.members[gb.remote_id]) == {mb.remote_id}


def test_delta_reset_starts_a_full_resync(bound: UserBinding, directory: Directory, sim: SimServer) -> None:
    old_link = Directory.objects.get(pk=directory.pk).users_delta_link
    patch_remote(sim, bound.remote_id, {"jobTitle": "Changed before the reset"})
    sim.sim.delta_reset_pending.add("user")
    result = drift_round(directory)
    assert result.full_users
    assert Directory.objects.get(pk=directory.pk).users_delta_link not in ("", old_link)
    assert UserBinding.objects.get(pk=bound.pk).desired_version > bound.desired_version
    sync()
    assert remote(sim, "drifty@contoso.com")["jobTitle"] == "Engineer"  # type: ignore[index]


def test_first_round_with_nothing_bound_asks_for_latest_only(directory: Directory, sim: SimServer) -> None:
    sim.clear_request_log()
    result = drift_round(directory)
    assert not result.full_users and result.requests == 2
    assert all("deltatoken=latest" in c["query"] for c in graph_calls(sim)), graph_calls(sim)
    assert Directory.objects.get(pk=directory.pk).users_delta_link


def test_drift_is_a_periodic_step_of_the_sync_loop(
    directory: Directory, sim: SimServer, settings: Any
) -> None:
    settings.M365_DRIFT_SECONDS = 3600
    sync_loop.run_once(ports=sync_loop.PortCache())
    assert Directory.objects.get(pk=directory.pk).drift_checked_at is not None
    sim.clear_request_log()
    sync_loop.run_once(ports=sync_loop.PortCache())
    assert not [c for c in graph_calls(sim) if "/delta" in c["path"]]  # not due yet
    settings.M365_DRIFT_SECONDS = 0
    sync_loop.run_once(ports=sync_loop.PortCache())
    assert [c for c in graph_calls(sim) if "/delta" in c["path"]]


def test_managed_attributes_setting_is_validated(directory: Directory, actor: Actor) -> None:
    with pytest.raises(ValidationFailed) as refused:
        accounts.set_managed_attributes(
            actor=actor, directory_id=directory.pk, attributes=["jobTitle", "favouriteColour", "mailNickname"]
        )
    message = " ".join(refused.value.errors["managed_attributes"])
    assert (
        "favouriteColour" in message
        and "mailNickname" in message
        and "jobTitle" not in message.split(":")[1].split(".")[0]
    )
    with pytest.raises(ValidationFailed):
        accounts.set_managed_attributes(actor=actor, directory_id=directory.pk, attributes=[])
    updated = accounts.set_managed_attributes(actor=actor, directory_id=directory.pk, attributes=["jobTitle"])
    assert updated.managed() == ["jobTitle"] and updated.users_delta_link == ""


def test_drift_repair_is_audited_as_put_back_with_the_value_found_in_m365(
    bound: UserBinding, directory: Directory, actor: Actor, sim: SimServer
) -> None:
    from lockstep.console import audit_query
    from lockstep.directory.models import AuditEvent

    patch_remote(sim, bound.remote_id, {"jobTitle": "Changed in the admin center"})
    drift_round(directory)
    [event] = AuditEvent.objects.filter(action="m365.drift_repair")
    assert event.target_id == str(bound.user_id) and event.before == {
        "jobTitle": "Changed in the admin center"
    }
    [row] = audit_query.rows([event])
    assert row.plain is not None and row.category == "Microsoft 365 writes"
    assert [c.text for c in row.plain.changes] == [
        "Job title: Engineer — put back: was Changed in the admin center in Microsoft 365"
    ]
    # a Lockstep edit not yet written when Microsoft 365 changes another field is not a repair
    users.update_user(actor=actor, user_id=bound.user_id, changes={"job_title": "Lead"})
    patch_remote(sim, bound.remote_id, {"department": "Changed there"})
    drift_round(directory)
    latest = AuditEvent.objects.filter(action="m365.drift_repair").latest("id")
    assert latest.pk != event.pk and latest.before == {"department": "Changed there"}
    assert latest.after is not None and "jobTitle" not in latest.after


def test_an_account_lockstep_created_reads_back_as_written_and_drift_stores_nothing(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    drift_round(directory)  # nothing bound yet: the round only stores a deltaLink
    link = Directory.objects.get(pk=directory.pk).users_delta_link
    user = new_user(actor, "readback", fields={"job_title": "Engineer"})
    bindings.bind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    ports = sync_loop.PortCache()
    assert run_user_pass(directory, ports.port_for(directory)).writes == 1  # the create; no drift round
    ports.close()
    wait_for_replication(sim)
    assert Directory.objects.get(pk=directory.pk).users_delta_link == link
    before = UserBinding.objects.get(user=user)
    with CaptureQueriesContext(connection) as queries:
        result = drift_round(directory)
    assert result.users_changed == 1 and result.users_bumped == 0  # the account came back ...
    updates = [q["sql"] for q in queries if q["sql"].startswith('UPDATE "m365_userbinding"')]
    assert updates == []  # ... as Lockstep wrote it: nothing to store
    after = UserBinding.objects.get(user=user)
    assert after.last_applied == before.last_applied and after.last_applied["businessPhones"] == []

"""Deactivate a directory (SPEC 2.6): export first, typed confirmation, Microsoft 365 untouched."""

from __future__ import annotations

import csv
import io

import pytest

from lockstep.directory.actors import Actor
from lockstep.directory.errors import PermissionDenied, ValidationFailed
from lockstep.directory.models import AuditEvent, User
from lockstep.directory.services import groups, users
from lockstep.m365.models import (
    Directory,
    GraphBudget,
    GroupBinding,
    HeldWrite,
    ImportBatch,
    PendingPassword,
    SyncActivity,
    UserBinding,
)
from lockstep.m365.services import bindings, deactivate, directories
from m365sim.testing import SimServer

from .conftest import directory_fields
from .test_provision_sync import new_user, remote, sync


@pytest.fixture
def busy(directory: Directory, actor: Actor) -> Directory:
    """A directory with synced users and a group, a held write, an import batch and activity."""
    people = [new_user(actor, name) for name in ("ann", "bob", "cal")]
    for person in people:
        bindings.bind_user(actor=actor, user_id=person.pk, directory_id=directory.pk)
    group = groups.create_group(actor=actor, fields={"name": "=Ops"})
    groups.add_members(actor=actor, group_id=group.pk, user_ids=[people[0].pk])
    bindings.bind_group(actor=actor, group_id=group.pk, directory_id=directory.pk)
    sync()
    HeldWrite.objects.create(directory=directory, binding=UserBinding.objects.first(), operation="disable")
    ImportBatch.objects.create(directory=directory, state="done")
    users.set_password(actor=actor, user_id=people[1].pk, password="Another-Long-Pass-77")
    assert PendingPassword.objects.exists() and SyncActivity.objects.exists() and GraphBudget.objects.exists()
    return directory


def test_export_lists_every_binding(busy: Directory, actor: Actor) -> None:
    text = deactivate.export_bindings(actor=actor, directory_id=busy.pk)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["kind"] for r in rows] == ["user"] * 3 + ["group"]
    ann = next(r for r in rows if r["name"] == "ann")
    binding = UserBinding.objects.get(user__username="ann")
    assert ann["email"] == "ann@contoso.com" and ann["remote_id"] == binding.remote_id
    assert ann["user_principal_name"] == "ann@contoso.com" and ann["status"] == "synced" and ann["last_sync"]
    assert rows[-1]["name"] == "'=Ops"  # no spreadsheet formulas


def test_wrong_confirmation_deletes_nothing(busy: Directory, actor: Actor, read_only_actor: Actor) -> None:
    with pytest.raises(ValidationFailed) as refused:
        deactivate.deactivate_directory(actor=actor, directory_id=busy.pk, typed_confirmation="contoso 365")
    message = refused.value.errors["confirmation"][0]
    assert "Contoso 365" in message and "exactly" in message and "starts from nothing" in message
    with pytest.raises(PermissionDenied):
        deactivate.deactivate_directory(
            actor=read_only_actor, directory_id=busy.pk, typed_confirmation=busy.name
        )
    assert Directory.objects.filter(pk=busy.pk).exists() and UserBinding.objects.count() == 3


def test_deactivate_forgets_everything_and_leaves_microsoft_365_untouched(
    busy: Directory, actor: Actor, sim: SimServer
) -> None:
    accounts_before = {uid: dict(u) for uid, u in sim.sim.tenant.users.items()}
    groups_before = {gid: dict(g) for gid, g in sim.sim.tenant.groups.items()}
    sim.clear_request_log()
    counts = deactivate.deactivate_directory(
        actor=actor, directory_id=busy.pk, typed_confirmation="Contoso 365"
    )
    assert counts == {"user_bindings": 3, "group_bindings": 1, "held_writes": 1, "import_batches": 1}
    sync()
    assert sim.request_log() == []  # nothing reached Microsoft 365
    assert {uid: dict(u) for uid, u in sim.sim.tenant.users.items()} == accounts_before
    assert {gid: dict(g) for gid, g in sim.sim.tenant.groups.items()} == groups_before
    assert remote(sim, "ann@contoso.com")["accountEnabled"] is True  # type: ignore[index]
    for model in (Directory, UserBinding, GroupBinding, HeldWrite, ImportBatch, SyncActivity, GraphBudget):
        assert not model.objects.exists(), model
    assert not PendingPassword.objects.exists()
    assert User.objects.count() == 3  # Lockstep's users stay
    event = AuditEvent.objects.get(action="directory.deactivate")
    assert event.target_label == "Contoso 365" and event.after["user_bindings"] == 3  # type: ignore[index]


def test_reactivating_starts_from_nothing(busy: Directory, actor: Actor, sim: SimServer) -> None:
    deactivate.deactivate_directory(actor=actor, directory_id=busy.pk, typed_confirmation="Contoso 365")
    again, _ = directories.add_directory(actor=actor, fields=directory_fields(sim))
    assert again.pk != busy.pk
    assert not again.user_bindings.exists() and not again.users_delta_link and not again.held_writes.exists()

"""Takeover keeps an account's onPremisesImmutableId (issue 7.5), against m365sim over HTTPS.

Import and adopt-on-bind: the Lockstep user's immutable id becomes the account's value and
nothing ever overwrites it in Microsoft 365; an account without one gets Lockstep's. Clashes
(another user has the value; the user is bound elsewhere with a different one) are refused
with the reason, and leave nothing half written.
"""

from __future__ import annotations

from typing import Any

import pytest

from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict
from lockstep.directory.models import AuditEvent, IssuedImmutableId, User
from lockstep.directory.services import users
from lockstep.m365 import immutable_ids
from lockstep.m365.models import (
    CredentialKind,
    Directory,
    ImportBatch,
    ImportedAccount,
    SyncStatus,
    UserBinding,
)
from lockstep.m365.services import bindings, import_batches, imports
from m365sim.testing import SimServer

from .test_import_batches import ids, outcomes, run, scan, sync, writes_since


def anchored_account(sim: SimServer, index: int = 0) -> dict[str, Any]:
    """A licensed, enabled contoso.com account of the demo tenant that carries an immutable id."""
    found = [
        u
        for u in sim.sim.tenant.users.values()
        if u["userPrincipalName"].endswith("@contoso.com")
        and u.get("onPremisesImmutableId")
        and u.get("assignedLicenses")
        and u.get("accountEnabled")
        and not sim.sim.tenant.roles_of(u["id"])
    ]
    return dict(sorted(found, key=lambda u: u["userPrincipalName"])[index])


def immutable_id_patches() -> list[dict[str, Any]]:
    """The PATCHes Lockstep sent that set onPremisesImmutableId (its audit row per Graph write)."""
    rows = AuditEvent.objects.filter(action="m365.update_user").values_list("after", flat=True)
    return [after for after in rows if "onPremisesImmutableId" in (after or {})]


def other_directory(actor: Actor) -> Directory:
    return Directory.objects.create(
        organization_id=actor.organization_id,
        name="Fabrikam 365",
        tenant_id="other-tenant",
        client_id="other-app",
        credential_kind=CredentialKind.SECRET,
    )


def test_import_creating_a_user_keeps_the_accounts_immutable_id(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    remote = anchored_account(sim)
    anchor = remote["onPremisesImmutableId"]
    scan(actor, directory)
    batch = run(actor, directory, candidate_ids=ids(remote["userPrincipalName"]))
    assert outcomes(batch)[remote["userPrincipalName"]][0] == "created"
    user = User.objects.get(email=remote["userPrincipalName"])
    assert user.immutable_id == anchor
    assert IssuedImmutableId.objects.filter(value=anchor).exists()  # never issued to anyone else
    event = AuditEvent.objects.get(action="user.immutable_id.keep", target_id=str(user.pk))
    assert event.after["immutable_id"] == anchor and event.after["remote_id"] == remote["id"]
    sync()
    assert UserBinding.objects.get(user=user).status == SyncStatus.SYNCED
    assert sim.sim.tenant.users[remote["id"]]["onPremisesImmutableId"] == anchor
    assert immutable_id_patches() == []
    assert sim.sim.tenant.find_by_immutable_id(anchor)["id"] == remote["id"]  # type: ignore[index]


def test_import_binding_an_existing_user_gives_it_the_accounts_immutable_id(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    remote = anchored_account(sim)
    anchor = remote["onPremisesImmutableId"]
    user = users.create_user(
        actor=actor, fields={"username": "anchored", "email": remote["userPrincipalName"]}
    )
    own = user.immutable_id
    scan(actor, directory)
    plan = imports.plan_for(actor=actor, candidate_id=ids(remote["userPrincipalName"])[0])
    (change,) = [c for c in plan.changes if c.property == "onPremisesImmutableId"]
    assert (change.current, change.planned, change.changes) == (anchor, anchor, False)  # the preview says so
    batch = run(actor, directory, candidate_ids=ids(remote["userPrincipalName"]))
    assert outcomes(batch)[remote["userPrincipalName"]][0] == "bound"
    user.refresh_from_db()
    assert user.immutable_id == anchor and own != anchor
    sync()
    assert sim.sim.tenant.users[remote["id"]]["onPremisesImmutableId"] == anchor
    assert immutable_id_patches() == []


def test_an_account_without_an_immutable_id_gets_lockstep_s_own(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    remote = next(
        u
        for u in sorted(sim.sim.tenant.users.values(), key=lambda u: u["userPrincipalName"])
        if u["userPrincipalName"].endswith("@contoso.com")
        and not u.get("onPremisesImmutableId")
        and u.get("assignedLicenses")
        and u.get("accountEnabled")
        and not sim.sim.tenant.roles_of(u["id"])
    )
    scan(actor, directory)
    run(actor, directory, candidate_ids=ids(remote["userPrincipalName"]))
    sync()
    user = User.objects.get(email=remote["userPrincipalName"])
    assert len(user.immutable_id) == 32
    assert sim.sim.tenant.users[remote["id"]]["onPremisesImmutableId"] == user.immutable_id


def test_import_of_an_immutable_id_another_user_has_is_skipped_with_the_reason(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    remote = anchored_account(sim)
    anchor = remote["onPremisesImmutableId"]
    holder = users.create_user(actor=actor, fields={"username": "holder", "email": "holder@contoso.com"})
    User.objects.filter(pk=holder.pk).update(immutable_id=anchor)  # e.g. taken over from another tenant
    scan(actor, directory)
    batch = run(actor, directory, candidate_ids=ids(remote["userPrincipalName"]))
    outcome, reason = outcomes(batch)[remote["userPrincipalName"]]
    assert outcome == "skipped"
    assert anchor in reason and "holder" in reason and "cannot share" in reason
    assert not User.objects.filter(email=remote["userPrincipalName"]).exists()
    assert not UserBinding.objects.exists()


def test_a_clash_found_while_importing_undoes_the_whole_takeover(
    directory: Directory, actor: Actor, sim: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another import gives the value to someone else between the plan and the write."""
    remote = anchored_account(sim)
    anchor = remote["onPremisesImmutableId"]
    holder = users.create_user(actor=actor, fields={"username": "holder", "email": "holder@contoso.com"})
    real_create = import_batches.user_service.create_user

    def create_then_race(**kwargs: Any) -> User:
        created = real_create(**kwargs)
        User.objects.filter(pk=holder.pk).update(immutable_id=anchor)
        return created

    monkeypatch.setattr(import_batches.user_service, "create_user", create_then_race)
    scan(actor, directory)
    batch = run(actor, directory, candidate_ids=ids(remote["userPrincipalName"]))
    outcome, reason = outcomes(batch)[remote["userPrincipalName"]]
    assert outcome == "error" and anchor in reason and "holder" in reason
    assert not User.objects.filter(email=remote["userPrincipalName"]).exists()  # the created user is gone
    assert not UserBinding.objects.exists()
    assert ImportBatch.objects.get(pk=batch.pk).failed == 1
    assert not ImportedAccount.objects.filter(batch=batch, created_user=True).exists()


def test_a_user_bound_elsewhere_with_another_immutable_id_is_refused(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    remote = anchored_account(sim)
    user = users.create_user(actor=actor, fields={"username": "twice", "email": remote["userPrincipalName"]})
    UserBinding.objects.create(
        directory=other_directory(actor),
        user=user,
        remote_id="elsewhere",
        last_applied={"onPremisesImmutableId": user.immutable_id},
    )
    scan(actor, directory)
    batch = run(actor, directory, candidate_ids=ids(remote["userPrincipalName"]))
    outcome, reason = outcomes(batch)[remote["userPrincipalName"]]
    assert outcome == "skipped" and "Fabrikam 365" in reason and "one immutable id" in reason
    assert User.objects.get(pk=user.pk).immutable_id == user.immutable_id
    with pytest.raises(Conflict) as refused:
        immutable_ids.take_over(actor=actor, user=user, directory=directory, account=remote)
    assert refused.value.field == "onPremisesImmutableId" and "Fabrikam 365" in refused.value.message


def test_a_user_bound_elsewhere_to_an_account_with_the_same_value_is_fine(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    remote = anchored_account(sim)
    anchor = remote["onPremisesImmutableId"]
    user = users.create_user(actor=actor, fields={"username": "twice", "email": remote["userPrincipalName"]})
    UserBinding.objects.create(
        directory=other_directory(actor),
        user=user,
        remote_id="elsewhere",
        last_applied={"onPremisesImmutableId": anchor},  # e.g. a federated domain Lockstep never wrote
    )
    immutable_ids.take_over(actor=actor, user=user, directory=directory, account=remote)
    assert User.objects.get(pk=user.pk).immutable_id == anchor


def test_bind_adopting_an_account_keeps_its_immutable_id(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    remote = anchored_account(sim)
    anchor = remote["onPremisesImmutableId"]
    user = users.create_user(
        actor=actor, fields={"username": "adopter", "email": remote["userPrincipalName"]}
    )
    bindings.bind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    before = len(sim.request_log())
    sync()
    binding = UserBinding.objects.get(user=user)
    assert binding.remote_id == remote["id"] and binding.adopted
    assert binding.status == SyncStatus.SYNCED, binding.last_error
    assert User.objects.get(pk=user.pk).immutable_id == anchor
    assert sim.sim.tenant.users[remote["id"]]["onPremisesImmutableId"] == anchor
    assert immutable_id_patches() == []
    sent = {(w["method"], w["path"]) for w in writes_since(sim, before)}
    assert ("PATCH", f"/users/{remote['id']}") in sent  # the managed attributes were written


def test_bind_adopting_an_immutable_id_another_user_has_is_parked_with_the_reason(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    remote = anchored_account(sim)
    anchor = remote["onPremisesImmutableId"]
    holder = users.create_user(actor=actor, fields={"username": "holder", "email": "holder@fabrikam.example"})
    User.objects.filter(pk=holder.pk).update(immutable_id=anchor)
    user = users.create_user(
        actor=actor, fields={"username": "adopter", "email": remote["userPrincipalName"]}
    )
    bindings.bind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    sync()
    binding = UserBinding.objects.get(user=user)
    assert binding.status == SyncStatus.ERROR and binding.last_error_code == "immutable_id_conflict"
    assert "holder" in binding.last_error and anchor in binding.last_error
    assert binding.remote_id == "" and not binding.adopted  # nothing adopted
    assert sim.sim.tenant.users[remote["id"]]["onPremisesImmutableId"] == anchor
    assert User.objects.get(pk=user.pk).immutable_id != anchor


def test_undoing_the_import_gives_a_bound_user_its_own_immutable_id_back(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    remote = anchored_account(sim)
    anchor = remote["onPremisesImmutableId"]
    user = users.create_user(actor=actor, fields={"username": "undone", "email": remote["userPrincipalName"]})
    own = user.immutable_id
    scan(actor, directory)
    batch = run(actor, directory, candidate_ids=ids(remote["userPrincipalName"]))
    assert ImportedAccount.objects.get(batch=batch).replaced_immutable_id == own
    assert User.objects.get(pk=user.pk).immutable_id == anchor
    imports.undo_import(actor=actor, batch_id=batch.pk)
    assert User.objects.get(pk=user.pk).immutable_id == own
    assert AuditEvent.objects.filter(action="user.immutable_id.give_back", target_id=str(user.pk)).exists()
    assert sim.sim.tenant.users[remote["id"]]["onPremisesImmutableId"] == anchor  # Microsoft 365 as it was

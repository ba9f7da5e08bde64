"""Explicit Microsoft 365 account deletion and "restore instead of duplicate" (SPEC 2.3) against m365sim."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from lockstep.directory.models import AuditEvent, User
from lockstep.m365 import user_plan
from lockstep.m365.models import Directory, SyncStatus, UserBinding
from lockstep.m365.services import accounts, bindings
from m365sim.testing import SimServer

from .test_provision_sync import new_user, remote, sync


def accounts_named(sim: SimServer, upn: str) -> list[str]:
    return [uid for uid, u in sim.sim.tenant.users.items() if u["userPrincipalName"].lower() == upn.lower()]


def creates(sim: SimServer) -> list[dict[str, object]]:
    return [r for r in sim.request_log() if r["method"] == "POST" and r["path"] == "/users"]


@pytest.fixture
def provisioned(directory: Directory, actor: Actor) -> User:
    user = new_user(actor, "dora", fields={"job_title": "Pilot"})
    bindings.bind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    sync()
    return user


@pytest.fixture(params=[False, True], ids=["deleted-upn-free", "deleted-upn-blocks"])
def blocking(request: pytest.FixtureRequest, sim: SimServer) -> Iterator[bool]:
    """m365sim's switch: does a soft-deleted user's UPN block a new user with the same UPN?"""
    sim.update_settings(soft_deleted_blocks_conflicts=request.param)
    yield bool(request.param)
    sim.update_settings(soft_deleted_blocks_conflicts=False)


def test_delete_needs_explicit_confirmation(provisioned: User, directory: Directory, actor: Actor) -> None:
    with pytest.raises(ValidationFailed) as refused:
        accounts.delete_remote_account(
            actor=actor, user_id=provisioned.pk, directory_id=directory.pk, confirm=False
        )
    assert "confirm" in refused.value.errors and "30 days" in refused.value.errors["confirm"][0]
    assert UserBinding.objects.filter(user=provisioned).exists()


def test_delete_moves_the_account_to_the_recycle_bin_and_unbinds(
    provisioned: User, directory: Directory, actor: Actor, sim: SimServer, read_only_actor: Actor
) -> None:
    with pytest.raises(PermissionDenied):
        accounts.delete_remote_account(
            actor=read_only_actor, user_id=provisioned.pk, directory_id=directory.pk, confirm=True
        )
    remote_id = UserBinding.objects.get(user=provisioned).remote_id
    result = accounts.delete_remote_account(
        actor=actor, user_id=provisioned.pk, directory_id=directory.pk, confirm=True
    )
    assert remote(sim, "dora@contoso.com") is None and remote_id in sim.sim.tenant.deleted
    assert result.remote_id == remote_id and "30 days" in result.message and "recycle bin" in result.message
    assert abs(result.restorable_until - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)
    assert not UserBinding.objects.filter(user=provisioned).exists()
    assert User.objects.filter(pk=provisioned.pk).exists()  # the Lockstep user stays
    event = AuditEvent.objects.get(action="m365.user.delete")
    assert event.before["remote_id"] == remote_id  # type: ignore[index]
    with pytest.raises(NotFound):
        accounts.delete_remote_account(
            actor=actor, user_id=provisioned.pk, directory_id=directory.pk, confirm=True
        )


def test_binding_again_offers_restore_instead_of_a_duplicate(
    blocking: bool, provisioned: User, directory: Directory, actor: Actor, sim: SimServer
) -> None:
    old_id = UserBinding.objects.get(user=provisioned).remote_id
    accounts.delete_remote_account(
        actor=actor, user_id=provisioned.pk, directory_id=directory.pk, confirm=True
    )
    bindings.bind_user(actor=actor, user_id=provisioned.pk, directory_id=directory.pk)
    sim.clear_request_log()
    sync()
    binding = UserBinding.objects.get(user=provisioned)
    assert binding.status == SyncStatus.RESTORE_OFFERED, binding.last_error
    assert binding.restore_candidate_id == old_id and "restore" in binding.last_error.lower()
    assert creates(sim) == [] and accounts_named(sim, "dora@contoso.com") == []
    deleted_listings = [r for r in sim.request_log() if "deletedItems" in r["path"]]
    assert len(deleted_listings) == 1

    restored = accounts.restore_remote_account(actor=actor, binding_id=binding.pk)
    assert restored.remote_id == old_id and restored.status == SyncStatus.PENDING
    sync()
    binding = UserBinding.objects.get(user=provisioned)
    assert binding.status == SyncStatus.SYNCED and binding.remote_id == old_id
    assert accounts_named(sim, "dora@contoso.com") == [old_id]
    assert old_id not in sim.sim.tenant.deleted
    assert AuditEvent.objects.filter(action="m365.user.restore").exists()


def test_restore_is_only_for_an_offered_binding(provisioned: User, actor: Actor) -> None:
    binding = UserBinding.objects.get(user=provisioned)
    with pytest.raises(Conflict):
        accounts.restore_remote_account(actor=actor, binding_id=binding.pk)
    with pytest.raises(NotFound):
        accounts.restore_remote_account(actor=actor, binding_id=987654)


def test_one_recycle_bin_listing_per_pass_with_creates(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    people = [new_user(actor, f"fresh{i}") for i in range(5)]
    for person in people:
        bindings.bind_user(actor=actor, user_id=person.pk, directory_id=directory.pk)
    sim.clear_request_log()
    sync()
    assert len([r for r in sim.request_log() if "deletedItems" in r["path"]]) == 1
    assert UserBinding.objects.filter(status=SyncStatus.SYNCED).count() == 5
    sim.clear_request_log()
    from lockstep.directory.services import users

    users.update_user(actor=actor, user_id=people[0].pk, changes={"job_title": "No create here"})
    sync()
    assert not [r for r in sim.request_log() if "deletedItems" in r["path"]]  # no creates: no listing


def test_deleted_account_matches_by_immutable_id_only() -> None:
    """graph-facts §12.3: never by (prefixed) UPN, mail or proxy address, which may be someone else's."""
    entra_renamed = {"id": "a", "userPrincipalName": "0123456789abcdef0123456789abcdefjo@contoso.com"}
    by_proxy = {"id": "b", "userPrincipalName": "x@contoso.com", "proxyAddresses": ["smtp:al@contoso.com"]}
    by_immutable = {"id": "c", "userPrincipalName": "y@contoso.com", "onPremisesImmutableId": "imm-1"}
    deleted = [entra_renamed, by_proxy, by_immutable]
    assert user_plan.deleted_match(deleted, "imm-1") is by_immutable
    assert user_plan.deleted_match(deleted, "other") is None
    assert user_plan.deleted_match(deleted, "") is None


def test_deleting_an_admin_role_holder_is_refused_in_plain_words(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    from m365sim.state import GLOBAL_ADMIN

    tenant = sim.sim.tenant
    admin_id = next(
        uid
        for uid, u in tenant.users.items()
        if GLOBAL_ADMIN in tenant.roles_of(uid) and u["userPrincipalName"].endswith("@contoso.com")
    )
    upn = tenant.users[admin_id]["userPrincipalName"]
    from lockstep.directory.services import users

    user = users.create_user(actor=actor, fields={"username": upn.split("@")[0], "email": upn})
    bindings.bind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    sync()
    assert UserBinding.objects.get(user=user).remote_id == admin_id
    with pytest.raises(Conflict) as refused:
        accounts.delete_remote_account(actor=actor, user_id=user.pk, directory_id=directory.pk, confirm=True)
    assert "admin role" in refused.value.message
    assert admin_id in tenant.users

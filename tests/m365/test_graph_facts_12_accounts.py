"""graph-facts §12.3, the account side: users synced from on-premises AD are never adopted, UPN
moves into and out of federated domains carry what Entra needs, deleted accounts are matched by
immutable id (never by their id-prefixed UPN) and restored under Lockstep's UPN with their groups
planned again. End to end against m365sim's strict defaults over HTTPS."""

from __future__ import annotations

from typing import Any

from lockstep.directory.actors import Actor
from lockstep.directory.models import AuditEvent
from lockstep.directory.services import groups, users
from lockstep.m365 import importer, mapping, reconcile, takeover
from lockstep.m365.models import (
    Directory,
    GroupBinding,
    ImportCandidate,
    ImportedAccount,
    SyncStatus,
    UserBinding,
)
from lockstep.m365.services import accounts, bindings, imports
from lockstep.testing.m365 import wait_for_replication
from m365sim.testing import SimServer

from .test_provision_sync import new_user, remote, sync

SYNCED_UPN = "lee.gu45@contoso.com"  # m365sim's demo: synced from on-premises AD


def scan(actor: Actor, directory: Directory) -> None:
    done = imports.scan_candidates(actor=actor, directory_id=directory.pk, wait=True)
    assert done.state == "done", done.error


def federate(sim: SimServer, directory: Directory, domain: str = "fabrikam.com") -> None:
    sim.sim.tenant.domains[domain].authenticationType = "Federated"
    directory.domains.filter(name=domain).update(authentication_type="Federated")


# --- a. users synced from on-premises AD ------------------------------------------------------------


def test_scan_flags_synced_accounts_with_the_reason(directory: Directory, actor: Actor) -> None:
    scan(actor, directory)
    synced = ImportCandidate.objects.get(upn=SYNCED_UPN)
    assert synced.attributes["onPremisesSyncEnabled"] is True
    assert "Entra Connect" in synced.reason and "source of authority" in synced.reason
    assert importer.synced(synced)
    assert not importer.synced(ImportCandidate.objects.get(upn="adele.vance@contoso.com"))
    # no option makes it importable: the reason stays with every flag set
    why = takeover.eligibility(synced, confirm_admins=True, include_unlicensed=True, include_disabled=True)
    assert not why.ok and why.reasons == [mapping.SYNCED_FROM_ON_PREMISES]


def test_import_of_everything_skips_synced_accounts(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    scan(actor, directory)
    before = dict(remote(sim, SYNCED_UPN) or {})
    batch = imports.start_import(
        actor=actor,
        directory_id=directory.pk,
        filter=imports.CandidateFilter(search="lee.gu45"),
        confirm_admins=True,
        include_unlicensed=True,
        include_disabled=True,
        wait=True,
    )
    item = ImportedAccount.objects.get(batch=batch, upn=SYNCED_UPN)
    assert item.outcome == "skipped" and "Entra Connect" in item.reason
    assert not UserBinding.objects.filter(remote_id=before["id"]).exists()
    sync()
    assert remote(sim, SYNCED_UPN) == before


def test_binding_a_user_whose_address_is_a_synced_account_never_adopts_it(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    before = dict(remote(sim, SYNCED_UPN) or {})
    user = new_user(actor, "lee.gu45", fields={"job_title": "Lockstep title"})
    bindings.bind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    sync()
    binding = UserBinding.objects.get(user=user)
    assert binding.status == SyncStatus.ERROR and binding.last_error_code == "synced_from_on_premises"
    assert not binding.remote_id and not binding.adopted
    assert "Entra Connect" in binding.last_error and SYNCED_UPN in binding.last_error
    assert remote(sim, SYNCED_UPN) == before  # untouched
    assert not AuditEvent.objects.filter(action="m365.user.adopt").exists()


# --- b. UPN moves into and out of federated domains -------------------------------------------------


def test_planner_sends_the_immutable_id_with_a_move_into_a_federated_domain() -> None:
    desired = reconcile.DesiredUser("ann@fabrikam.com", "ann", "imm-ann", True)
    [op] = reconcile.plan_user(
        desired=desired,
        remote_id="r1",
        last_known={"userPrincipalName": "ann@contoso.com", "accountEnabled": True},
        managed=(),
        password=None,
        random_password=lambda: "unused",
        federated=True,
        federated_before=False,
    )
    assert op.body == {"userPrincipalName": "ann@fabrikam.com", "onPremisesImmutableId": "imm-ann"}


def test_planner_sends_a_password_with_a_move_out_of_a_federated_domain() -> None:
    desired = reconcile.DesiredUser("ann@contoso.com", "ann", "imm-ann", True)
    known = {
        "userPrincipalName": "ann@fabrikam.com",
        "accountEnabled": True,
        "onPremisesImmutableId": "imm-ann",
    }
    common: dict[str, Any] = dict(
        desired=desired, remote_id="r1", last_known=known, managed=(), federated=False, federated_before=True
    )
    [held] = reconcile.plan_user(**common, password="Held-Pass-42x", random_password=lambda: "unused")
    assert held.body == {
        "userPrincipalName": "ann@contoso.com",
        "passwordProfile": {"password": "Held-Pass-42x", "forceChangePasswordNextSignIn": False},
    }
    assert not held.random_password and "Held-Pass" not in held.describe()
    [generated] = reconcile.plan_user(**common, password=None, random_password=lambda: "Rand0m-xyz-123!")
    assert generated.random_password and generated.body is not None
    assert generated.body["passwordProfile"]["password"] == "Rand0m-xyz-123!"
    # no move: no password, and no immutable id change while federated
    stay = reconcile.plan_user(
        desired=reconcile.DesiredUser("ann@fabrikam.com", "ann", "imm-new", True),
        remote_id="r1",
        last_known=known,
        managed=(),
        password=None,
        random_password=lambda: "unused",
        federated=True,
    )
    assert stay == []


def test_move_out_of_a_federated_domain_end_to_end(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    federate(sim, directory)
    user = new_user(actor, "farah", domain="fabrikam.com")
    bindings.bind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    sync()
    binding = UserBinding.objects.get(user=user)
    assert binding.status == SyncStatus.SYNCED, binding.last_error
    old_password = sim.sim.tenant.passwords[binding.remote_id]
    users.update_user(actor=actor, user_id=user.pk, changes={"email": "farah@contoso.com"})
    sync()
    binding.refresh_from_db()
    assert binding.status == SyncStatus.SYNCED, binding.last_error
    account = remote(sim, "farah@contoso.com")
    assert account is not None and account["id"] == binding.remote_id
    assert sim.sim.tenant.passwords[binding.remote_id] != old_password
    assert "passwordProfile" not in binding.last_applied  # never stored
    event = AuditEvent.objects.filter(action="m365.update_user").latest("id")
    assert "random" in str(event.after) and sim.sim.tenant.passwords[binding.remote_id] not in str(
        event.after
    )


def test_move_into_a_federated_domain_end_to_end(directory: Directory, actor: Actor, sim: SimServer) -> None:
    """An account without an immutable id (created outside Lockstep) moves with one."""
    user = new_user(actor, "ivo", domain="fabrikam.com")
    with sim.client() as http:
        body = {
            "accountEnabled": True,
            "displayName": "Ivo",
            "mailNickname": "ivo",
            "userPrincipalName": "ivo.old@contoso.com",
            "passwordProfile": {"password": "Xq7#mLp2vR!k"},
        }
        remote_id = http.post("/users", json=body).json()["id"]
    wait_for_replication(sim)  # the account existed (fully replicated) before it was linked
    UserBinding.objects.create(
        directory=directory,
        user=user,
        remote_id=remote_id,
        remote_upn="ivo.old@contoso.com",
        last_applied={"userPrincipalName": "ivo.old@contoso.com", "accountEnabled": True},
    )
    federate(sim, directory)
    sync()
    binding = UserBinding.objects.get(user=user)
    assert binding.status == SyncStatus.SYNCED, binding.last_error
    account = remote(sim, "ivo@fabrikam.com")
    assert account is not None and account["onPremisesImmutableId"] == user.immutable_id


# --- h. deleted users: matched by immutable id, restored under Lockstep's UPN ------------------------


def test_someone_elses_deleted_account_with_the_same_address_is_not_offered(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    """An address reused for a new person: the old person's deleted account is not theirs."""
    with sim.client() as http:
        old = http.get("/users/adele.vance@contoso.com").json()["id"]
        assert http.delete(f"/users/{old}").status_code == 204
    person = new_user(actor, "adele.vance")
    bindings.bind_user(actor=actor, user_id=person.pk, directory_id=directory.pk)
    sync()
    binding = UserBinding.objects.get(user=person)
    assert binding.status == SyncStatus.SYNCED, binding.last_error
    assert binding.remote_id and binding.remote_id != old and old in sim.sim.tenant.deleted


def test_restore_brings_the_account_back_under_the_users_current_address(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    user = new_user(actor, "rita")
    team = groups.create_group(actor=actor, fields={"name": "Rita's team"})
    groups.add_members(actor=actor, group_id=team.pk, user_ids=[user.pk])
    bindings.bind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    bindings.bind_group(actor=actor, group_id=team.pk, directory_id=directory.pk)
    sync()
    old_id = UserBinding.objects.get(user=user).remote_id
    accounts.delete_remote_account(actor=actor, user_id=user.pk, directory_id=directory.pk, confirm=True)
    assert sim.sim.tenant.deleted[old_id]["userPrincipalName"] == old_id.replace("-", "") + "rita@contoso.com"
    users.update_user(actor=actor, user_id=user.pk, changes={"email": "rita.new@contoso.com"})
    bindings.bind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    sync()
    binding = UserBinding.objects.get(user=user)
    assert binding.status == SyncStatus.RESTORE_OFFERED and binding.restore_candidate_id == old_id
    group_binding = GroupBinding.objects.get(group=team)
    version = group_binding.desired_version
    restored = accounts.restore_remote_account(actor=actor, binding_id=binding.pk)
    # restored under the UPN Lockstep wants now, in one call (not the id-prefixed or old one)
    assert remote(sim, "rita.new@contoso.com")["id"] == old_id  # type: ignore[index]
    assert restored.remote_upn == "rita.new@contoso.com"
    # the user's bound groups are planned again: memberships come back with the restore
    assert GroupBinding.objects.get(pk=group_binding.pk).desired_version == version + 1
    sync()
    group_id = GroupBinding.objects.get(pk=group_binding.pk).remote_id
    assert old_id in sim.sim.tenant.members[group_id]

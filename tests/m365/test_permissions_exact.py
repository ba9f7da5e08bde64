"""Lockstep works with exactly the set-up guide's permissions, and degrades one feature per gap.

Each test registers its own app in m365sim with the set-up guide's permissions (optionally one
fewer) plus the User Administrator role, adds the directory over HTTPS and drives the features.
"""

from __future__ import annotations

from typing import Any

import pytest

from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict
from lockstep.directory.models import User
from lockstep.directory.services import groups, users
from lockstep.m365.models import Directory, Health, SyncStatus, UserBinding
from lockstep.m365.permissions import FEATURES_NEEDING, REQUIRED_SET, calls_matching
from lockstep.m365.services import bindings, directories, imports
from lockstep.testing.m365 import directory_fields, sync_until_settled
from m365sim.state import USER_ADMIN
from m365sim.testing import SimServer

FIRST = "Typed-By-Admin-42x"
SECOND = "Another-Long-Pass-77"


def add_app_directory(
    sim: SimServer,
    actor: Actor,
    roles: list[str],
    directory_roles: tuple[str, ...] = (USER_ADMIN,),
    name: str = "Contoso 365",
) -> tuple[Directory, dict[str, str]]:
    app = sim.add_app(roles=roles, directory_roles=list(directory_roles), display_name="Lockstep (exact)")
    fields = directory_fields(sim, name=name, client_id=app["client_id"], client_secret=app["client_secret"])
    directory, _ = directories.add_directory(actor=actor, fields=fields)
    return directory, app


def sync() -> None:
    """Sync passes until nothing is left, waiting out m365sim's replication lag where Lockstep does."""
    sync_until_settled()


def new_user(actor: Actor, username: str, **kwargs: Any) -> User:
    fields = {"username": username, "email": f"{username}@contoso.com", "first_name": "A", "last_name": "B"}
    return users.create_user(actor=actor, fields=fields, **kwargs)


def refusals(sim: SimServer, since: int = 0) -> list[str]:
    return [f"{r['method']} {r['path']}" for r in sim.request_log(since) if r["status"] == 403]


def provision(actor: Actor, directory: Directory, sim: SimServer, username: str) -> dict[str, Any]:
    user = new_user(actor, username, initial_password=FIRST)
    bindings.bind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    sync()
    account = sim.sim.tenant.find_user(f"{username}@contoso.com")
    assert account is not None, UserBinding.objects.get(user=user).last_error
    assert UserBinding.objects.get(user=user).status == SyncStatus.SYNCED
    return account


def test_exactly_the_guides_set_runs_every_feature_without_a_403(sim: SimServer, actor: Actor) -> None:
    sim.clear_request_log()
    directory, _ = add_app_directory(sim, actor, list(REQUIRED_SET))
    report = directory.verification
    assert directory.health == Health.OK, directory.health_reason
    assert report["missing_permissions"] == [] and report["problems"] == [] and report["pending"] == []
    assert "User Administrator" in report["roles"]
    assert directory.domains.filter(name="contoso.com", is_verified=True).exists()

    scan = imports.scan_candidates(actor=actor, directory_id=directory.pk, wait=True)
    assert scan.state == "done" and scan.error == "" and scan.admins_found >= 1

    user = new_user(actor, "exacta", initial_password=FIRST)
    bindings.bind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    group = groups.create_group(actor=actor, fields={"name": "Exact Team"})
    groups.add_members(actor=actor, group_id=group.pk, user_ids=[user.pk])
    bindings.bind_group(actor=actor, group_id=group.pk, directory_id=directory.pk)
    sync()
    account = sim.sim.tenant.find_user("exacta@contoso.com")
    assert account is not None and sim.sim.tenant.passwords[account["id"]] == FIRST
    remote_group = next(g for g in sim.sim.tenant.groups.values() if g["displayName"] == "Exact Team")
    assert set(sim.sim.tenant.members[remote_group["id"]]) == {account["id"]}

    users.set_password(actor=actor, user_id=user.pk, password=SECOND)
    sync()
    assert sim.sim.tenant.passwords[account["id"]] == SECOND
    groups.remove_members(actor=actor, group_id=group.pk, user_ids=[user.pk])
    sync()
    assert not sim.sim.tenant.members[remote_group["id"]]
    assert refusals(sim) == []
    assert not [r for r in sim.request_log() if r["path"] in ("/organization", "/servicePrincipals")]
    assert uncatalogued(sim.request_log()) == []  # every call Lockstep made is in the set-up guide


def uncatalogued(log: list[dict[str, Any]]) -> list[str]:
    """The requests (inner `$batch` requests too) that match no entry of the permission catalogue."""
    assert log, "m365sim logged no request"
    return sorted({f"{r['method']} {r['path']}" for r in log if not calls_matching(r["method"], r["path"])})


def test_the_request_log_check_catches_a_call_outside_the_catalogue() -> None:
    logged = [
        {"method": "GET", "path": "/users/abc"},
        {"method": "PATCH", "path": "/users/abc"},
        {"method": "DELETE", "path": "/groups/g1/members/u1/$ref"},
        {"method": "POST", "path": "/$batch"},
        {"method": "GET", "path": "/organization"},
        {"method": "GET", "path": "/servicePrincipals"},
        {"method": "GET", "path": "/users/abc/memberOf"},
        {"method": "DELETE", "path": "/groups/g1"},
    ]
    assert uncatalogued(logged) == [
        "DELETE /groups/g1",
        "GET /organization",
        "GET /servicePrincipals",
        "GET /users/abc/memberOf",
    ]


@pytest.mark.parametrize("removed", REQUIRED_SET)
def test_a_missing_permission_is_named_alone_with_what_it_disables(
    removed: str, sim: SimServer, actor: Actor
) -> None:
    directory, _ = add_app_directory(sim, actor, [p for p in REQUIRED_SET if p != removed])
    report = directory.verification
    assert report["missing_permissions"] == [removed]
    assert report["missing_roles"] == [] or removed == "RoleManagement.Read.Directory"
    assert report["disabled_features"][: len(FEATURES_NEEDING[removed])] == list(FEATURES_NEEDING[removed])
    named = [p for p in report["problems"] if removed in p]
    assert named, report["problems"]
    assert directory.health == Health.DEGRADED  # never red for one missing permission
    assert not report["access_denied"]


@pytest.mark.parametrize("removed", ["Group.ReadWrite.All", "RoleManagement.Read.Directory"])
def test_provisioning_and_passwords_work_without_a_permission_they_do_not_need(
    removed: str, sim: SimServer, actor: Actor
) -> None:
    directory, _ = add_app_directory(sim, actor, [p for p in REQUIRED_SET if p != removed])
    account = provision(actor, directory, sim, "solo")
    assert sim.sim.tenant.passwords[account["id"]] == FIRST
    user = User.objects.get(username="solo")
    users.set_password(actor=actor, user_id=user.pk, password=SECOND)
    sync()
    assert sim.sim.tenant.passwords[account["id"]] == SECOND


def test_without_role_management_the_role_check_uses_the_token_and_import_warns(
    sim: SimServer, actor: Actor
) -> None:
    directory, _ = add_app_directory(
        sim, actor, [p for p in REQUIRED_SET if p != "RoleManagement.Read.Directory"]
    )
    report = directory.verification
    assert report["roles"] == ["User Administrator"] and report["missing_roles"] == []
    assert not report["roles_checked"]
    scan = imports.scan_candidates(actor=actor, directory_id=directory.pk, wait=True)
    assert scan.state == "done" and scan.users_seen > 0 and scan.admins_found == 0
    assert "RoleManagement.Read.Directory" in scan.error and "check admin accounts yourself" in scan.error


def test_without_user_write_domains_groups_and_roles_still_work(sim: SimServer, actor: Actor) -> None:
    directory, _ = add_app_directory(sim, actor, [p for p in REQUIRED_SET if p != "User.ReadWrite.All"])
    assert directory.verification["missing_permissions"] == ["User.ReadWrite.All"]
    assert directory.domains.filter(name="contoso.com", is_verified=True).exists()
    assert "User Administrator" in directory.verification["roles"]
    listed = imports.list_remote_groups(actor=actor, directory_id=directory.pk)
    assert any(g.display_name == "Engineering" for g in listed)


def test_without_group_write_users_still_sync_and_groups_wait(sim: SimServer, actor: Actor) -> None:
    directory, _ = add_app_directory(sim, actor, [p for p in REQUIRED_SET if p != "Group.ReadWrite.All"])
    account = provision(actor, directory, sim, "grouper")
    group = groups.create_group(actor=actor, fields={"name": "Waiting Team"})
    bindings.bind_group(actor=actor, group_id=group.pk, directory_id=directory.pk)
    sync()
    assert not any(g["displayName"] == "Waiting Team" for g in sim.sim.tenant.groups.values())
    assert account["accountEnabled"] is True
    directory.refresh_from_db()
    assert directory.health != Health.RED  # one refused feature never stops the others


def test_without_domain_read_domains_kept_and_binds_say_why(sim: SimServer, actor: Actor) -> None:
    directory, app = add_app_directory(sim, actor, list(REQUIRED_SET))
    sim.set_permissions(app["client_id"], roles=[p for p in REQUIRED_SET if p != "Domain.Read.All"])
    report = directories.run_verification(directory)
    assert report.missing_permissions == ["Domain.Read.All"] and not report.domains_read
    assert any("users cannot be bound" in p for p in report.problems)
    assert directory.domains.filter(name="contoso.com").exists()  # the last known domains stay
    provision(actor, directory, sim, "domainless")  # and the features that use them work

    fresh, _ = add_app_directory(
        sim, actor, [p for p in REQUIRED_SET if p != "Domain.Read.All"], name="Contoso again"
    )
    user = new_user(actor, "unbindable")
    with pytest.raises(Conflict) as refused:
        bindings.bind_user(actor=actor, user_id=user.pk, directory_id=fresh.pk)
    assert "lacks Domain.Read.All" in refused.value.message
    assert "Domain.Read.All" in fresh.health_reason


def test_without_the_user_administrator_role_passwords_are_held_and_accounts_sync(
    sim: SimServer, actor: Actor
) -> None:
    directory, _ = add_app_directory(sim, actor, list(REQUIRED_SET), directory_roles=())
    assert directory.verification["missing_roles"] == ["User Administrator"]
    assert any("passwords are held" in p for p in directory.verification["problems"])
    account = provision(actor, directory, sim, "keeper")  # created with its first password
    user = User.objects.get(username="keeper")
    sim.clear_request_log()
    users.set_password(actor=actor, user_id=user.pk, password=SECOND)
    users.update_user(actor=actor, user_id=user.pk, changes={"job_title": "Baker"})
    sync()
    assert sim.sim.tenant.users[account["id"]]["jobTitle"] == "Baker"
    assert sim.sim.tenant.passwords[account["id"]] == FIRST
    binding = UserBinding.objects.get(user=user)
    assert binding.password_pending and binding.status == SyncStatus.SYNCED
    assert refusals(sim) == []  # held, not sent and refused

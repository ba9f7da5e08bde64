"""A permission or role that goes missing later degrades only what needs it (review findings).

Each test registers its own app in m365sim with the set-up guide's permissions, then takes one
permission or role away (or grants it back) and drives the sync loop over HTTP.
"""

from __future__ import annotations

from lockstep.directory.actors import Actor
from lockstep.directory.models import User
from lockstep.directory.services import groups, users
from lockstep.m365 import group_engine, password_hold
from lockstep.m365.graph import auth
from lockstep.m365.models import GroupBinding, Health, PendingPassword, SyncStatus, UserBinding
from lockstep.m365.permissions import REQUIRED_SET
from lockstep.m365.services import bindings, directories
from m365sim.state import USER_ADMIN
from m365sim.testing import SimServer

from .test_graph_facts_12_accounts import federate
from .test_permissions_exact import FIRST, SECOND, add_app_directory, provision, refusals, sync


def test_a_refused_member_read_parks_only_that_group_and_users_keep_syncing(
    sim: SimServer, actor: Actor
) -> None:
    directory, app = add_app_directory(sim, actor, list(REQUIRED_SET))
    provision(actor, directory, sim, "member")
    user = User.objects.get(username="member")
    group = groups.create_group(actor=actor, fields={"name": "Existing Team"})
    bindings.bind_group(actor=actor, group_id=group.pk, directory_id=directory.pk)
    sync()
    binding = GroupBinding.objects.get(group=group)
    assert binding.remote_id and binding.status == SyncStatus.SYNCED  # the group exists in Microsoft 365

    # Group.ReadWrite.All withdrawn: no group permission is left, so the member read is a 403.
    sim.set_permissions(app["client_id"], roles=[p for p in REQUIRED_SET if p != "Group.ReadWrite.All"])
    auth.clear_app_cache()  # the next token carries the new grants
    groups.add_members(actor=actor, group_id=group.pk, user_ids=[user.pk])
    users.update_user(actor=actor, user_id=user.pk, changes={"job_title": "Baker"})
    sync()

    directory.refresh_from_db()
    assert directory.health != Health.RED, directory.health_reason
    binding.refresh_from_db()
    assert binding.status == SyncStatus.ERROR
    assert binding.last_error == group_engine.GROUP_PERMISSION_WORDS
    assert "Group.ReadWrite.All" in binding.last_error
    assert binding.last_error_code == group_engine.REFUSED
    account = sim.sim.tenant.find_user("member@contoso.com")
    assert account is not None and account["jobTitle"] == "Baker"  # user sync goes on
    assert UserBinding.objects.get(user=user).status == SyncStatus.SYNCED
    # and a later user change still syncs: the directory was never paused
    users.update_user(actor=actor, user_id=user.pk, changes={"job_title": "Chef"})
    sync()
    assert sim.sim.tenant.users[account["id"]]["jobTitle"] == "Chef"


def test_a_refused_member_read_with_a_broken_probe_still_pauses_the_directory(
    sim: SimServer, actor: Actor
) -> None:
    directory, app = add_app_directory(sim, actor, list(REQUIRED_SET))
    group = groups.create_group(actor=actor, fields={"name": "Lonely Team"})
    bindings.bind_group(actor=actor, group_id=group.pk, directory_id=directory.pk)
    sync()
    assert GroupBinding.objects.get(group=group).remote_id
    sim.set_permissions(app["client_id"], roles=[])  # consent revoked: nothing works
    auth.clear_app_cache()
    groups.update_group(actor=actor, group_id=group.pk, changes={"description": "x"})
    sync()
    directory.refresh_from_db()
    assert directory.health == Health.RED
    assert GroupBinding.objects.get(group=group).last_error_code != group_engine.REFUSED


def test_held_passwords_are_delivered_once_verify_finds_the_user_administrator_role(
    sim: SimServer, actor: Actor
) -> None:
    directory, app = add_app_directory(sim, actor, list(REQUIRED_SET), directory_roles=())
    account = provision(actor, directory, sim, "patient")
    user = User.objects.get(username="patient")
    users.set_password(actor=actor, user_id=user.pk, password=SECOND)
    sync()
    assert sim.sim.tenant.passwords[account["id"]] == FIRST  # held: no role
    assert UserBinding.objects.get(user=user).password_pending

    sim.set_permissions(app["client_id"], directory_roles=[USER_ADMIN])
    auth.clear_app_cache()
    report = directories.run_verification(directory)
    assert report.missing_roles == []
    sync()  # no other change: the verification alone releases the held password
    assert sim.sim.tenant.passwords[account["id"]] == SECOND
    binding = UserBinding.objects.get(user=user)
    assert not binding.password_pending and binding.status == SyncStatus.SYNCED
    assert not PendingPassword.objects.filter(user=user).exists()  # delivered: erased


def test_a_verify_that_still_finds_no_role_releases_nothing(sim: SimServer, actor: Actor) -> None:
    directory, _ = add_app_directory(sim, actor, list(REQUIRED_SET), directory_roles=())
    provision(actor, directory, sim, "waiting")
    user = User.objects.get(username="waiting")
    users.set_password(actor=actor, user_id=user.pk, password=SECOND)
    sync()
    before = UserBinding.objects.get(user=user).desired_version
    directories.run_verification(directory)
    assert UserBinding.objects.get(user=user).desired_version == before


def test_without_the_role_a_move_out_of_a_federated_domain_waits_and_the_rest_syncs(
    sim: SimServer, actor: Actor
) -> None:
    directory, app = add_app_directory(sim, actor, list(REQUIRED_SET), directory_roles=())
    federate(sim, directory)
    fields = {"username": "farah", "email": "farah@fabrikam.com", "first_name": "F", "last_name": "A"}
    user = users.create_user(actor=actor, fields=fields)
    bindings.bind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    sync()
    account = sim.sim.tenant.find_user("farah@fabrikam.com")
    assert account is not None, UserBinding.objects.get(user=user).last_error
    old_password = sim.sim.tenant.passwords[account["id"]]
    sim.clear_request_log()
    users.update_user(
        actor=actor, user_id=user.pk, changes={"email": "farah@contoso.com", "job_title": "Pilot"}
    )
    sync()
    assert refusals(sim) == []  # held, not sent and refused
    remote_user = sim.sim.tenant.users[account["id"]]
    assert remote_user["jobTitle"] == "Pilot"  # the rest of the PATCH synced
    assert remote_user["userPrincipalName"] == "farah@fabrikam.com"
    binding = UserBinding.objects.get(user=user)
    assert binding.status == SyncStatus.ERROR
    assert binding.last_error_code == password_hold.MOVE_HELD_CODE
    assert binding.last_error == password_hold.MOVE_HELD_WORDS
    assert "needs a password, which needs the User Administrator role" in binding.last_error
    assert "admin role" not in binding.last_error.replace("User Administrator role", "")
    assert binding.desired_version > binding.applied_version  # the move is still to do

    sim.set_permissions(app["client_id"], directory_roles=[USER_ADMIN])
    auth.clear_app_cache()
    directories.run_verification(directory)
    sync()
    binding.refresh_from_db()
    assert binding.status == SyncStatus.SYNCED, binding.last_error
    assert sim.sim.tenant.users[account["id"]]["userPrincipalName"] == "farah@contoso.com"
    assert sim.sim.tenant.passwords[account["id"]] != old_password

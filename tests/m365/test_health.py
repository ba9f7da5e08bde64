"""Sync health (SPEC 2.7) and the pause that resumes, against m365sim over HTTPS."""

from __future__ import annotations

import pytest

from lockstep.directory.actors import Actor
from lockstep.directory.models import User
from lockstep.directory.services import users
from lockstep.m365 import health
from lockstep.m365.graph import auth
from lockstep.m365.models import Directory, Health, HeldWrite, SyncStatus, UserBinding
from lockstep.m365.services import bindings, directories
from lockstep.ops.metrics import REGISTRY
from m365sim.state import GLOBAL_ADMIN
from m365sim.testing import SimServer

from .test_provision_sync import new_user, remote, sync


def admin_role_holder(sim: SimServer) -> str:
    tenant = sim.sim.tenant
    return next(
        u["userPrincipalName"]
        for uid, u in tenant.users.items()
        if GLOBAL_ADMIN in tenant.roles_of(uid) and u["userPrincipalName"].endswith("@contoso.com")
    )


def test_a_403_on_an_admin_role_holder_parks_that_account_only(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    upn = admin_role_holder(sim)
    boss = users.create_user(actor=actor, fields={"username": upn.split("@")[0], "email": upn})
    plain = new_user(actor, "plain")
    for person in (boss, plain):
        bindings.bind_user(actor=actor, user_id=person.pk, directory_id=directory.pk)
        users.change_state(actor=actor, user_id=person.pk, to_state="active")
    sync()
    for person in (boss, plain):
        users.change_state(actor=actor, user_id=person.pk, to_state="suspended")
    sync()
    directory.refresh_from_db()
    assert directory.health == Health.OK, directory.health_reason  # not paused
    assert remote(sim, "plain@contoso.com")["accountEnabled"] is False  # type: ignore[index]
    assert remote(sim, upn)["accountEnabled"] is True  # type: ignore[index]
    binding = UserBinding.objects.get(user=boss)
    assert binding.status == SyncStatus.ERROR and binding.last_error_code == "admin_role_target"
    assert binding.last_error.startswith(
        "Lockstep may not change this account: it probably holds an admin role"
    )
    row = health.get_binding_health(actor=actor, binding_id=binding.pk)
    assert "admin role" in row.what_to_do and row.status == SyncStatus.ERROR
    later = new_user(actor, "later")  # the directory keeps syncing
    bindings.bind_user(actor=actor, user_id=later.pk, directory_id=directory.pk)
    sync()
    assert remote(sim, "later@contoso.com") is not None


@pytest.mark.parametrize("fault", ["secret_expired", "consent_revoked"])
def test_a_directory_paused_by_a_fatal_error_keeps_its_queue_and_resumes_after_verify(
    fault: str, directory: Directory, actor: Actor, sim: SimServer
) -> None:
    user = new_user(actor, "queued")
    bindings.bind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    sync()
    sim.sim.faults.add(fault)
    auth.clear_app_cache()  # time passes: the token cached before the fault runs out
    users.update_user(actor=actor, user_id=user.pk, changes={"job_title": "Waiting"})
    sync()
    directory.refresh_from_db()
    assert directory.health == Health.RED and directory.health_reason
    state = health.directory_health(actor=actor, directory_id=directory.pk)
    assert state.health == Health.RED and state.queue_depth == 1 and "paused" in state.health_reason
    assert remote(sim, "queued@contoso.com")["jobTitle"] != "Waiting"  # type: ignore[index]

    sim.sim.faults.clear()  # the admin renews the secret / grants consent again
    directories.verify_directory(actor=actor, directory_id=directory.pk)
    directory.refresh_from_db()
    assert directory.health == Health.OK, directory.health_reason
    sync()
    assert remote(sim, "queued@contoso.com")["jobTitle"] == "Waiting"  # type: ignore[index]
    state = health.directory_health(actor=actor, directory_id=directory.pk)
    assert state.queue_depth == 0 and state.oldest_pending_age_seconds == 0.0


def test_directory_health_counts_queue_errors_held_and_budget(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    sim.sim.faults.add("status", method="POST", path=r"^/v1\.0/users$", status=400, count=1, inner=True)
    people: list[User] = [new_user(actor, name) for name in ("hana", "ivan", "jack")]
    for person in people:
        bindings.bind_user(actor=actor, user_id=person.pk, directory_id=directory.pk)
    sync()
    synced = UserBinding.objects.filter(status=SyncStatus.SYNCED)
    assert synced.count() == 2
    users.update_user(actor=actor, user_id=synced[0].user_id, changes={"job_title": "Pending"})  # type: ignore[arg-type]
    HeldWrite.objects.create(directory=directory, binding=synced[1], operation="disable")
    state = health.directory_health(actor=actor, directory_id=directory.pk)
    assert state.queue_depth == 2  # the pending change and the parked create
    assert state.oldest_pending_age_seconds > 0
    assert state.error_count == 1 and state.held_count == 1
    assert set(state.budget_in_use) == {"resource_units", "writes"}
    assert state.last_verified is not None and state.health == Health.OK
    rows = {r.name: r for r in health.list_binding_health(actor=actor, directory_id=directory.pk)}
    assert rows[synced[0].user.username].status == SyncStatus.PENDING  # type: ignore[union-attr]
    failed = next(r for r in rows.values() if r.status == SyncStatus.ERROR)
    assert failed.last_error and failed.what_to_do
    problems = health.list_binding_health(actor=actor, directory_id=directory.pk, problems_only=True)
    assert [r.status for r in problems] == [SyncStatus.ERROR]

    labels = {"organization": str(directory.organization_id), "directory": str(directory.pk)}
    assert REGISTRY.get_sample_value("lockstep_m365_queue_depth", labels) == 2
    age = REGISTRY.get_sample_value("lockstep_m365_oldest_pending_age_seconds", labels)
    assert age is not None and age > 0


@pytest.mark.parametrize(
    ("status", "error", "code", "expected"),
    [
        (
            "error",
            "Another Microsoft 365 object already uses this proxyAddresses",
            "ObjectConflict:proxyAddresses",
            "proxy address",
        ),
        (
            "error",
            "A license needs a usage location: set the user's country",
            "Request_BadRequest",
            "usage location",
        ),
        (
            "error",
            "The company email's domain is not verified in this tenant",
            "Request_BadRequest",
            "verified domain",
        ),
        (
            "error",
            "The user's domain is federated, so Microsoft 365 does not accept",
            "Request_BadRequest",
            "immutable id",
        ),
        ("error", "SourceAnchor is a required property", "Request_BadRequest", "immutable id"),
        (
            "error",
            "Lockstep's app lacks a permission or directory role",
            "Authorization_RequestDenied",
            "admin consent",
        ),
        ("error", "", "deleted_in_m365", "Deleted users"),
        ("restore_offered", "a deleted account", "restore_offered", "restore it"),
        ("held", "", "", "approves or rejects"),
        ("not_synced", "Not synced: email domain not in this tenant.", "", "not in this tenant"),
        ("pending", "Microsoft 365 had a temporary problem", "serviceNotAvailable", "retries on its own"),
        ("synced", "", "", ""),
    ],
)
def test_errors_are_translated_into_what_to_do(status: str, error: str, code: str, expected: str) -> None:
    advice = health.what_to_do(status, error, code)
    assert (expected in advice) if expected else advice == ""

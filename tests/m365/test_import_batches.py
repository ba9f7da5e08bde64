"""Import batches (SPEC 2.2): import a selection or a filter, admin confirmation, unlicensed and
disabled accounts, idempotency, the sync pass afterwards, undo within 48 hours and the usage
report, against m365sim's demo tenant over HTTPS."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict, PermissionDenied
from lockstep.directory.models import AuditEvent, User, UserState
from lockstep.directory.services import users
from lockstep.m365 import tasks
from lockstep.m365.models import (
    Directory,
    ImportBatch,
    ImportCandidate,
    ImportedAccount,
    PendingPassword,
    SyncStatus,
    UserBinding,
)
from lockstep.m365.services import imports
from lockstep.testing.m365 import sync_until_settled
from m365sim.seeds import DEMO_PASSWORD
from m365sim.testing import SimServer


def account(sim: SimServer, upn: str) -> dict[str, Any]:
    found = sim.sim.tenant.find_user(upn)
    assert found is not None, upn
    return dict(found)


def sync() -> None:
    sync_until_settled()


def writes_since(sim: SimServer, since: int) -> list[dict[str, Any]]:
    return [
        r
        for r in sim.request_log(since=since)
        if r["method"] != "GET" and "/oauth2/" not in r["path"] and r["path"] != "/$batch"
    ]


def scan(actor: Actor, directory: Directory) -> None:
    done = imports.scan_candidates(actor=actor, directory_id=directory.pk, wait=True)
    assert done.state == "done", done.error


def ids(*upns: str) -> list[int]:
    found = dict(ImportCandidate.objects.filter(upn__in=upns).values_list("upn", "id"))
    assert len(found) == len(upns), set(upns) - set(found)
    return [found[u] for u in upns]


def run(actor: Actor, directory: Directory, **kwargs: Any) -> ImportBatch:
    batch = imports.start_import(actor=actor, directory_id=directory.pk, wait=True, **kwargs)
    assert batch.state == "done", batch.errors
    return batch


def outcomes(batch: ImportBatch) -> dict[str, tuple[str, str]]:
    return {i.upn: (i.outcome, i.reason) for i in ImportedAccount.objects.filter(batch=batch)}


def test_import_of_a_selection_creates_binds_and_records_the_batch(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    matched = users.create_user(
        actor=actor, fields={"username": "nestor", "email": "nestor.wilke@contoso.com", "job_title": "CTO"}
    )
    users.create_user(actor=actor, fields={"username": "tina.muller", "email": "tina@elsewhere.example"})
    scan(actor, directory)
    selection = ids("tina.muller@contoso.com", "nestor.wilke@contoso.com", "allan.sherman@contoso.com")
    batch = run(actor, directory, candidate_ids=selection)

    assert (batch.requested, batch.processed, batch.created_users, batch.bound_existing, batch.skipped) == (
        3,
        3,
        1,
        1,
        1,
    )
    assert batch.failed == 0 and batch.errors == [] and batch.finished_at is not None
    assert batch.created_by is not None and batch.created_by.email == "owner@contoso.com"
    done = outcomes(batch)
    assert done["tina.muller@contoso.com"][0] == "created"
    assert done["nestor.wilke@contoso.com"][0] == "bound"
    assert done["allan.sherman@contoso.com"][0] == "skipped"
    assert "admin role" in done["allan.sherman@contoso.com"][1]

    remote = account(sim, "tina.muller@contoso.com")
    tina = User.objects.get(email="tina.muller@contoso.com")
    assert tina.username == "tina.muller-2"  # the UPN's local part, made unique
    assert (tina.first_name, tina.last_name, tina.display_name) == ("Tina", "Muller", "Tina Muller")
    assert tina.job_title == (remote["jobTitle"] or "") and tina.department == remote["department"]
    assert tina.usage_location == "US" and tina.state == UserState.STAGED and not tina.password_hash
    binding = UserBinding.objects.get(user=tina)
    assert binding.remote_id == remote["id"] and binding.adopted and binding.import_batch_id == batch.pk
    assert binding.last_applied["displayName"] == "Tina Muller" and not binding.password_pending
    assert ImportedAccount.objects.get(batch=batch, user=tina).created_user
    nestor_binding = UserBinding.objects.get(user=matched)
    assert (
        nestor_binding.remote_id == account(sim, "nestor.wilke@contoso.com")["id"] and nestor_binding.adopted
    )
    assert not ImportedAccount.objects.get(batch=batch, user=matched).created_user
    assert not PendingPassword.objects.exists()

    actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert actions.count("m365.import") == 1 and actions.count("m365.import.finish") == 1
    assert AuditEvent.objects.filter(action="user.create", target_id=str(tina.pk)).exists()
    assert AuditEvent.objects.filter(action="user.bind").count() == 2

    # The sync pass writes only the real differences, and never a password.
    before = len(sim.request_log())
    sync()
    sent = {(w["method"], w["path"]) for w in writes_since(sim, before)}
    assert sent == {("PATCH", f"/users/{remote['id']}"), ("PATCH", f"/users/{nestor_binding.remote_id}")}
    tina_now = account(sim, "tina.muller@contoso.com")
    assert tina_now["onPremisesImmutableId"] == tina.immutable_id and tina_now["accountEnabled"] is True
    assert tina_now["displayName"] == remote["displayName"]
    assert account(sim, "nestor.wilke@contoso.com")["jobTitle"] == "CTO"
    assert sim.sim.tenant.passwords[remote["id"]] == DEMO_PASSWORD
    assert sim.sim.tenant.passwords[nestor_binding.remote_id] == DEMO_PASSWORD
    binding.refresh_from_db()
    assert binding.status == SyncStatus.SYNCED and binding.applied_version == binding.desired_version


def test_sync_after_import_makes_no_writes_when_values_already_match(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    remote = account(sim, "joni.gartner@contoso.com")
    joni = users.create_user(
        actor=actor,
        fields={
            "username": "joni",
            "email": "joni.gartner@contoso.com",
            "first_name": "Joni",
            "last_name": "Gartner",
            "display_name": "Joni Gartner",
            "department": remote["department"],
            "usage_location": "US",
        },
    )
    sim.sim.tenant.users[remote["id"]]["onPremisesImmutableId"] = joni.immutable_id
    scan(actor, directory)
    plan = imports.plan_for(actor=actor, candidate_id=ids("joni.gartner@contoso.com")[0])
    assert plan.action == "bind" and plan.writes == [] and not any(c.changes for c in plan.changes)
    run(actor, directory, candidate_ids=ids("joni.gartner@contoso.com"))
    before = len(sim.request_log())
    sync()
    assert writes_since(sim, before) == []
    binding = UserBinding.objects.get(user=joni)
    assert binding.status == SyncStatus.SYNCED and binding.applied_version == binding.desired_version


def test_import_of_a_filter_with_admin_confirmation_and_inclusions(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    scan(actor, directory)
    fabrikam = imports.CandidateFilter(search="@fabrikam.com")
    first = run(actor, directory, filter=fabrikam)
    done = outcomes(first)
    assert first.requested == 8
    assert (
        done["debra.berg@fabrikam.com"][0] == "skipped" and "admin role" in done["debra.berg@fabrikam.com"][1]
    )
    assert done["irvin.robbins@fabrikam.com"] == (
        "skipped",
        "Unlicensed: imported only when unlicensed accounts are included.",
    )
    assert "disabled" in done["zoe.ortiz@fabrikam.com"][1]
    created = {u for u, (o, _) in done.items() if o == "created"}
    assert created == {"lynne.quinn@fabrikam.com", "irvin.robbins41@fabrikam.com"}

    second = run(
        actor,
        directory,
        filter=fabrikam,
        confirm_admins=True,
        include_unlicensed=True,
        include_disabled=True,
        state=UserState.ACTIVE,
    )
    again = outcomes(second)
    assert again["lynne.quinn@fabrikam.com"][0] == "already_bound"
    assert {u for u, (o, _) in again.items() if o == "created"} == {
        "debra.berg@fabrikam.com",
        "irvin.robbins@fabrikam.com",
        "zoe.ortiz@fabrikam.com",
        "raul.sayer@fabrikam.com",
        "debra.berg35@fabrikam.com",
        "lynne.quinn47@fabrikam.com",
    }
    assert User.objects.get(email="debra.berg@fabrikam.com").state == UserState.ACTIVE
    zoe = User.objects.get(email="zoe.ortiz@fabrikam.com")
    assert zoe.state == UserState.SUSPENDED  # a disabled account stays blocked
    before = len(sim.request_log())
    sync()
    zoe_remote = account(sim, "zoe.ortiz@fabrikam.com")
    assert zoe_remote["accountEnabled"] is False
    assert all("accountEnabled" not in str(w) for w in writes_since(sim, before))


def test_importing_twice_creates_nothing_twice(directory: Directory, actor: Actor, sim: SimServer) -> None:
    scan(actor, directory)
    everything = imports.CandidateFilter(search="contoso")
    first = run(actor, directory, filter=everything, include_unlicensed=True)
    users_after_first = User.objects.count()
    bindings_after_first = UserBinding.objects.count()
    assert first.created_users == users_after_first > 20
    second = run(actor, directory, filter=everything, include_unlicensed=True)
    assert second.created_users == 0 and second.bound_existing == 0
    assert second.skipped == second.processed == first.processed
    assert User.objects.count() == users_after_first and UserBinding.objects.count() == bindings_after_first
    # A fresh listing shows them bound; importing again still changes nothing.
    scan(actor, directory)
    assert ImportCandidate.objects.filter(status="bound").count() == users_after_first
    third = run(actor, directory, filter=everything, include_unlicensed=True)
    assert third.created_users == 0 and User.objects.count() == users_after_first


def test_an_interrupted_import_resumes_without_duplicates(directory: Directory, actor: Actor) -> None:
    scan(actor, directory)
    selection = ids("alex.braun@contoso.com", "lidia.gupta@contoso.com")
    batch = run(actor, directory, candidate_ids=selection)
    # A worker that died after the first account: the job runs again from the batch row.
    ImportedAccount.objects.filter(batch=batch, upn="lidia.gupta@contoso.com").delete()
    UserBinding.objects.filter(remote_upn="lidia.gupta@contoso.com").delete()
    User.objects.filter(email="lidia.gupta@contoso.com").delete()
    ImportBatch.objects.filter(pk=batch.pk).update(state="running")
    again = imports.run_import(batch_id=batch.pk)
    assert again.state == "done" and again.created_users == 2 and again.processed == 2
    assert User.objects.filter(email="alex.braun@contoso.com").count() == 1


def test_import_runs_as_a_background_job(
    directory: Directory, actor: Actor, django_capture_on_commit_callbacks: Any
) -> None:
    scan(actor, directory)
    with django_capture_on_commit_callbacks(execute=True):
        batch = imports.start_import(
            actor=actor, directory_id=directory.pk, candidate_ids=ids("alex.braun@contoso.com")
        )
    assert batch.state == "running" and batch.requested == 1 and batch.processed == 0
    from django_tasks_db.models import DBTaskResult

    task = DBTaskResult.objects.get(task_path="lockstep.m365.tasks.import_accounts")
    assert task.args_kwargs["kwargs"] == {"batch_id": batch.pk}
    with pytest.raises(Conflict) as busy:
        imports.start_import(
            actor=actor, directory_id=directory.pk, candidate_ids=ids("alex.braun@contoso.com")
        )
    assert "running" in busy.value.message
    tasks.import_accounts.call(batch_id=batch.pk)  # what the worker runs
    batch.refresh_from_db()
    assert batch.state == "done" and batch.created_users == 1


def test_read_only_admins_cannot_import(directory: Directory, actor: Actor, read_only_actor: Actor) -> None:
    scan(actor, directory)
    with pytest.raises(PermissionDenied):
        imports.start_import(
            actor=read_only_actor, directory_id=directory.pk, filter=imports.CandidateFilter()
        )
    with pytest.raises(PermissionDenied):
        imports.scan_candidates(actor=read_only_actor, directory_id=directory.pk)


def test_undo_removes_created_users_and_bindings_and_leaves_microsoft_365_alone(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    existing = users.create_user(
        actor=actor, fields={"username": "adele", "email": "adele.vance@contoso.com"}
    )
    scan(actor, directory)
    selection = ids("adele.vance@contoso.com", "alex.braun@contoso.com", "lidia.gupta@contoso.com")
    batch = run(actor, directory, candidate_ids=selection)
    sync()
    created = list(User.objects.filter(email__in=["alex.braun@contoso.com", "lidia.gupta@contoso.com"]))
    assert len(created) == 2
    before_undo = {upn: account(sim, upn) for upn in ("adele.vance@contoso.com", "alex.braun@contoso.com")}
    report = imports.usage_report(actor=actor)
    assert report.users_now == report.counted_users == 3 and report.removed_by_undo == 0

    undone = imports.undo_import(actor=actor, batch_id=batch.pk)
    assert undone.state == "undone" and undone.undone_at is not None
    assert not User.objects.filter(pk__in=[u.pk for u in created]).exists()
    assert User.objects.filter(pk=existing.pk).exists()  # not created by the batch: kept
    assert not UserBinding.objects.exists()  # every binding the batch made is gone, none orphaned
    before = len(sim.request_log())
    sync()
    assert writes_since(sim, before) == []  # no sign-in block, no session revocation
    for upn, was in before_undo.items():
        assert account(sim, upn) == was and was["accountEnabled"] is True
    undo_audit = AuditEvent.objects.get(action="m365.import.undo")
    assert undo_audit.after is not None and undo_audit.after["users_removed"] == 2

    report = imports.usage_report(actor=actor)
    assert report.users_now == 1 and report.counted_users == 1 and report.removed_by_undo == 2
    [usage] = report.directories
    assert (usage.bound_users, usage.imported_users, usage.removed_by_undo) == (0, 0, 2)
    with pytest.raises(Conflict) as twice:
        imports.undo_import(actor=actor, batch_id=batch.pk)
    assert "already undone" in twice.value.message
    # The accounts can be imported again later.
    scan(actor, directory)
    assert ImportCandidate.objects.get(upn="alex.braun@contoso.com").status == "new"


def test_a_deleted_user_still_counts_in_the_usage_report(directory: Directory, actor: Actor) -> None:
    scan(actor, directory)
    run(actor, directory, candidate_ids=ids("alex.braun@contoso.com", "lidia.gupta@contoso.com"))
    users.delete_user(actor=actor, user_id=User.objects.get(email="alex.braun@contoso.com").pk)
    report = imports.usage_report(actor=actor)
    assert report.users_now == 1 and report.counted_users == 2 and report.removed_by_undo == 0
    [usage] = report.directories
    assert usage.imported_users == 1 and usage.bound_users == 1


def test_undo_after_48_hours_is_refused(directory: Directory, actor: Actor, sim: SimServer) -> None:
    scan(actor, directory)
    batch = run(actor, directory, candidate_ids=ids("alex.braun@contoso.com"))
    ImportBatch.objects.filter(pk=batch.pk).update(created_at=timezone.now() - timedelta(hours=49))
    with pytest.raises(Conflict) as late:
        imports.undo_import(actor=actor, batch_id=batch.pk)
    assert late.value.field == "batch_id"
    assert "48 hours" in late.value.message and "49 hours ago" in late.value.message
    assert User.objects.filter(email="alex.braun@contoso.com").exists()
    ImportBatch.objects.filter(pk=batch.pk).update(created_at=timezone.now() - timedelta(hours=47))
    assert imports.undo_import(actor=actor, batch_id=batch.pk).state == "undone"


def test_a_upn_in_mixed_case_is_not_rewritten(directory: Directory, actor: Actor, sim: SimServer) -> None:
    tenant = sim.sim.tenant
    patti = tenant.find_user("patti.osei@contoso.com")
    tenant.unindex_user(patti)
    patti["userPrincipalName"] = "Patti.Osei@Contoso.com"
    patti["onPremisesImmutableId"] = None  # so that Lockstep writes its own (an account's own one stays)
    tenant.index_user(patti)
    scan(actor, directory)
    plan = imports.plan_for(actor=actor, candidate_id=ids("Patti.Osei@Contoso.com")[0])
    assert plan.lockstep_user["email"] == "patti.osei@contoso.com"
    assert [c.property for c in plan.changes if c.changes] == ["onPremisesImmutableId"]
    run(actor, directory, candidate_ids=ids("Patti.Osei@Contoso.com"))
    before = len(sim.request_log())
    sync()
    [write] = writes_since(sim, before)
    assert (write["method"], write["path"]) == ("PATCH", f"/users/{patti['id']}")
    assert tenant.users[patti["id"]]["userPrincipalName"] == "Patti.Osei@Contoso.com"


def test_an_import_never_matches_or_binds_another_organizations_user(
    directory: Directory, actor: Actor, other_org: Any
) -> None:
    """Issue 11: two organizations hold a user with the same company email; one imports the
    account. Only its own user is matched; the other organization's user is never touched."""
    from lockstep.directory.services import admins

    other_owner = admins.create_admin(
        organization=other_org,
        email="owner@fabrikam-inc.example",
        password="Tr1cky-Kangaroo-Lamp",
        role="owner",
    )
    other_actor = Actor.for_admin(other_owner)
    theirs = users.create_user(
        actor=other_actor,
        fields={"username": "nestor", "email": "nestor.wilke@contoso.com", "job_title": "CFO"},
    )
    their_tina = users.create_user(
        actor=other_actor, fields={"username": "tina.muller", "email": "tina.muller@contoso.com"}
    )
    before = {u.pk: (u.job_title, u.immutable_id, u.state) for u in (theirs, their_tina)}
    ours = users.create_user(actor=actor, fields={"username": "nestor", "email": "nestor.wilke@contoso.com"})
    scan(actor, directory)
    batch = run(actor, directory, candidate_ids=ids("nestor.wilke@contoso.com", "tina.muller@contoso.com"))
    done = outcomes(batch)
    assert done["nestor.wilke@contoso.com"][0] == "bound" and done["tina.muller@contoso.com"][0] == "created"
    assert (
        UserBinding.objects.get(user__email="nestor.wilke@contoso.com", directory=directory).user_id
        == ours.pk
    )
    created = User.objects.get(organization=directory.organization, email="tina.muller@contoso.com")
    assert created.pk != their_tina.pk
    assert not UserBinding.objects.filter(user__organization=other_org).exists()
    for user in (theirs, their_tina):
        user.refresh_from_db()
        assert (user.job_title, user.immutable_id, user.state) == before[user.pk]
        assert user.organization_id == other_org.pk

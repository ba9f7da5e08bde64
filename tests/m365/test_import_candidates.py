"""Import listing (SPEC 2.2): candidates, match statuses, search and paging, plans and the
plan preview, against m365sim's demo tenant over HTTPS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict, NotFound, ValidationFailed
from lockstep.directory.models import User
from lockstep.directory.services import users
from lockstep.m365.models import Directory, ImportCandidate, ImportScan, UserBinding
from lockstep.m365.services import bindings, imports
from lockstep.testing.m365 import sync_until_settled
from m365sim.testing import SimServer

from .conftest import directory_fields


def account(sim: SimServer, upn: str) -> dict[str, Any]:
    found = sim.sim.tenant.find_user(upn)
    assert found is not None, upn
    return dict(found)


def edit_account(sim: SimServer, upn: str, **changes: Any) -> None:
    tenant = sim.sim.tenant
    user = tenant.find_user(upn)
    tenant.unindex_user(user)
    user.update(changes)
    tenant.index_user(user)


def person(actor: Actor, email: str, **fields: Any) -> User:
    username = fields.pop("username", email.split("@")[0].replace(".", "-"))
    return users.create_user(actor=actor, fields={"username": username, "email": email, **fields})


def sync() -> None:
    sync_until_settled()


def scan(actor: Actor, directory: Directory) -> ImportScan:
    done = imports.scan_candidates(actor=actor, directory_id=directory.pk, wait=True)
    assert done.state == "done", done.error
    return done


def by_upn(upn: str) -> ImportCandidate:
    return ImportCandidate.objects.get(upn=upn)


@pytest.fixture
def lockstep_side(directory: Directory, actor: Actor, sim: SimServer) -> dict[str, User]:
    """Lockstep users that match the demo tenant's accounts in each possible way."""
    edit_account(
        sim,
        "alex.braun@contoso.com",
        proxyAddresses=["SMTP:alex.braun@contoso.com", "smtp:Alex.B@Contoso.COM"],
    )
    edit_account(
        sim,
        "enrico.nakamura@contoso.com",
        proxyAddresses=["SMTP:enrico.nakamura@contoso.com", "smtp:enrico@contoso.com"],
    )
    made = {
        "by_mail": person(actor, "adele.vance@contoso.com", first_name="Adele", job_title="Chief Designer"),
        "by_upn": person(actor, "emily.graham@contoso.com"),  # unlicensed: no mail, no proxies
        "by_proxy": person(actor, "alex.b@contoso.com"),
        "ambiguous_1": person(actor, "enrico.nakamura@contoso.com"),
        "ambiguous_2": person(actor, "enrico@contoso.com"),
        "bound_elsewhere": person(actor, "henrietta.cerrato@contoso.com"),
        "bound": person(actor, "johanna.wilber@contoso.com"),
        # Same display name as joni.gartner@contoso.com, other email: never a match.
        "display_name_only": person(actor, "jg@contoso.com", display_name="Joni Gartner"),
    }
    UserBinding.objects.create(
        directory=directory,
        user=made["bound_elsewhere"],
        remote_id="d6a1c3e0-0000-4000-8000-000000000001",
        remote_upn="h.cerrato@contoso.com",
        applied_version=1,
    )
    bindings.bind_user(actor=actor, user_id=made["bound"].pk, directory_id=directory.pk)
    sync()  # provisioning finds johanna's existing account and adopts it
    assert (
        UserBinding.objects.get(user=made["bound"]).remote_id
        == account(sim, "johanna.wilber@contoso.com")["id"]
    )
    return made


def test_listing_flags_and_match_statuses(
    directory: Directory, actor: Actor, sim: SimServer, lockstep_side: dict[str, User]
) -> None:
    result = scan(actor, directory)
    assert result.users_seen == len(sim.sim.tenant.users) == 49
    assert result.pages_done == 1 and result.admins_found == 6 and result.users_total == 49

    adele = by_upn("adele.vance@contoso.com")
    assert (adele.status, adele.matched_by, adele.matched_user_id) == (
        "matched",
        "mail",
        lockstep_side["by_mail"].pk,
    )
    emily = by_upn("emily.graham@contoso.com")
    assert (emily.status, emily.matched_by, emily.matched_user_id) == (
        "matched",
        "userPrincipalName",
        lockstep_side["by_upn"].pk,
    )
    alex = by_upn("alex.braun@contoso.com")
    assert (alex.status, alex.matched_by, alex.matched_user_id) == (
        "matched",
        "proxyAddresses",
        lockstep_side["by_proxy"].pk,
    )
    enrico = by_upn("enrico.nakamura@contoso.com")
    assert enrico.status == "ambiguous" and enrico.matched_user_id is None
    assert "enrico-nakamura (by mail)" in enrico.reason and "enrico (by proxyAddresses)" in enrico.reason
    henrietta = by_upn("henrietta.cerrato@contoso.com")
    assert henrietta.status == "ambiguous" and "h.cerrato@contoso.com" in henrietta.reason
    johanna = by_upn("johanna.wilber@contoso.com")
    assert (johanna.status, johanna.matched_user_id) == ("bound", lockstep_side["bound"].pk)
    assert by_upn("joni.gartner@contoso.com").status == "new"  # display names never match

    # Flags: licences, sign-in and Entra admin roles (the break-glass admin and five others).
    breakglass = by_upn("admin@contoso.onmicrosoft.com")
    assert breakglass.admin and not breakglass.licensed and breakglass.enabled
    assert by_upn("allan.sherman@contoso.com").admin
    assert not by_upn("grady.pinto@contoso.com").enabled
    assert ImportCandidate.objects.filter(admin=True).count() == 6
    assert ImportCandidate.objects.filter(licensed=False).count() == 13
    # Only the values Lockstep needs are kept, SMTP proxies lower-cased.
    assert alex.attributes["proxyAddresses"] == ["alex.braun@contoso.com", "alex.b@contoso.com"]
    assert (
        adele.attributes["onPremisesImmutableId"]
        == account(sim, "adele.vance@contoso.com")["onPremisesImmutableId"]
    )


def test_listing_costs_one_users_page_and_one_role_listing(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    before = len(sim.request_log())
    result = scan(actor, directory)
    graph = [r for r in sim.request_log(since=before) if "/oauth2/" not in r["path"]]
    assert [(r["method"], r["path"]) for r in graph] == [
        ("GET", "/users/$count"),  # the progress bar's total
        ("GET", "/roleManagement/directory/roleAssignments"),
        ("GET", "/users"),
    ]
    query = graph[2]["query"]
    assert "%24top=999" in query or "$top=999" in query
    assert "assignedLicenses" in query and "proxyAddresses" in query
    assert result.graph_requests == 3


def test_search_status_filters_and_keyset_paging(
    directory: Directory, actor: Actor, sim: SimServer, lockstep_side: dict[str, User]
) -> None:
    scan(actor, directory)
    seen: list[str] = []
    cursor = None
    while True:
        page = imports.list_candidates(actor=actor, directory_id=directory.pk, cursor=cursor, limit=10)
        assert page.total == 49
        seen += [c.upn for c in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == 49 == len(set(seen)) and seen == sorted(seen, key=str.lower)

    found = imports.list_candidates(actor=actor, directory_id=directory.pk, search="Vance")
    assert {c.upn for c in found.items} == {"adele.vance@contoso.com", "adele.vance30@contoso.com"}
    assert imports.list_candidates(actor=actor, directory_id=directory.pk, search="FABRIKAM.com").total == 8
    ambiguous = imports.list_candidates(actor=actor, directory_id=directory.pk, status="ambiguous")
    assert {c.upn for c in ambiguous.items} == {
        "enrico.nakamura@contoso.com",
        "henrietta.cerrato@contoso.com",
    }
    admins = imports.list_candidates(actor=actor, directory_id=directory.pk, admin=True, licensed=True)
    assert admins.total == 4

    with pytest.raises(ValidationFailed) as bad:
        imports.list_candidates(actor=actor, directory_id=directory.pk, status="maybe")
    assert "status" in bad.value.errors
    with pytest.raises(ValidationFailed) as bad:
        imports.list_candidates(actor=actor, directory_id=directory.pk, limit=0)
    assert "limit" in bad.value.errors
    with pytest.raises(ValidationFailed) as bad:
        imports.list_candidates(actor=actor, directory_id=directory.pk, cursor="garbage!")
    assert "cursor" in bad.value.errors


def test_no_listing_yet_is_an_empty_page_and_scans_do_not_overlap(
    directory: Directory, actor: Actor, django_capture_on_commit_callbacks: Any
) -> None:
    page = imports.list_candidates(actor=actor, directory_id=directory.pk)
    assert page.scan is None and page.items == [] and page.total == 0
    with django_capture_on_commit_callbacks(execute=True):
        queued = imports.scan_candidates(actor=actor, directory_id=directory.pk)
    assert queued.state == "queued"
    from django_tasks_db.models import DBTaskResult

    task = DBTaskResult.objects.get()
    assert task.task_path == "lockstep.m365.tasks.scan_directory" and task.args_kwargs["kwargs"] == {
        "scan_id": queued.pk
    }
    with pytest.raises(Conflict):
        imports.scan_candidates(actor=actor, directory_id=directory.pk)
    from lockstep.m365 import tasks

    tasks.scan_directory.call(scan_id=queued.pk)  # what the worker runs
    queued.refresh_from_db()
    assert queued.state == "done" and queued.users_seen == 49
    assert imports.list_candidates(actor=actor, directory_id=directory.pk).total == 49


def test_a_new_scan_replaces_the_old_candidates(directory: Directory, actor: Actor) -> None:
    first = scan(actor, directory)
    second = scan(actor, directory)
    assert not ImportScan.objects.filter(pk=first.pk).exists()
    assert ImportCandidate.objects.filter(scan=second).count() == ImportCandidate.objects.count() == 49


def test_other_organizations_see_nothing(directory: Directory, actor: Actor, other_org: Any) -> None:
    scan(actor, directory)
    stranger = Actor.system(other_org.pk)
    with pytest.raises(NotFound):
        imports.list_candidates(actor=stranger, directory_id=directory.pk)
    with pytest.raises(NotFound):
        imports.plan_for(actor=stranger, candidate_id=by_upn("adele.vance@contoso.com").pk)


def changes_of(plan: imports.CandidatePlan) -> dict[str, tuple[Any, Any]]:
    return {c.property: (c.current, c.planned) for c in plan.changes if c.changes}


def test_plan_of_a_new_account_changes_only_the_immutable_id(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    scan(actor, directory)
    remote = account(sim, "alex.braun@contoso.com")
    plan = imports.plan_for(actor=actor, candidate_id=by_upn("alex.braun@contoso.com").pk)
    assert (plan.status, plan.action) == ("new", "create")
    assert plan.lockstep_user["username"] == "alex.braun"
    assert plan.lockstep_user["email"] == "alex.braun@contoso.com" and plan.lockstep_user["state"] == "staged"
    assert changes_of(plan) == {"onPremisesImmutableId": (None, "(new immutable id)")}
    unchanged = {c.property: c.current for c in plan.changes if not c.changes}
    assert unchanged["displayName"] == "Alex Braun" and unchanged["jobTitle"] == remote["jobTitle"]
    assert [(w.method, w.url, w.body) for w in plan.writes] == [
        ("PATCH", f"/users/{remote['id']}", {"onPremisesImmutableId": "(new immutable id)"})
    ]


def test_plan_of_a_matched_account_shows_lockstep_values_winning(
    directory: Directory, actor: Actor, sim: SimServer, lockstep_side: dict[str, User]
) -> None:
    scan(actor, directory)
    adele = lockstep_side["by_mail"]
    remote = account(sim, "adele.vance@contoso.com")
    plan = imports.plan_for(actor=actor, candidate_id=by_upn("adele.vance@contoso.com").pk)
    assert (plan.status, plan.action, plan.lockstep_user["id"]) == ("matched", "bind", adele.pk)
    exact = changes_of(plan)
    assert remote["onPremisesImmutableId"]
    assert "onPremisesImmutableId" not in exact  # the account keeps its own; adele takes it over
    kept = {c.property: (c.current, c.planned) for c in plan.changes}["onPremisesImmutableId"]
    assert kept == (remote["onPremisesImmutableId"], remote["onPremisesImmutableId"])
    assert exact["jobTitle"] == ("Designer", "Chief Designer")
    assert exact["displayName"] == ("Adele Vance", "Adele")
    assert "surname" not in exact  # empty in Lockstep: filled from Microsoft 365 (the default)
    assert "usageLocation" not in exact  # Graph cannot clear it: Lockstep leaves it
    assert "userPrincipalName" not in exact and "accountEnabled" not in exact
    [write] = plan.writes
    assert write.method == "PATCH" and write.url == f"/users/{remote['id']}"
    assert write.body == {k: planned for k, (_, planned) in exact.items()}
    assert "passwordProfile" not in str(plan.writes)
    unfilled = imports.plan_for(
        actor=actor, candidate_id=by_upn("adele.vance@contoso.com").pk, fill_from_m365=False
    )
    assert changes_of(unfilled)["surname"] == ("Vance", None)  # the loss the preview then states


def test_plans_of_bound_and_ambiguous_accounts_change_nothing(
    directory: Directory, actor: Actor, lockstep_side: dict[str, User]
) -> None:
    scan(actor, directory)
    bound = imports.plan_for(actor=actor, candidate_id=by_upn("johanna.wilber@contoso.com").pk)
    assert bound.action == "already_bound" and bound.changes == [] and bound.writes == []
    ambiguous = imports.plan_for(actor=actor, candidate_id=by_upn("enrico.nakamura@contoso.com").pk)
    assert (
        ambiguous.action == "skip" and "several Lockstep users" in ambiguous.reason and not ambiguous.writes
    )


def test_preview_lists_every_write_and_every_skip(
    directory: Directory, actor: Actor, sim: SimServer, lockstep_side: dict[str, User]
) -> None:
    scan(actor, directory)
    preview = imports.preview_import(
        actor=actor, directory_id=directory.pk, filter=imports.CandidateFilter(search="@contoso.com")
    )
    assert preview.selected == 40
    skipped = {s.upn: s.reason for s in preview.skipped}
    assert "Entra admin role" in skipped["allan.sherman@contoso.com"]
    assert "Unlicensed" in skipped["emily.graham@contoso.com"]
    assert "disabled" in skipped["grady.pinto@contoso.com"]
    assert "Ambiguous" in skipped["enrico.nakamura@contoso.com"]
    assert preview.already_bound == 1  # johanna
    assert preview.would_bind == 2  # adele (by mail), alex (by proxy)
    assert preview.would_create == preview.selected - len(skipped) - 3
    assert preview.write_count == len(preview.writes) and not preview.truncated
    new_writes = [
        w for w in preview.writes if w.upn not in ("adele.vance@contoso.com", "alex.braun@contoso.com")
    ]
    assert {w.method for w in preview.writes} == {"PATCH"}
    assert all(w.body == {"onPremisesImmutableId": "(new immutable id)"} for w in new_writes)
    assert "password" not in str(preview.writes).lower()

    limited = imports.preview_import(
        actor=actor,
        directory_id=directory.pk,
        filter=imports.CandidateFilter(search="@contoso.com"),
        confirm_admins=True,
        include_unlicensed=True,
        include_disabled=True,
        limit=5,
    )
    assert len(limited.writes) == 5 and limited.truncated and limited.write_count > preview.write_count
    assert {s.upn for s in limited.skipped} == {
        "enrico.nakamura@contoso.com",
        "henrietta.cerrato@contoso.com",
        "lee.gu45@contoso.com",  # synced from on-premises AD: skipped whatever the options
        "lidia.gupta46@contoso.com",
    }


def test_preview_input_is_validated(directory: Directory, actor: Actor) -> None:
    with pytest.raises(Conflict) as no_scan:
        imports.preview_import(actor=actor, directory_id=directory.pk, candidate_ids=[1])
    assert "List the users" in no_scan.value.message
    scan(actor, directory)
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "candidate_ids"),
        ({"candidate_ids": [1], "filter": imports.CandidateFilter()}, "candidate_ids"),
        ({"candidate_ids": []}, "candidate_ids"),
        ({"candidate_ids": [10**9]}, "candidate_ids"),
        ({"candidate_ids": ["x"]}, "candidate_ids"),
        ({"filter": imports.CandidateFilter(status="nope")}, "status"),
        ({"filter": imports.CandidateFilter(), "state": "suspended"}, "state"),
        ({"filter": imports.CandidateFilter(), "confirm_admins": "yes"}, "confirm_admins"),
    ]
    for kwargs, field in cases:
        with pytest.raises(ValidationFailed) as bad:
            imports.preview_import(actor=actor, directory_id=directory.pk, **kwargs)
        assert field in bad.value.errors, kwargs


@pytest.fixture
def large_sim(settings: Any) -> Iterator[SimServer]:
    with SimServer(seed="large", users=2500, groups=0, throttling=False) as server:
        settings.TRUSTED_CA_FILE = server.ca_file
        yield server


def test_a_multi_page_listing_streams_page_by_page(large_sim: SimServer, actor: Actor) -> None:
    from lockstep.m365.services import directories

    directory, _ = directories.add_directory(actor=actor, fields=directory_fields(large_sim, name="Large"))
    before = len(large_sim.request_log())
    result = scan(actor, directory)
    graph = [r for r in large_sim.request_log(since=before) if "/oauth2/" not in r["path"]]
    assert result.users_seen == 2500 and result.pages_done == 3
    assert len(graph) == result.graph_requests == 5  # 3 pages of 999, the role assignments, $count
    assert ImportCandidate.objects.filter(scan=result).count() == 2500
    assert ImportCandidate.objects.filter(scan=result, admin=True).count() == 1


def test_a_failed_listing_says_why_and_keeps_the_previous_one(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    first = scan(actor, directory)
    fault = sim.sim.faults.add("consent_revoked")
    try:
        failed = imports.scan_candidates(actor=actor, directory_id=directory.pk, wait=True)
    finally:
        sim.sim.faults.remove(fault.id)
    assert failed.state == "failed" and failed.error and failed.finished_at is not None
    assert "permission" in failed.error.lower() or "consent" in failed.error.lower(), failed.error
    page = imports.list_candidates(actor=actor, directory_id=directory.pk)
    assert page.scan is not None and page.scan.pk == first.pk and page.total == 49
    latest = imports.latest_scan(actor=actor, directory_id=directory.pk)
    assert latest is not None and latest.pk == failed.pk


def test_plans_for_a_page_of_candidates(
    directory: Directory, actor: Actor, lockstep_side: dict[str, User]
) -> None:
    scan(actor, directory)
    page = imports.list_candidates(actor=actor, directory_id=directory.pk, limit=20)
    plans = imports.plans_for(actor=actor, candidate_ids=[c.pk for c in page.items])
    assert [p.candidate_id for p in plans] == [c.pk for c in page.items]
    one = imports.plan_for(actor=actor, candidate_id=page.items[3].pk)
    assert plans[3] == one
    with pytest.raises(NotFound):
        imports.plans_for(actor=actor, candidate_ids=[10**9])
    with pytest.raises(ValidationFailed):
        imports.plans_for(actor=actor, candidate_ids=list(range(501)))


def test_a_user_bound_but_not_provisioned_yet_is_linked(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    pradeep = person(actor, "pradeep.cline@contoso.com")
    binding = bindings.bind_user(actor=actor, user_id=pradeep.pk, directory_id=directory.pk)
    scan(actor, directory)
    candidate = by_upn("pradeep.cline@contoso.com")
    assert candidate.status == "matched" and "not yet provisioned" in candidate.reason
    plan = imports.plan_for(actor=actor, candidate_id=candidate.pk)
    assert plan.action == "link"
    batch = imports.start_import(
        actor=actor, directory_id=directory.pk, candidate_ids=[candidate.pk], wait=True
    )
    assert batch.bound_existing == 1
    binding.refresh_from_db()
    remote = account(sim, "pradeep.cline@contoso.com")
    assert binding.remote_id == remote["id"] and binding.adopted and binding.import_batch_id is None
    imports.undo_import(actor=actor, batch_id=batch.pk)
    assert UserBinding.objects.filter(pk=binding.pk).exists()  # made before the import: kept
    sync()
    assert account(sim, "pradeep.cline@contoso.com")["accountEnabled"] is True

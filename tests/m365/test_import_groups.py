"""Existing Microsoft 365 groups (SPEC 2.5): listed with their kind; security groups imported and
taken over; Microsoft 365 groups, mail-enabled security groups and distribution lists refused."""

from __future__ import annotations

from typing import Any

import pytest

from lockstep.directory.actors import Actor
from lockstep.directory.errors import ValidationFailed
from lockstep.directory.models import AuditEvent, Group, GroupMembership
from lockstep.directory.services import groups
from lockstep.m365.models import Directory, GroupBinding, ImportCandidate, UserBinding
from lockstep.m365.services import imports
from lockstep.testing.m365 import sync_until_settled
from m365sim.testing import SimServer


def remote_group(sim: SimServer, name: str) -> dict[str, Any]:
    return next(g for g in sim.sim.tenant.groups.values() if g["displayName"] == name)


def sync() -> None:
    sync_until_settled()


def test_groups_are_listed_with_their_kind(directory: Directory, actor: Actor) -> None:
    listed = {g.display_name: g for g in imports.list_remote_groups(actor=actor, directory_id=directory.pk)}
    kinds = {name: (g.kind, g.importable) for name, g in listed.items()}
    assert kinds == {
        "All Company": ("unified", False),
        "Engineering": ("security", True),
        "Finance Mail-Enabled Security": ("mail_enabled_security", False),
        "Sales Distribution List": ("distribution", False),
        "Sales Team": ("security", True),
        "VPN Users": ("security", True),
    }
    assert (
        "read-only" in listed["All Company"].reason
        and listed["All Company"].kind_label == "Microsoft 365 group"
    )
    assert listed["Sales Distribution List"].kind_label == "Distribution list"


def test_a_security_group_is_imported_with_its_bound_members(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    engineering = remote_group(sim, "Engineering")
    member_ids = sorted(sim.sim.tenant.members[engineering["id"]])
    imports.scan_candidates(actor=actor, directory_id=directory.pk, wait=True)
    first_three = list(
        ImportCandidate.objects.filter(remote_id__in=member_ids, admin=False, licensed=True).values_list(
            "id", flat=True
        )[:3]
    )
    imports.start_import(actor=actor, directory_id=directory.pk, candidate_ids=first_three, wait=True)
    bound_users = set(UserBinding.objects.filter(remote_id__in=member_ids).values_list("user_id", flat=True))
    assert len(bound_users) == 3

    [plan] = imports.preview_group_import(
        actor=actor, directory_id=directory.pk, remote_ids=[engineering["id"]]
    )
    assert plan.importable and (plan.members_kept, plan.members_removed) == (3, len(member_ids) - 3)
    kept = set(UserBinding.objects.filter(user_id__in=bound_users).values_list("remote_id", flat=True))
    assert {(w.method, w.url) for w in plan.writes} == {
        ("DELETE", f"/groups/{engineering['id']}/members/{m}/$ref") for m in set(member_ids) - kept
    }
    log_start = len(sim.request_log())
    [outcome] = imports.import_groups(actor=actor, directory_id=directory.pk, remote_ids=[engineering["id"]])
    assert outcome.outcome == "imported" and outcome.members_added == 3
    assert outcome.members_not_managed == len(member_ids) - 3
    group = Group.objects.get(pk=outcome.group_id)
    assert group.name == "Engineering" and group.description == "Engineering (seeded)"
    assert set(GroupMembership.objects.filter(group=group).values_list("user_id", flat=True)) == bound_users
    binding = GroupBinding.objects.get(group=group)
    assert binding.remote_id == engineering["id"] and binding.directory_id == directory.pk
    assert AuditEvent.objects.filter(action="m365.group.import").count() == 1

    # Listed as imported now; importing again changes nothing.
    listed = {g.remote_id: g for g in imports.list_remote_groups(actor=actor, directory_id=directory.pk)}
    assert listed[engineering["id"]].bound_group_id == group.pk and not listed[engineering["id"]].importable
    [again] = imports.import_groups(actor=actor, directory_id=directory.pk, remote_ids=[engineering["id"]])
    assert again.outcome == "already_imported" and Group.objects.count() == 1

    # Taken over: Lockstep's membership wins at the next sync (exactly the previewed writes).
    sync()
    sent = {
        (r["method"], r["path"])
        for r in sim.request_log(since=log_start)
        if r["method"] != "GET" and r["path"].startswith("/groups/")
    }
    assert sent == {(w.method, w.url) for w in plan.writes}
    remote_members = set(sim.sim.tenant.members[engineering["id"]])
    assert remote_members == set(
        UserBinding.objects.filter(user_id__in=bound_users).values_list("remote_id", flat=True)
    )
    assert sim.sim.tenant.groups[engineering["id"]]["displayName"] == "Engineering"
    groups.remove_members(actor=actor, group_id=group.pk, user_ids=[next(iter(bound_users))])
    sync()
    assert len(sim.sim.tenant.members[engineering["id"]]) == 2


def test_other_kinds_are_refused_and_never_written(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    names = ["All Company", "Finance Mail-Enabled Security", "Sales Distribution List"]
    ids = [remote_group(sim, n)["id"] for n in names]
    before = {i: (dict(sim.sim.tenant.groups[i]), set(sim.sim.tenant.members[i])) for i in ids}
    log_start = len(sim.request_log())
    previews = imports.preview_group_import(actor=actor, directory_id=directory.pk, remote_ids=ids)
    assert [(p.importable, p.writes) for p in previews] == [(False, [])] * 3
    results = imports.import_groups(
        actor=actor, directory_id=directory.pk, remote_ids=[*ids, "no-such-group"]
    )
    assert [r.outcome for r in results] == ["refused"] * 4
    assert "Microsoft 365 groups are listed read-only" in results[0].reason
    assert "Mail-enabled security groups" in results[1].reason
    assert "Distribution lists" in results[2].reason
    assert "No such group" in results[3].reason
    assert not Group.objects.exists() and not GroupBinding.objects.exists()
    sync()
    assert all(r["method"] == "GET" or "/oauth2/" in r["path"] for r in sim.request_log(since=log_start))
    assert {i: (dict(sim.sim.tenant.groups[i]), set(sim.sim.tenant.members[i])) for i in ids} == before


def test_group_import_input_is_validated(directory: Directory, actor: Actor, sim: SimServer) -> None:
    for bad in ([], [""], [1]):
        with pytest.raises(ValidationFailed) as refused:
            imports.import_groups(actor=actor, directory_id=directory.pk, remote_ids=bad)  # type: ignore[arg-type]
        assert "remote_ids" in refused.value.errors
    groups.create_group(actor=actor, fields={"name": "Sales Team"})
    [clash] = imports.import_groups(
        actor=actor, directory_id=directory.pk, remote_ids=[remote_group(sim, "Sales Team")["id"]]
    )
    assert clash.outcome == "refused" and "already exists" in clash.reason

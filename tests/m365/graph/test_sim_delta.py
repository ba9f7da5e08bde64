"""Delta rounds for users and groups against m365sim: initial listing, changes, removals,
`$deltatoken=latest`, and the resets (410 Gone, expired token) that force a full resync."""

from __future__ import annotations

from typing import Any

import pytest

from lockstep.m365.graph import errors as e
from lockstep.m365.graph.client import GraphClient
from lockstep.m365.graph.delta import is_removed, removed_reason
from lockstep.m365.graph.payloads import security_group

from .test_sim_users import new_user, unique

SELECT = ["id", "userPrincipalName", "displayName", "accountEnabled", "jobTitle"]


def full_round(graph: GraphClient) -> tuple[dict[str, dict[str, Any]], str]:
    round_ = graph.users_delta(select=SELECT)
    items = {u["id"]: u for u in round_.items()}
    assert round_.delta_link
    return items, round_.delta_link


def test_initial_round_then_changes_only(graph: GraphClient) -> None:
    before = {u["id"] for u in graph.list_users(select=["id"])}
    items, link = full_round(graph)
    assert set(items) == before
    assert all(not is_removed(i) for i in items.values())

    created = graph.create_user(new_user(unique()))["id"]
    # A cloud-only user: the seed also holds directory-synced users, whose jobTitle Graph refuses.
    cloud_only = graph.list_users(select=["id", "onPremisesSyncEnabled"])
    changed = sorted(u["id"] for u in cloud_only if not u.get("onPremisesSyncEnabled"))[0]
    graph.update_user(changed, {"jobTitle": "Delta tester"})
    deleted = graph.create_user(new_user(unique()))["id"]
    graph.delete_user(deleted)

    round2 = graph.users_delta(delta_link=link)
    changes = {u["id"]: u for u in round2.items()}
    assert created in changes and not is_removed(changes[created])
    assert changes[changed]["jobTitle"] == "Delta tester"
    assert removed_reason(changes[deleted]) in ("changed", "deleted")
    assert len(changes) <= 4
    assert round2.delta_link and round2.delta_link != link

    round3 = graph.users_delta(delta_link=round2.delta_link)
    assert list(round3.items()) == []


def test_initial_round_pages_through_next_links(graph: GraphClient) -> None:
    round_ = graph.users_delta(select=["id"])
    total = sum(len(p.items) for p in round_.pages())
    assert total >= 40 and round_.delta_link
    assert round_.pages_read >= 1


def test_latest_returns_only_a_delta_link(graph: GraphClient) -> None:
    round_ = graph.users_delta(select=SELECT, latest=True)
    assert list(round_.items()) == []
    assert round_.delta_link
    uid = graph.create_user(new_user(unique()))["id"]
    assert [u["id"] for u in graph.users_delta(delta_link=round_.delta_link).items()] == [uid]


def test_410_gone_raises_delta_reset(sim: Any, graph: GraphClient) -> None:
    _, link = full_round(graph)
    sim.sim.delta_reset_pending.add("user")
    with pytest.raises(e.DeltaReset) as info:
        list(graph.users_delta(delta_link=link).items())
    assert info.value.status == 410
    assert info.value.location and "deltatoken" in info.value.location
    items, _ = full_round(graph)  # what the caller does next: a full round
    assert items


def test_expired_token_raises_delta_reset(sim: Any, graph: GraphClient) -> None:
    _, link = full_round(graph)
    sim.sim.delta_age_offset_s = 8 * 86400
    try:
        with pytest.raises(e.DeltaReset) as info:
            list(graph.users_delta(delta_link=link).items())
        assert info.value.code == "syncStateNotFound"
    finally:
        sim.sim.delta_age_offset_s = 0.0


def test_groups_delta_tracks_members(graph: GraphClient) -> None:
    users = [u["id"] for u in graph.list_users(select=["id"])][:3]
    nick = unique().split("@")[0]
    gid = graph.create_group(security_group("Delta " + nick, nick), member_ids=users[:2])["id"]
    round_ = graph.groups_delta()
    groups = {}
    for g in round_.items():
        groups.setdefault(g["id"], []).extend(g.get("members@delta", []))
    assert {m["id"] for m in groups[gid]} == set(users[:2])

    graph.add_member(gid, users[2])
    graph.remove_member(gid, users[0])
    entries = [g for g in graph.groups_delta(delta_link=round_.delta_link).items() if g["id"] == gid]
    deltas = [m for g in entries for m in g.get("members@delta", [])]
    added = {m["id"] for m in deltas if not is_removed(m)}
    removed = {m["id"] for m in deltas if is_removed(m)}
    assert users[2] in added and users[0] in removed

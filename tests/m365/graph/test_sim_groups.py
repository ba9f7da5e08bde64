"""Security groups and memberships against m365sim ($ref, members@odata.bind, $batch)."""

from __future__ import annotations

import uuid

import pytest

from lockstep.m365.graph import errors as e
from lockstep.m365.graph import odata
from lockstep.m365.graph.client import GraphClient
from lockstep.m365.graph.payloads import group_kind, security_group


def user_ids(graph: GraphClient, n: int) -> list[str]:
    ids = [u["id"] for u in graph.list_users(select=["id"], filter=odata.eq("accountEnabled", True))]
    assert len(ids) >= n
    return ids[:n]


def test_security_group_lifecycle(graph: GraphClient) -> None:
    nick = f"g{uuid.uuid4().hex[:8]}"
    members = user_ids(graph, 3)
    group = graph.create_group(
        security_group("Ops " + nick, nick, description="test"), member_ids=members[:2]
    )
    gid = group["id"]
    assert group_kind(graph.get_group(gid)) == "security"
    assert graph.member_ids(gid) == frozenset(members[:2])

    graph.add_member(gid, members[2])
    graph.add_member(gid, members[2])  # already a member: tolerated
    with pytest.raises(e.AlreadyMember):
        graph.add_member(gid, members[2], tolerate_existing=False)
    assert graph.member_ids(gid) == frozenset(members)

    graph.remove_member(gid, members[0])
    graph.remove_member(gid, members[0])  # not a member any more: tolerated
    with pytest.raises((e.NotAMember, e.NotFound)):
        graph.remove_member(gid, members[0], tolerate_missing=False)
    assert graph.member_ids(gid) == frozenset(members[1:])
    assert graph.get_user(members[0])["id"] == members[0]  # removal used $ref: the user still exists

    graph.update_group(gid, {"description": "changed"})
    assert graph.get_group(gid)["description"] == "changed"
    graph.delete_group(gid)
    with pytest.raises(e.NotFound):
        graph.get_group(gid)


def test_bind_more_than_twenty_members_in_chunks(graph: GraphClient) -> None:
    nick = f"g{uuid.uuid4().hex[:8]}"
    gid = graph.create_group(security_group("Big " + nick, nick))["id"]
    members = user_ids(graph, 45)
    before = graph.stats.writes
    graph.add_members(gid, members)
    assert graph.stats.writes - before == 3
    assert graph.member_ids(gid) == frozenset(members)
    with pytest.raises(ValueError):
        graph.create_group(security_group("x", "x" + nick), member_ids=members[:21])


def test_membership_changes_through_batch(graph: GraphClient) -> None:
    nick = f"g{uuid.uuid4().hex[:8]}"
    members = user_ids(graph, 30)
    gid = graph.create_group(security_group("Batch " + nick, nick), member_ids=members[:5])["id"]
    requests = graph.member_requests(gid, add=[*members[5:30], members[0]], remove=members[1:3])
    results = graph.batch(requests)
    assert len(results) == 28
    already = results[25]
    assert isinstance(already.error, e.AlreadyMember)
    assert all(r.ok for i, r in enumerate(results) if i != 25)
    assert graph.member_ids(gid) == frozenset([members[0], *members[3:30]])


def test_duplicate_group_nickname_for_unified_groups(graph: GraphClient) -> None:
    nick = f"u{uuid.uuid4().hex[:8]}"
    body = {
        "displayName": nick,
        "mailNickname": nick,
        "mailEnabled": True,
        "securityEnabled": False,
        "groupTypes": ["Unified"],
    }
    graph.create_group(body)  # type: ignore[arg-type]
    with pytest.raises(e.ObjectConflict) as info:
        graph.create_group(body)  # type: ignore[arg-type]
    assert info.value.property == "mailNickname"


def test_group_kinds_of_seeded_groups(graph: GraphClient) -> None:
    kinds = {g["mailNickname"]: group_kind(g) for g in graph.list_groups()}
    assert kinds["engineering"] == "security"
    assert kinds["allcompany"] == "microsoft365"
    assert kinds["financesec"] == "mail_security"
    assert kinds["salesdl"] == "distribution"

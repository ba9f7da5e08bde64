"""Groups: the four kinds, writes, members $ref / @odata.bind, deletion (§2)."""

from __future__ import annotations

from typing import Any

import httpx

from m365sim.testing import SimServer, app_client
from m365sim.testing import graph_error as err

ALREADY = (
    "One or more added object references already exist for the following modified properties: 'members'."
)
READ_ONLY = "Cannot Update a mail-enabled security groups and or distribution list."


def sec(**over: Any) -> dict[str, Any]:
    return {
        "displayName": "Ops",
        "mailEnabled": False,
        "mailNickname": "ops",
        "securityEnabled": True,
        "groupTypes": [],
        **over,
    }


def group_id(graph: httpx.Client, name: str) -> str:
    r = graph.get("/groups", params={"$filter": f"displayName eq '{name}'"})
    return str(r.json()["value"][0]["id"])


def user_ids(graph: httpx.Client, n: int) -> list[str]:
    return [u["id"] for u in graph.get("/users", params={"$top": str(n + 1)}).json()["value"][1:]]


def ref(oid: str) -> dict[str, str]:
    return {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{oid}"}


def test_create_security_group(graph: httpx.Client) -> None:
    r = graph.post("/groups", json=sec())
    assert r.status_code == 201
    g = r.json()
    assert (
        g["securityEnabled"] is True
        and g["mailEnabled"] is False
        and g["groupTypes"] == []
        and g["mail"] is None
    )
    assert g["@odata.context"].endswith("#groups/$entity")


def test_create_unified_group(graph: httpx.Client) -> None:
    r = graph.post(
        "/groups", json=sec(displayName="Team", mailNickname="team", mailEnabled=True, groupTypes=["Unified"])
    )
    assert r.status_code == 201
    assert r.json()["mail"] == "team@contoso.com" and r.json()["proxyAddresses"] == ["SMTP:team@contoso.com"]
    r = graph.post(
        "/groups",
        json=sec(displayName="Team2", mailNickname="team", mailEnabled=True, groupTypes=["Unified"]),
    )
    assert r.status_code == 400
    e = err(r)
    msg = "Another object with the same value for property mailNickname already exists."
    assert e["message"] == msg and e["details"] == [
        {"code": "ObjectConflict", "message": msg, "target": "mailNickname"}
    ]


def test_mail_enabled_security_and_distribution_not_creatable(graph: httpx.Client) -> None:
    msg = (
        "The service does not currently support writes of mail-enabled groups. Please ensure that the "
        "mail-enablement property is unset or is set to false."
    )
    for body in (sec(mailEnabled=True), sec(mailEnabled=True, securityEnabled=False)):
        r = graph.post("/groups", json=body)
        assert r.status_code == 400 and err(r) == {
            "code": "Request_BadRequest",
            "message": msg,
            "innerError": err(r)["innerError"],
        }


def test_required_group_properties(graph: httpx.Client) -> None:
    for prop in ("displayName", "mailEnabled", "mailNickname", "securityEnabled"):
        body = sec()
        del body[prop]
        r = graph.post("/groups", json=body)
        assert r.status_code == 400
        assert err(r)["message"] == f"Invalid value specified for property '{prop}' of resource 'Group'."


def test_read_only_kinds_refuse_writes(graph: httpx.Client) -> None:
    uid = user_ids(graph, 1)[0]
    for name in ("Finance Mail-Enabled Security", "Sales Distribution List"):
        gid = group_id(graph, name)
        for r in (
            graph.patch(f"/groups/{gid}", json={"description": "x"}),
            graph.post(f"/groups/{gid}/members/$ref", json=ref(uid)),
            graph.delete(f"/groups/{gid}"),
        ):
            assert r.status_code == 400 and err(r)["message"] == READ_ONLY


def test_members_ref_add_remove(graph: httpx.Client) -> None:
    gid = graph.post("/groups", json=sec()).json()["id"]
    uid = user_ids(graph, 1)[0]
    assert graph.post(f"/groups/{gid}/members/$ref", json=ref(uid)).status_code == 204
    r = graph.post(f"/groups/{gid}/members/$ref", json=ref(uid))
    assert r.status_code == 400 and err(r)["message"] == ALREADY and err(r)["code"] == "Request_BadRequest"
    r = graph.post(f"/groups/{gid}/members/$ref", json=ref("11111111-1111-1111-1111-111111111111"))
    assert r.status_code == 404 and err(r)["code"] == "Request_ResourceNotFound"
    members = graph.get(f"/groups/{gid}/members").json()["value"]
    assert [m["id"] for m in members] == [uid] and members[0]["@odata.type"] == "#microsoft.graph.user"
    assert graph.delete(f"/groups/{gid}/members/{uid}/$ref").status_code == 204
    r = graph.delete(f"/groups/{gid}/members/{uid}/$ref")
    assert r.status_code == 404 and err(r)["code"] == "Request_ResourceNotFound"


def test_remove_non_member_400_setting(sim_server: SimServer, graph: httpx.Client) -> None:
    sim_server.update_settings(remove_non_member_status=400)
    gid = graph.post("/groups", json=sec()).json()["id"]
    r = graph.delete(f"/groups/{gid}/members/{user_ids(graph, 1)[0]}/$ref")
    assert r.status_code == 400
    assert (
        err(r)["message"]
        == "One or more removed object references do not exist for the following modified properties: 'members'."
    )


def test_members_bind_max_20_and_atomic(graph: httpx.Client) -> None:
    gid = graph.post("/groups", json=sec()).json()["id"]
    uids = user_ids(graph, 22)
    urls = [f"https://graph.microsoft.com/v1.0/directoryObjects/{u}" for u in uids]
    r = graph.patch(f"/groups/{gid}", json={"members@odata.bind": urls[:21]})
    assert r.status_code == 400 and err(r)["code"] == "Request_BadRequest"
    assert graph.post(f"/groups/{gid}/members/$ref", json=ref(uids[5])).status_code == 204
    # one already-member fails the whole request: nothing added
    r = graph.patch(f"/groups/{gid}", json={"members@odata.bind": urls[:10]})
    assert r.status_code == 400 and err(r)["message"] == ALREADY
    assert len(graph.get(f"/groups/{gid}/members").json()["value"]) == 1
    r = graph.patch(
        f"/groups/{gid}",
        json={
            "members@odata.bind": [
                *urls[:5],
                urls[6].replace(uids[6], "22222222-2222-2222-2222-222222222222"),
            ]
        },
    )
    assert r.status_code == 404
    assert len(graph.get(f"/groups/{gid}/members").json()["value"]) == 1
    assert (
        graph.patch(f"/groups/{gid}", json={"members@odata.bind": urls[:5] + urls[6:20]}).status_code == 204
    )
    assert len(graph.get(f"/groups/{gid}/members", params={"$top": "999"}).json()["value"]) == 20


def test_create_with_more_than_20_binds_fails(graph: httpx.Client) -> None:
    urls = [f"https://graph.microsoft.com/v1.0/users/{u}" for u in user_ids(graph, 21)]
    r = graph.post("/groups", json=sec(**{"members@odata.bind": urls}))
    assert r.status_code == 400
    r = graph.post("/groups", json=sec(**{"members@odata.bind": urls[:20]}))
    assert r.status_code == 201


def test_binding_members_at_creation_needs_user_read_all(sim_server: SimServer, graph: httpx.Client) -> None:
    """group-post-groups: creating a group with user owners or members needs at least
    User.Read.All besides Group.Create; a bare create does not."""
    urls = [f"https://graph.microsoft.com/v1.0/directoryObjects/{u}" for u in user_ids(graph, 2)]
    with app_client(sim_server, ["Group.Create"]) as c:
        r = c.post("/groups", json=sec(mailNickname="bare"))
        assert r.status_code == 201
        r = c.post("/groups", json=sec(mailNickname="bound", **{"members@odata.bind": urls}))
        assert r.status_code == 403 and err(r)["code"] == "Authorization_RequestDenied"
    with app_client(sim_server, ["Group.Create", "User.Read.All"]) as c:
        r = c.post("/groups", json=sec(mailNickname="bound", **{"members@odata.bind": urls}))
        assert r.status_code == 201
        assert len(sim_server.sim.tenant.members[r.json()["id"]]) == 2


def test_members_bind_needs_a_member_write_permission(sim_server: SimServer, graph: httpx.Client) -> None:
    gid = graph.post("/groups", json=sec()).json()["id"]
    body = {
        "members@odata.bind": [f"https://graph.microsoft.com/v1.0/directoryObjects/{user_ids(graph, 1)[0]}"]
    }
    with app_client(sim_server, ["Group.Read.All", "User.ReadWrite.All"]) as c:
        assert c.patch(f"/groups/{gid}", json=body).status_code == 403
    with app_client(sim_server, ["GroupMember.ReadWrite.All"]) as c:
        assert c.patch(f"/groups/{gid}", json=body).status_code == 204


def test_members_bind_naming_a_member_twice_is_refused_whole(graph: httpx.Client) -> None:
    gid = graph.post("/groups", json=sec()).json()["id"]
    uid = user_ids(graph, 1)[0]
    url = f"https://graph.microsoft.com/v1.0/directoryObjects/{uid}"
    r = graph.patch(f"/groups/{gid}", json={"members@odata.bind": [url, url]})
    assert r.status_code == 400 and err(r)["message"] == ALREADY
    assert graph.get(f"/groups/{gid}/members").json()["value"] == []


def test_members_paging(graph: httpx.Client) -> None:
    gid = group_id(graph, "All Company")
    r = graph.get(f"/groups/{gid}/members", params={"$top": "7"})
    page = r.json()
    assert len(page["value"]) == 7 and page["@odata.nextLink"].startswith("https://")
    seen = [m["id"] for m in page["value"]]
    while "@odata.nextLink" in page:
        page = graph.get(page["@odata.nextLink"]).json()
        seen += [m["id"] for m in page["value"]]
    assert len(seen) == len(set(seen)) == 30
    users_only = graph.get(f"/groups/{gid}/members/microsoft.graph.user", params={"$top": "999"}).json()[
        "value"
    ]
    assert len(users_only) == 30


def test_unified_group_accepts_users_only(graph: httpx.Client) -> None:
    gid = group_id(graph, "All Company")
    other = graph.post("/groups", json=sec()).json()["id"]
    assert graph.post(f"/groups/{gid}/members/$ref", json=ref(other)).status_code == 400
    assert (
        graph.post(f"/groups/{other}/members/$ref", json=ref(gid)).status_code == 204
    )  # security groups nest


def test_security_group_hard_deleted_unified_soft(graph: httpx.Client) -> None:
    gid = graph.post("/groups", json=sec()).json()["id"]
    assert graph.delete(f"/groups/{gid}").status_code == 204
    assert graph.get(f"/directory/deletedItems/{gid}").status_code == 404
    uni = group_id(graph, "All Company")
    assert graph.delete(f"/groups/{uni}").status_code == 204
    deleted = graph.get("/directory/deletedItems/microsoft.graph.group").json()["value"]
    assert [g["id"] for g in deleted] == [uni]
    assert graph.post(f"/directory/deletedItems/{uni}/restore").status_code == 200
    assert graph.get(f"/groups/{uni}").status_code == 200


def test_group_permissions(sim_server: SimServer) -> None:
    with app_client(sim_server, ["Group.Read.All"]) as c:
        assert c.get("/groups").status_code == 200
        assert c.post("/groups", json=sec()).status_code == 403
    with app_client(sim_server, ["GroupMember.ReadWrite.All", "User.Read.All"]) as c:
        gid = group_id(c, "Engineering")
        uid = c.get("/users/admin@contoso.onmicrosoft.com").json()["id"]
        assert c.post(f"/groups/{gid}/members/$ref", json=ref(uid)).status_code == 204
        assert c.patch(f"/groups/{gid}", json={"description": "x"}).status_code == 403


def test_patch_group(graph: httpx.Client) -> None:
    gid = graph.post("/groups", json=sec()).json()["id"]
    assert graph.patch(f"/groups/{gid}", json={"displayName": "Ops 2", "description": "d"}).status_code == 204
    g = graph.get(f"/groups/{gid}", params={"$select": "displayName,description"}).json()
    assert g["displayName"] == "Ops 2" and g["description"] == "d" and "mail" not in g


def test_owners_ref_and_last_owner(graph: httpx.Client) -> None:
    uids = user_ids(graph, 2)
    r = graph.post(
        "/groups",
        json=sec(
            displayName="T",
            mailNickname="t",
            mailEnabled=True,
            groupTypes=["Unified"],
            **{"owners@odata.bind": [f"https://graph.microsoft.com/v1.0/users/{uids[0]}"]},
        ),
    )
    gid = r.json()["id"]
    assert [o["id"] for o in graph.get(f"/groups/{gid}/owners").json()["value"]] == [uids[0]]
    r = graph.delete(f"/groups/{gid}/owners/{uids[0]}/$ref")
    assert r.status_code == 400
    assert err(r)["message"] == "The group must have at least one owner, hence this owner cannot be removed."
    assert graph.post(f"/groups/{gid}/owners/$ref", json=ref(uids[1])).status_code == 204
    assert graph.post(f"/groups/{gid}/owners/$ref", json=ref(uids[1])).status_code == 400
    assert graph.delete(f"/groups/{gid}/owners/{uids[0]}/$ref").status_code == 204


def test_dynamic_group_members_not_writable(sim_server: SimServer, graph: httpx.Client) -> None:
    gid = graph.post("/groups", json=sec()).json()["id"]
    sim_server.sim.tenant.groups[gid]["groupTypes"] = ["DynamicMembership"]
    r = graph.post(f"/groups/{gid}/members/$ref", json=ref(user_ids(graph, 1)[0]))
    assert r.status_code == 400 and err(r)["code"] == "Request_BadRequest"


def test_transitive_member_of(graph: httpx.Client) -> None:
    outer = graph.post("/groups", json=sec(displayName="Outer", mailNickname="outer")).json()["id"]
    inner = group_id(graph, "Engineering")
    assert graph.post(f"/groups/{outer}/members/$ref", json=ref(inner)).status_code == 204
    uid = graph.get(f"/groups/{inner}/members", params={"$top": "1"}).json()["value"][0]["id"]
    direct = {g["id"] for g in graph.get(f"/users/{uid}/memberOf").json()["value"]}
    trans = {g["id"] for g in graph.get(f"/users/{uid}/transitiveMemberOf").json()["value"]}
    assert outer not in direct and outer in trans and inner in direct
    members = {
        m["id"]
        for m in graph.get(f"/groups/{outer}/transitiveMembers", params={"$top": "999"}).json()["value"]
    }
    assert inner in members and uid in members


def test_role_assignable_group_needs_role_management(sim_server: SimServer, graph: httpx.Client) -> None:
    gid = graph.post("/groups", json=sec(isAssignableToRole=True)).json()["id"]
    r = graph.post(f"/groups/{gid}/members/$ref", json=ref(user_ids(graph, 1)[0]))
    assert r.status_code == 403 and err(r)["code"] == "Authorization_RequestDenied"
    with app_client(sim_server, ["GroupMember.ReadWrite.All", "RoleManagement.ReadWrite.Directory"]) as c:
        assert c.post(f"/groups/{gid}/members/$ref", json=ref(user_ids(graph, 1)[0])).status_code == 204


def test_patch_unified_nickname_conflict(graph: httpx.Client) -> None:
    body = sec(displayName="T", mailNickname="t2", mailEnabled=True, groupTypes=["Unified"])
    gid = graph.post("/groups", json=body).json()["id"]
    r = graph.patch(f"/groups/{gid}", json={"mailNickname": "allcompany"})
    assert r.status_code == 400 and err(r)["details"][0] == {
        "code": "ObjectConflict",
        "message": "Another object with the same value for property mailNickname already exists.",
        "target": "mailNickname",
    }
    assert graph.patch(f"/groups/{gid}", json={"mailNickname": "bad nick"}).status_code == 400

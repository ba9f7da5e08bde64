"""Delta queries for users and groups (§4)."""

from __future__ import annotations

from typing import Any

import httpx

from m365sim.testing import SimServer
from m365sim.testing import graph_error as err


def full_round(
    graph: httpx.Client, url: str, params: dict[str, str] | None = None
) -> tuple[list[dict[str, Any]], str]:
    rows: list[dict[str, Any]] = []
    r = graph.get(url, params=params)
    while True:
        assert r.status_code == 200, r.text
        body = r.json()
        assert ("@odata.nextLink" in body) != ("@odata.deltaLink" in body)
        rows += body["value"]
        if "@odata.deltaLink" in body:
            return rows, body["@odata.deltaLink"]
        r = graph.get(body["@odata.nextLink"])


def test_initial_round_then_changes(graph: httpx.Client) -> None:
    rows, link = full_round(graph, "/users/delta", {"$select": "displayName,jobTitle,accountEnabled"})
    assert len(rows) == 49 and "$deltatoken=" in link
    assert set(rows[0]) == {"id", "displayName", "jobTitle", "accountEnabled"}
    rows, link = full_round(graph, link)
    assert rows == []
    adele = graph.get("/users/adele.vance@contoso.com").json()["id"]
    alex = graph.get("/users/alex.braun@contoso.com").json()["id"]
    graph.patch(f"/users/{adele}", json={"jobTitle": "Boss"})
    graph.patch(f"/users/{alex}", json={"city": "Oslo"})  # not tracked by $select
    rows, link2 = full_round(graph, link)
    assert [r["id"] for r in rows] == [adele] and rows[0]["jobTitle"] == "Boss"
    graph.delete(f"/users/{adele}")
    rows, link3 = full_round(graph, link2)
    assert rows == [{"id": adele, "@removed": {"reason": "changed"}}]
    graph.post(f"/directory/deletedItems/{adele}/restore")
    rows, link4 = full_round(graph, link3)
    assert rows[0]["id"] == adele and "@removed" not in rows[0] and rows[0]["displayName"] == "Adele Vance"
    graph.delete(f"/users/{adele}")
    graph.delete(f"/directory/deletedItems/{adele}")
    rows, _ = full_round(graph, link4)
    assert rows == [{"id": adele, "@removed": {"reason": "deleted"}}]


def test_paging_with_nextlink(graph: httpx.Client) -> None:
    for i in range(120):
        graph.post(
            "/users",
            json={
                "accountEnabled": True,
                "displayName": f"U{i}",
                "mailNickname": f"u{i}",
                "userPrincipalName": f"u{i}@contoso.com",
                "passwordProfile": {"password": "Xq7#mLp2vR!k"},
            },
        )
    first = graph.get("/users/delta").json()
    assert (
        "@odata.nextLink" in first
        and "$skiptoken=" in first["@odata.nextLink"]
        and len(first["value"]) == 100
    )
    rows, _ = full_round(graph, "/users/delta")
    assert len(rows) == 169


def test_prefer_minimal(graph: httpx.Client) -> None:
    _, link = full_round(graph, "/users/delta")
    uid = graph.get("/users/adele.vance@contoso.com").json()["id"]
    graph.patch(f"/users/{uid}", json={"jobTitle": "Boss"})
    r = graph.get(link, headers={"Prefer": "return=minimal"})
    assert r.json()["value"] == [{"id": uid, "jobTitle": "Boss"}]


def test_deltatoken_latest(graph: httpx.Client) -> None:
    r = graph.get("/users/delta", params={"$deltatoken": "latest"})
    body = r.json()
    assert body["value"] == [] and "@odata.deltaLink" in body and "@odata.nextLink" not in body
    graph.patch("/users/adele.vance@contoso.com", json={"jobTitle": "Boss"})
    rows, _ = full_round(graph, body["@odata.deltaLink"])
    assert len(rows) == 1


def test_group_members_delta(graph: httpx.Client) -> None:
    rows, link = full_round(graph, "/groups/delta", {"$select": "displayName,members"})
    eng = next(g for g in rows if g["displayName"] == "Engineering")
    assert len(eng["members@delta"]) == 12
    assert eng["members@delta"][0]["@odata.type"] == "#microsoft.graph.user"
    gid = eng["id"]
    first, second = eng["members@delta"][0]["id"], eng["members@delta"][1]["id"]
    admin = graph.get("/users/admin@contoso.onmicrosoft.com").json()["id"]
    graph.delete(f"/groups/{gid}/members/{first}/$ref")
    graph.post(
        f"/groups/{gid}/members/$ref",
        json={"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{admin}"},
    )
    rows, link2 = full_round(graph, link)
    assert len(rows) == 1 and rows[0]["id"] == gid
    assert rows[0]["members@delta"] == [
        {"@odata.type": "#microsoft.graph.user", "id": admin},
        {"@odata.type": "#microsoft.graph.user", "id": first, "@removed": {"reason": "deleted"}},
    ]
    assert second not in str(rows)
    # security groups are hard-deleted: @removed deleted
    graph.delete(f"/groups/{gid}")
    rows, _ = full_round(graph, link2)
    assert rows == [{"id": gid, "@removed": {"reason": "deleted"}}]


def test_filter_by_ids_only(graph: httpx.Client) -> None:
    uid = graph.get("/users/adele.vance@contoso.com").json()["id"]
    rows, _ = full_round(graph, "/users/delta", {"$filter": f"id eq '{uid}'"})
    assert [r["id"] for r in rows] == [uid]
    r = graph.get("/users/delta", params={"$filter": "displayName eq 'x'"})
    assert r.status_code == 400 and err(r)["code"] == "Request_UnsupportedQuery"
    r = graph.get("/users/delta", params={"$top": "5"})
    assert r.status_code == 400


def test_expired_token(sim_server: SimServer, graph: httpx.Client) -> None:
    _, link = full_round(graph, "/users/delta")
    sim_server.sim.delta_age_offset_s = 8 * 86400
    r = graph.get(link)
    assert r.status_code == 400 and err(r)["code"] == "syncStateNotFound"


def test_injected_410_reset(sim_server: SimServer, graph: httpx.Client) -> None:
    _, link = full_round(graph, "/users/delta")
    sim_server.control("POST", "/delta/reset", json={"kind": "user"})
    r = graph.get(link)
    assert r.status_code == 410 and err(r)["code"] == "resyncRequired"
    assert r.headers["location"].endswith("/users/delta?$deltatoken=")
    assert graph.get(link).status_code == 200  # one-shot

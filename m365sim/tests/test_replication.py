"""Replication lag (graph-facts §12.2): 404s for new objects, stale lists and delta rounds."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from m365sim.cli import main as cli_main
from m365sim.faults import Fault
from m365sim.testing import SimServer
from m365sim.testing import graph_error as err

LAG = 0.6
NOT_FOUND = "Resource '{}' does not exist or one of its queried reference-property objects are not present."


def replicated() -> None:
    time.sleep(LAG + 0.15)


def user_body(name: str) -> dict[str, Any]:
    return {
        "accountEnabled": True,
        "displayName": name.title(),
        "mailNickname": name,
        "userPrincipalName": f"{name}@contoso.com",
        "passwordProfile": {"password": "Corr3ct-Horse-Battery!"},
    }


def group_body(name: str) -> dict[str, Any]:
    return {"displayName": name, "mailEnabled": False, "mailNickname": name, "securityEnabled": True}


def ref(oid: str) -> dict[str, str]:
    return {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{oid}"}


def assert_lag_404(r: httpx.Response, key: str) -> None:
    assert r.status_code == 404, r.text
    e = err(r)  # checks innerError: date without timezone, request ids equal to the headers
    assert e["code"] == "Request_ResourceNotFound"
    assert e["message"] == NOT_FOUND.format(key)


def member_ids(graph: httpx.Client, gid: str) -> set[str]:
    r = graph.get(f"/groups/{gid}/members", params={"$select": "id"})
    assert r.status_code == 200, r.text
    return {m["id"] for m in r.json()["value"]}


def old_user(graph: httpx.Client, upn: str = "adele.vance@contoso.com") -> str:
    return str(graph.get(f"/users/{upn}").json()["id"])


def engineering(graph: httpx.Client) -> str:
    return str(
        graph.get("/groups", params={"$filter": "displayName eq 'Engineering'"}).json()["value"][0]["id"]
    )


def outsider(graph: httpx.Client, members: set[str]) -> str:
    """A seeded user who is not in `members`."""
    users = graph.get("/users", params={"$select": "id", "$top": "999"}).json()["value"]
    return next(str(u["id"]) for u in users if u["id"] not in members)


def delta_round(graph: httpx.Client, url: str) -> tuple[list[dict[str, Any]], str]:
    rows: list[dict[str, Any]] = []
    r = graph.get(url)
    while "@odata.deltaLink" not in r.json():
        rows += r.json()["value"]
        r = graph.get(r.json()["@odata.nextLink"])
    return rows + r.json()["value"], r.json()["@odata.deltaLink"]


@pytest.fixture
def lagging(sim_server: SimServer) -> SimServer:
    sim_server.update_settings(replication_lag_seconds=LAG)
    return sim_server


def test_no_lag_by_default(sim_server: SimServer, graph: httpx.Client) -> None:
    assert sim_server.sim.settings.replication_lag_seconds == 0
    uid = graph.post("/users", json=user_body("nolag")).json()["id"]
    assert graph.get(f"/users/{uid}").status_code == 200


def test_the_setting_is_validated(sim_server: SimServer, capsys: pytest.CaptureFixture[str]) -> None:
    for bad in (-1, "2", True, 3601):
        with pytest.raises(httpx.HTTPStatusError) as refused:
            sim_server.update_settings(replication_lag_seconds=bad)
        assert refused.value.response.status_code == 400
        assert "replication_lag_seconds must be a number of seconds" in refused.value.response.text
    with pytest.raises(SystemExit):
        cli_main(["serve", "--replication-lag", "-1", "--port", "0"])
    assert "--replication-lag: replication_lag_seconds must be a number of seconds" in capsys.readouterr().err


def test_new_user_answers_404_until_replicated(lagging: SimServer, graph: httpx.Client) -> None:
    created = graph.post("/users", json=user_body("fresh"))
    assert created.status_code == 201
    uid = created.json()["id"]
    assert_lag_404(graph.get(f"/users/{uid}"), uid)
    assert_lag_404(graph.get("/users/fresh@contoso.com"), "fresh@contoso.com")
    assert_lag_404(graph.patch(f"/users/{uid}", json={"jobTitle": "x"}), uid)
    assert_lag_404(graph.post(f"/users/{uid}/revokeSignInSessions"), uid)
    assert_lag_404(graph.get(f"/directoryObjects/{uid}"), uid)
    by_filter = graph.get("/users", params={"$filter": "userPrincipalName eq 'fresh@contoso.com'"})
    assert by_filter.json()["value"] == []
    assert uid not in {u["id"] for u in graph.get("/users", params={"$top": "999"}).json()["value"]}
    # writes are judged on the real state: the UPN is taken
    again = graph.post("/users", json=user_body("fresh"))
    assert again.status_code == 400 and err(again)["details"][0]["code"] == "ObjectConflict"
    replicated()
    assert graph.get(f"/users/{uid}").status_code == 200
    assert graph.get("/users", params={"$filter": "userPrincipalName eq 'fresh@contoso.com'"}).json()["value"]
    assert graph.patch(f"/users/{uid}", json={"jobTitle": "x"}).status_code == 204


def test_delete_of_a_new_user_answers_404(lagging: SimServer, graph: httpx.Client) -> None:
    uid = graph.post("/users", json=user_body("gone")).json()["id"]
    assert_lag_404(graph.delete(f"/users/{uid}"), uid)
    replicated()
    assert graph.delete(f"/users/{uid}").status_code == 204


def test_new_group_answers_404_to_reads_members_and_refs(lagging: SimServer, graph: httpx.Client) -> None:
    gid = graph.post("/groups", json=group_body("fresh-ops")).json()["id"]
    member = old_user(graph)
    assert_lag_404(graph.get(f"/groups/{gid}"), gid)
    assert_lag_404(graph.get(f"/groups/{gid}/members"), gid)
    assert_lag_404(graph.post(f"/groups/{gid}/members/$ref", json=ref(member)), gid)
    assert_lag_404(graph.delete(f"/groups/{gid}/members/{member}/$ref"), gid)
    assert_lag_404(graph.patch(f"/groups/{gid}", json={"description": "x"}), gid)
    listed = graph.get("/groups", params={"$filter": "displayName eq 'fresh-ops'"}).json()["value"]
    assert listed == []
    replicated()
    assert graph.post(f"/groups/{gid}/members/$ref", json=ref(member)).status_code == 204


def test_new_member_answers_404_to_ref_add_and_remove(lagging: SimServer, graph: httpx.Client) -> None:
    gid = engineering(graph)
    uid = graph.post("/users", json=user_body("newbie")).json()["id"]
    assert_lag_404(graph.post(f"/groups/{gid}/members/$ref", json=ref(uid)), uid)
    assert_lag_404(graph.delete(f"/groups/{gid}/members/{uid}/$ref"), uid)
    bind = {"members@odata.bind": [ref(uid)["@odata.id"]]}
    assert_lag_404(graph.patch(f"/groups/{gid}", json=bind), uid)
    replicated()
    assert graph.post(f"/groups/{gid}/members/$ref", json=ref(uid)).status_code == 204


def test_member_lists_are_stale_after_a_membership_change(lagging: SimServer, graph: httpx.Client) -> None:
    gid = engineering(graph)
    before = member_ids(graph, gid)
    adele, alex = outsider(graph, before), sorted(before)[0]
    assert graph.post(f"/groups/{gid}/members/$ref", json=ref(adele)).status_code == 204
    assert member_ids(graph, gid) == before  # the add has not replicated
    count = graph.get(f"/groups/{gid}/members/$count", headers={"ConsistencyLevel": "eventual"})
    assert int(count.content.decode("utf-8-sig")) == len(before)  # $count may start with a BOM
    # the write side knows: adding again is "already a member"
    assert graph.post(f"/groups/{gid}/members/$ref", json=ref(adele)).status_code == 400
    replicated()
    assert member_ids(graph, gid) == before | {adele}
    assert graph.delete(f"/groups/{gid}/members/{alex}/$ref").status_code == 204
    assert alex in member_ids(graph, gid)  # the removal has not replicated
    replicated()
    assert alex not in member_ids(graph, gid)


def test_restored_user_answers_404_until_replicated(lagging: SimServer, graph: httpx.Client) -> None:
    uid = old_user(graph)
    assert graph.delete(f"/users/{uid}").status_code == 204
    restored = graph.post(f"/directory/deletedItems/{uid}/restore")
    assert restored.status_code == 200
    assert_lag_404(graph.get(f"/users/{uid}"), uid)
    replicated()
    assert graph.get(f"/users/{uid}").status_code == 200


def test_delta_misses_a_new_object_until_replicated_and_never_loses_it(
    lagging: SimServer, graph: httpx.Client
) -> None:
    _, link = delta_round(graph, "/users/delta?$select=displayName")
    uid = graph.post("/users", json=user_body("deltanew")).json()["id"]
    rows, link = delta_round(graph, link)
    assert uid not in {r["id"] for r in rows}
    full, _ = delta_round(graph, "/users/delta?$select=displayName")
    assert uid not in {r["id"] for r in full}  # a full round leaves it out as well
    replicated()
    rows, link = delta_round(graph, link)
    assert uid in {r["id"] for r in rows}
    rows, _ = delta_round(graph, link)
    assert rows == []


def test_delta_member_changes_wait_for_replication(lagging: SimServer, graph: httpx.Client) -> None:
    gid = engineering(graph)
    _, link = delta_round(graph, "/groups/delta?$select=displayName,members")
    adele = outsider(graph, member_ids(graph, gid))
    graph.post(f"/groups/{gid}/members/$ref", json=ref(adele))
    rows, link = delta_round(graph, link)
    assert rows == []
    replicated()
    rows, _ = delta_round(graph, link)
    [row] = rows
    assert row["id"] == gid and {m["id"] for m in row["members@delta"]} == {adele}


def test_lag_applies_inside_batch(lagging: SimServer, graph: httpx.Client) -> None:
    uid = graph.post("/users", json=user_body("batched")).json()["id"]
    r = graph.post(
        "/$batch",
        json={
            "requests": [
                {"id": "1", "method": "GET", "url": f"/users/{uid}"},
                {
                    "id": "2",
                    "method": "PATCH",
                    "url": f"/users/{uid}",
                    "headers": {"Content-Type": "application/json"},
                    "body": {"jobTitle": "x"},
                },
            ]
        },
    )
    assert r.status_code == 200
    for item in r.json()["responses"]:
        assert item["status"] == 404
        assert item["body"]["error"]["code"] == "Request_ResourceNotFound"
        assert item["body"]["error"]["message"] == NOT_FOUND.format(uid)
        assert {"date", "request-id", "client-request-id"} <= set(item["body"]["error"]["innerError"])


def test_fault_lags_only_the_chosen_objects(sim_server: SimServer, graph: httpx.Client) -> None:
    created = sim_server.control(
        "POST", "/faults", json={"kind": "replication_lag", "seconds": LAG, "target": "^chosen@"}
    )
    assert created.json()["target"] == "^chosen@"
    chosen = graph.post("/users", json=user_body("chosen")).json()["id"]
    other = graph.post("/users", json=user_body("other")).json()["id"]
    assert_lag_404(graph.get(f"/users/{chosen}"), chosen)
    assert graph.get(f"/users/{other}").status_code == 200
    replicated()
    assert graph.get(f"/users/{chosen}").status_code == 200


def test_fault_fields_are_validated(sim_server: SimServer) -> None:
    with pytest.raises(ValueError, match="need 'seconds'"):
        Fault(kind="replication_lag")
    with pytest.raises(ValueError, match="'target', not 'method' or 'path'"):
        Fault(kind="replication_lag", seconds=1, path="/users")
    with pytest.raises(ValueError, match="replication_lag faults only"):
        Fault(kind="status", target="x")
    with pytest.raises(httpx.HTTPStatusError) as refused:
        sim_server.control("POST", "/faults", json={"kind": "replication_lag", "seconds": 0})
    assert refused.value.response.status_code == 400

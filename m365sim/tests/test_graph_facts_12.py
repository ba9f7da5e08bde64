"""graph-facts §12.3: the smaller facts a real tenant shows (synced users, federated UPN moves,
usageLocation, delta omissions, the $count byte-order mark, $batch shapes, federationConfiguration
404, deleted users' UPN prefix and restore)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from m365sim.graph.user_rules import SYNCED_READ_ONLY
from m365sim.testing import SimServer
from m365sim.testing import graph_error as err

PW = "Xq7#mLp2vR!k"
SYNCED_UPN = "lee.gu45@contoso.com"


def new_user(**over: Any) -> dict[str, Any]:
    body = {
        "accountEnabled": True,
        "displayName": "Jane Roe",
        "mailNickname": "jane.roe",
        "userPrincipalName": "jane.roe@contoso.com",
        "passwordProfile": {"password": PW, "forceChangePasswordNextSignIn": True},
    }
    body.update(over)
    return body


def refused(r: httpx.Response, message: str, code: str = "Request_BadRequest") -> None:
    assert r.status_code == 400, r.text
    assert err(r)["code"] == code and err(r)["message"] == message


# --- users synced from on-premises AD ------------------------------------------------------------


def test_demo_seeds_users_synced_from_on_premises(graph: httpx.Client) -> None:
    select = "userPrincipalName,onPremisesSyncEnabled,onPremisesImmutableId,onPremisesLastSyncDateTime"
    everyone = graph.get("/users", params={"$select": select, "$top": "999"}).json()["value"]
    synced = [u for u in everyone if u["onPremisesSyncEnabled"]]
    assert len(everyone) == 49  # converted demo users: the demo still has 49
    assert sorted(u["userPrincipalName"] for u in synced) == [SYNCED_UPN, "lidia.gupta46@contoso.com"]
    assert all(u["onPremisesImmutableId"] and u["onPremisesLastSyncDateTime"] for u in synced)


@pytest.mark.parametrize(
    "patch",
    [
        {"jobTitle": "Boss"},
        {"displayName": "Lee G."},
        {"accountEnabled": False},
        {"userPrincipalName": "lee.gu@contoso.com"},
        {"passwordProfile": {"password": PW}},
        {"usageLocation": "DE", "department": "Sales"},  # one synced property refuses the whole PATCH
    ],
)
def test_writes_to_synced_properties_are_refused(graph: httpx.Client, patch: dict[str, Any]) -> None:
    refused(graph.patch(f"/users/{SYNCED_UPN}", json=patch), SYNCED_READ_ONLY)
    assert graph.get(f"/users/{SYNCED_UPN}", params={"$select": "jobTitle,accountEnabled"}).json()[
        "accountEnabled"
    ]


def test_cloud_only_properties_of_a_synced_user_stay_writable(graph: httpx.Client) -> None:
    assert graph.patch(f"/users/{SYNCED_UPN}", json={"usageLocation": "DE"}).status_code == 204
    r = graph.get(f"/users/{SYNCED_UPN}", params={"$select": "usageLocation"})
    assert r.json()["usageLocation"] == "DE"


def test_the_synced_message_is_the_real_one() -> None:
    assert SYNCED_READ_ONLY == (
        "Unable to update the specified properties for on-premises mastered Directory Sync objects "
        "or objects currently undergoing migration."
    )


# --- UPN moves into and out of federated domains ---------------------------------------------------


def _federate(srv: SimServer, domain: str = "fabrikam.com") -> None:
    srv.sim.tenant.domains[domain].authenticationType = "Federated"


def test_move_into_a_federated_domain_needs_an_immutable_id(
    sim_server: SimServer, graph: httpx.Client
) -> None:
    uid = graph.post("/users", json=new_user()).json()["id"]
    _federate(sim_server)
    s = sim_server.sim.settings
    refused(
        graph.patch(f"/users/{uid}", json={"userPrincipalName": "jane.roe@fabrikam.com"}),
        s.federated_upn_move_in_message,
    )
    ok = graph.patch(
        f"/users/{uid}", json={"userPrincipalName": "jane.roe@fabrikam.com", "onPremisesImmutableId": "imm-9"}
    )
    assert ok.status_code == 204, ok.text


def test_move_into_a_federated_domain_with_an_existing_immutable_id(
    sim_server: SimServer, graph: httpx.Client
) -> None:
    uid = graph.post("/users", json=new_user(onPremisesImmutableId="imm-8")).json()["id"]
    _federate(sim_server)
    assert (
        graph.patch(f"/users/{uid}", json={"userPrincipalName": "jane.roe@fabrikam.com"}).status_code == 204
    )


def test_move_out_of_a_federated_domain_needs_a_password_in_the_same_patch(
    sim_server: SimServer, graph: httpx.Client
) -> None:
    uid = graph.post(
        "/users", json=new_user(userPrincipalName="jane.roe@fabrikam.com", onPremisesImmutableId="imm-7")
    ).json()["id"]
    _federate(sim_server)
    s = sim_server.sim.settings
    refused(
        graph.patch(f"/users/{uid}", json={"userPrincipalName": "jane.roe@contoso.com"}),
        s.federated_upn_move_out_message,
    )
    # a password alone is still refused while the user is federated
    refused(
        graph.patch(f"/users/{uid}", json={"passwordProfile": {"password": PW}}), s.federated_password_message
    )
    both = {"userPrincipalName": "jane.roe@contoso.com", "passwordProfile": {"password": PW}}
    assert graph.patch(f"/users/{uid}", json=both).status_code == 204


def test_federated_move_rules_can_be_relaxed(sim_server: SimServer, graph: httpx.Client) -> None:
    uid = graph.post("/users", json=new_user()).json()["id"]
    _federate(sim_server)
    s = sim_server.sim.settings
    s.federated_upn_move_in_requires_immutable_id = False
    s.federated_upn_move_out_requires_password = False
    assert (
        graph.patch(f"/users/{uid}", json={"userPrincipalName": "jane.roe@fabrikam.com"}).status_code == 204
    )
    assert graph.patch(f"/users/{uid}", json={"userPrincipalName": "jane.roe@contoso.com"}).status_code == 204


# --- usageLocation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["XX", "UK", "us", "USA", "U", "", 12])
def test_usage_location_must_be_an_iso_3166_alpha2_code(
    sim_server: SimServer, graph: httpx.Client, value: Any
) -> None:
    message = sim_server.sim.settings.invalid_usage_location_message
    refused(graph.post("/users", json=new_user(usageLocation=value)), message)
    uid = graph.get("/users/adele.vance@contoso.com").json()["id"]
    refused(graph.patch(f"/users/{uid}", json={"usageLocation": value}), message)


@pytest.mark.parametrize("value", ["GB", "AX", "SS", "ZW", "AD"])
def test_usage_location_accepts_assigned_codes(graph: httpx.Client, value: str) -> None:
    assert graph.post("/users", json=new_user(usageLocation=value)).status_code == 201


def test_usage_location_message_is_a_setting(sim_server: SimServer, graph: httpx.Client) -> None:
    sim_server.sim.settings.invalid_usage_location_message = "Invalid usage location."
    refused(graph.post("/users", json=new_user(usageLocation="XX")), "Invalid usage location.")


# --- delta omits never-set properties --------------------------------------------------------------


def _round(
    graph: httpx.Client, url: str, params: dict[str, str] | None = None
) -> tuple[list[dict[str, Any]], str]:
    rows: list[dict[str, Any]] = []
    body = graph.get(url, params=params).json()
    while "@odata.deltaLink" not in body:
        rows += body["value"]
        body = graph.get(body["@odata.nextLink"]).json()
    return rows + body["value"], body["@odata.deltaLink"]


def test_delta_omits_properties_never_set_and_shows_a_cleared_one_as_null(graph: httpx.Client) -> None:
    uid = graph.post("/users", json=new_user()).json()["id"]  # no jobTitle, no department
    rows, link = _round(graph, "/users/delta", {"$select": "displayName,jobTitle,department"})
    mine = next(r for r in rows if r["id"] == uid)
    assert mine == {"id": uid, "displayName": "Jane Roe"}
    graph.patch(f"/users/{uid}", json={"jobTitle": "Boss", "department": "Sales"})
    rows, link = _round(graph, link)
    assert rows == [{"id": uid, "displayName": "Jane Roe", "jobTitle": "Boss", "department": "Sales"}]
    graph.patch(f"/users/{uid}", json={"jobTitle": None})
    rows, _ = _round(graph, link)
    assert rows == [{"id": uid, "displayName": "Jane Roe", "jobTitle": None, "department": "Sales"}]


def test_group_delta_omits_an_unset_description(graph: httpx.Client) -> None:
    body = {"displayName": "No Desc", "mailEnabled": False, "mailNickname": "nodesc", "securityEnabled": True}
    gid = graph.post("/groups", json=body).json()["id"]
    rows, _ = _round(graph, "/groups/delta", {"$select": "displayName,description"})
    assert next(r for r in rows if r["id"] == gid) == {"id": gid, "displayName": "No Desc"}


# --- $count byte-order mark -------------------------------------------------------------------------


def test_count_byte_order_mark_is_a_setting(sim_server: SimServer, graph: httpx.Client) -> None:
    eventual = {"ConsistencyLevel": "eventual"}
    assert graph.get("/users/$count", headers=eventual).content == b"\xef\xbb\xbf49"
    assert graph.get("/groups/$count", headers=eventual).content.startswith(b"\xef\xbb\xbf")
    sim_server.sim.settings.count_byte_order_mark = False
    assert graph.get("/users/$count", headers=eventual).content == b"49"


# --- $batch dependency shapes ------------------------------------------------------------------------


def _batch(graph: httpx.Client, requests: list[dict[str, Any]]) -> httpx.Response:
    return graph.post("/$batch", json={"requests": requests})


def _get(rid: str, *deps: str) -> dict[str, Any]:
    item: dict[str, Any] = {"id": rid, "method": "GET", "url": "/users?$top=1&$select=id"}
    if deps:
        item["dependsOn"] = list(deps)
    return item


@pytest.mark.parametrize(
    "requests",
    [
        [_get("1"), _get("2", "1"), _get("3")],  # a chain plus a free request
        [_get("1"), _get("2", "1"), _get("3", "1")],  # a fan-out
        [_get("1"), _get("2"), _get("3", "1", "2")],  # a fan-in
        [_get("1"), _get("2", "1"), _get("3"), _get("4", "3")],  # two chains
    ],
)
def test_mixed_dependency_graphs_are_refused(
    sim_server: SimServer, graph: httpx.Client, requests: list[dict[str, Any]]
) -> None:
    refused(_batch(graph, requests), sim_server.sim.settings.batch_mixed_dependencies_message, "BadRequest")


@pytest.mark.parametrize(
    "requests",
    [
        [_get("1"), _get("2"), _get("3")],
        [_get("1"), _get("2", "1"), _get("3", "2")],
        [_get("3", "2"), _get("1"), _get("2", "1")],  # a chain in any array order
        [_get("1")],
    ],
)
def test_fully_parallel_or_fully_sequential_batches_run(
    graph: httpx.Client, requests: list[dict[str, Any]]
) -> None:
    r = _batch(graph, requests)
    assert r.status_code == 200 and all(x["status"] == 200 for x in r.json()["responses"])


# --- federationConfiguration of a managed domain ---------------------------------------------------


def test_federation_configuration_of_a_managed_domain_is_404(graph: httpx.Client) -> None:
    r = graph.get("/domains/contoso.com/federationConfiguration")
    assert r.status_code == 404 and err(r)["code"] == "Request_ResourceNotFound"


# --- deleted users: UPN prefix, restore parameters, memberships --------------------------------------


def _deleted(graph: httpx.Client, uid: str) -> dict[str, Any]:
    items = graph.get(
        "/directory/deletedItems/microsoft.graph.user", params={"$select": "id,userPrincipalName,mail"}
    ).json()["value"]
    return next(i for i in items if i["id"] == uid)


def test_a_deleted_users_upn_is_prefixed_with_its_id_and_freed(graph: httpx.Client) -> None:
    adele = graph.get("/users/adele.vance@contoso.com", params={"$select": "id,mail"}).json()
    uid = adele["id"]
    assert graph.delete(f"/users/{uid}").status_code == 204
    item = _deleted(graph, uid)
    assert item["userPrincipalName"] == uid.replace("-", "") + "adele.vance@contoso.com"
    assert item["mail"] == adele["mail"]  # mail and proxy addresses stay
    one = graph.get(f"/directory/deletedItems/{uid}").json()
    assert one["userPrincipalName"] == item["userPrincipalName"]
    # the original UPN is free for a new account (§1.6 setting aside)
    r = graph.post(
        "/users", json=new_user(userPrincipalName="adele.vance@contoso.com", mailNickname="adele2")
    )
    assert r.status_code == 201, r.text


def test_restore_gives_back_the_original_upn_and_the_group_memberships(graph: httpx.Client) -> None:
    uid = graph.get("/users/adele.vance@contoso.com").json()["id"]
    before = {g["id"] for g in graph.get(f"/users/{uid}/memberOf").json()["value"]}
    assert before
    graph.delete(f"/users/{uid}")
    assert graph.get(f"/users/{uid}/memberOf").status_code == 404
    r = graph.post(f"/directory/deletedItems/{uid}/restore")
    assert r.status_code == 200 and r.json()["userPrincipalName"] == "adele.vance@contoso.com"
    after = {g["id"] for g in graph.get(f"/users/{uid}/memberOf").json()["value"]}
    assert after == before


def test_restore_group_memberships_show_in_group_delta(graph: httpx.Client) -> None:
    uid = graph.get("/users/adele.vance@contoso.com").json()["id"]
    _, link = _round(graph, "/groups/delta", {"$select": "displayName,members"})
    graph.delete(f"/users/{uid}")
    graph.post(f"/directory/deletedItems/{uid}/restore")
    rows, _ = _round(graph, link)
    added = {
        r["id"] for r in rows for m in r.get("members@delta", []) if m["id"] == uid and "@removed" not in m
    }
    assert added == {g["id"] for g in graph.get(f"/users/{uid}/memberOf").json()["value"]}


def test_restore_with_new_user_principal_name(graph: httpx.Client) -> None:
    uid = graph.get("/users/adele.vance@contoso.com").json()["id"]
    graph.delete(f"/users/{uid}")
    graph.post("/users", json=new_user(userPrincipalName="adele.vance@contoso.com", mailNickname="adele2"))
    refused(
        graph.post(f"/directory/deletedItems/{uid}/restore"),
        "Another object with the same value for property userPrincipalName already exists.",
    )
    r = graph.post(
        f"/directory/deletedItems/{uid}/restore", json={"newUserPrincipalName": "adele.v@contoso.com"}
    )
    assert r.status_code == 200, r.text
    assert graph.get(f"/users/{uid}").json()["userPrincipalName"] == "adele.v@contoso.com"


def test_restore_auto_reconciles_proxy_conflicts_only_when_asked(graph: httpx.Client) -> None:
    adele = graph.get("/users/adele.vance@contoso.com", params={"$select": "id,mail"}).json()
    uid, mail = adele["id"], adele["mail"]
    graph.delete(f"/users/{uid}")
    other = graph.post(
        "/users", json=new_user(userPrincipalName="other@contoso.com", mailNickname="o")
    ).json()
    assert graph.patch(f"/users/{other['id']}", json={"mail": mail}).status_code == 204
    refused(
        graph.post(f"/directory/deletedItems/{uid}/restore"),
        "Another object with the same value for property proxyAddresses already exists.",
    )
    r = graph.post(f"/directory/deletedItems/{uid}/restore", json={"autoReconcileProxyConflict": True})
    assert r.status_code == 200, r.text
    restored = graph.get(f"/users/{uid}", params={"$select": "proxyAddresses,userPrincipalName"}).json()
    assert restored["userPrincipalName"] == "adele.vance@contoso.com"
    assert all(mail.lower() not in p.lower() for p in restored["proxyAddresses"])


def test_restore_refuses_unknown_parameters(graph: httpx.Client) -> None:
    uid = graph.get("/users/adele.vance@contoso.com").json()["id"]
    graph.delete(f"/users/{uid}")
    r = graph.post(f"/directory/deletedItems/{uid}/restore", json={"newUpn": "x@contoso.com"})
    assert r.status_code == 400

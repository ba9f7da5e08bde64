"""OData query options and advanced-query gating (§0, §1.5, §6)."""

from __future__ import annotations

import httpx
import pytest

from m365sim.testing import graph_error as err

EVENTUAL = {"ConsistencyLevel": "eventual"}


def values(r: httpx.Response) -> list[dict]:
    assert r.status_code == 200, r.text
    return list(r.json()["value"])


def upns(r: httpx.Response) -> set[str]:
    return {u["userPrincipalName"] for u in values(r)}


def test_filter_eq_case_insensitive_and_in(graph: httpx.Client) -> None:
    assert upns(
        graph.get("/users", params={"$filter": "userPrincipalName eq 'ADELE.VANCE@contoso.com'"})
    ) == {"adele.vance@contoso.com"}
    r = graph.get(
        "/users",
        params={"$filter": "mail in ('adele.vance@contoso.com', 'alex.braun@contoso.com', 'none@x.com')"},
    )
    assert upns(r) == {"adele.vance@contoso.com", "alex.braun@contoso.com"}


def test_filter_startswith_and_or(graph: httpx.Client) -> None:
    r = graph.get(
        "/users",
        params={"$filter": "startsWith(displayName,'Adele') or startsWith(givenName,'alex')", "$top": "999"},
    )
    assert {u["displayName"].split()[0] for u in values(r)} == {"Adele", "Alex"}
    r = graph.get(
        "/users",
        params={
            "$filter": "accountEnabled eq false and startsWith(userPrincipalName,'z')",
            "$select": "accountEnabled",
        },
    )
    assert all(u["accountEnabled"] is False for u in values(r))


def test_filter_any_on_collections(graph: httpx.Client) -> None:
    r = graph.get("/users", params={"$filter": "proxyAddresses/any(p:p eq 'smtp:adele.vance@contoso.com')"})
    assert upns(r) == {"adele.vance@contoso.com"}
    r = graph.get(
        "/users",
        params={"$filter": "assignedLicenses/any(x:x/skuId eq f8a1db68-be16-40ed-86d5-cb42ce701560)"},
    )
    assert len(values(r)) == 2


def test_in_limited_to_15(graph: httpx.Client) -> None:
    vals = ",".join(f"'u{i}@contoso.com'" for i in range(16))
    r = graph.get("/users", params={"$filter": f"mail in ({vals})"})
    assert r.status_code == 400 and err(r)["code"] == "Request_UnsupportedQuery"
    vals = ",".join(f"'u{i}@contoso.com'" for i in range(15))
    assert graph.get("/users", params={"$filter": f"mail in ({vals})"}).status_code == 200


@pytest.mark.parametrize(
    ("flt", "op"),
    [
        ("accountEnabled ne true", "ne"),
        ("not(startsWith(displayName,'A'))", "not"),
        ("endsWith(mail,'@fabrikam.com')", "endsWith"),
    ],
)
def test_advanced_operators_need_eventual_and_count(graph: httpx.Client, flt: str, op: str) -> None:
    r = graph.get("/users", params={"$filter": flt})
    assert r.status_code == 400
    e = err(r)
    assert e["code"] == "Request_UnsupportedQuery"
    assert e["message"] == (
        f"Operator '{op}' is not supported because the required parameters might be missing. Try adding $count=true "
        "query parameter and ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information"
    )
    # header alone is not enough, $count=true alone is not enough
    assert graph.get("/users", params={"$filter": flt}, headers=EVENTUAL).status_code == 400
    assert graph.get("/users", params={"$filter": flt, "$count": "true"}).status_code == 400
    r = graph.get("/users", params={"$filter": flt, "$count": "true", "$top": "999"}, headers=EVENTUAL)
    assert r.status_code == 200 and r.json()["@odata.count"] == len(r.json()["value"])


def test_endswith_results_and_property_limits(graph: httpx.Client) -> None:
    r = graph.get(
        "/users",
        params={"$filter": "endsWith(userPrincipalName,'@fabrikam.com')", "$count": "true", "$top": "999"},
        headers=EVENTUAL,
    )
    assert all(u.endswith("@fabrikam.com") for u in upns(r)) and len(upns(r)) == 8
    r = graph.get(
        "/users", params={"$filter": "endsWith(displayName,'x')", "$count": "true"}, headers=EVENTUAL
    )
    assert r.status_code == 400
    assert (
        err(r)["message"]
        == "Unsupported or invalid query filter clause specified for property 'displayName' of resource 'User'."
    )


def test_unsupported_filter_property(graph: httpx.Client) -> None:
    r = graph.get("/users", params={"$filter": "aboutMe eq 'x'"})
    assert r.status_code == 400
    assert err(r) == {
        "code": "Request_UnsupportedQuery",
        "message": "Unsupported or invalid query filter clause specified for property 'aboutMe' of resource 'User'.",
        "innerError": err(r)["innerError"],
    }


def test_eq_null(graph: httpx.Client) -> None:
    r = graph.get(
        "/users",
        params={
            "$filter": "onPremisesImmutableId eq null",
            "$count": "true",
            "$top": "999",
            "$select": "onPremisesImmutableId",
        },
        headers=EVENTUAL,
    )
    assert values(r) and all(u["onPremisesImmutableId"] is None for u in values(r))


def test_count_only_with_header(graph: httpx.Client) -> None:
    assert "@odata.count" not in graph.get("/users", params={"$count": "true"}).json()
    r = graph.get("/users/$count")
    assert r.status_code == 400 and err(r)["message"] == "$count is not currently supported."
    r = graph.get("/users/$count", headers=EVENTUAL)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert r.content == b"\xef\xbb\xbf49"  # a UTF-8 byte-order mark first (count_byte_order_mark)
    r = graph.get("/users", params={"$count": "true", "$top": "1"}, headers=EVENTUAL)
    assert r.json()["@odata.count"] == 49 and len(r.json()["value"]) == 1


def test_top_and_skiptoken_paging(graph: httpx.Client) -> None:
    r = graph.get("/users", params={"$top": "1000"})
    assert r.status_code == 400 and err(r)["code"] == "Request_BadRequest"
    page = graph.get("/users", params={"$top": "20", "$select": "id"}).json()
    ids = [u["id"] for u in page["value"]]
    assert (
        page["@odata.nextLink"].startswith(str(graph.base_url).rstrip("/"))
        and "$skiptoken=" in page["@odata.nextLink"]
    )
    while "@odata.nextLink" in page:
        page = graph.get(page["@odata.nextLink"]).json()
        ids += [u["id"] for u in page["value"]]
    assert len(ids) == len(set(ids)) == 49
    default = graph.get("/users").json()
    assert len(default["value"]) == 49 and "@odata.nextLink" not in default


def test_orderby_rules(graph: httpx.Client) -> None:
    r = graph.get("/users", params={"$orderby": "displayName", "$top": "999"})
    names = [u["displayName"] for u in values(r)]
    assert names == sorted(names, key=str.lower)
    r = graph.get("/users", params={"$orderby": "jobTitle"})
    assert r.status_code == 400 and err(r)["message"] == "Sorting not supported for current query."
    r = graph.get("/users", params={"$orderby": "displayName", "$filter": "accountEnabled eq true"})
    assert r.status_code == 400
    r = graph.get(
        "/users",
        params={"$orderby": "displayName desc", "$filter": "accountEnabled eq true", "$count": "true"},
        headers=EVENTUAL,
    )
    names = [u["displayName"] for u in values(r)]
    assert names == sorted(names, key=str.lower, reverse=True)


def test_search_needs_header(graph: httpx.Client) -> None:
    r = graph.get("/users", params={"$search": '"displayName:adele"'})
    assert r.status_code == 400
    assert err(r)["message"] == (
        "Request with $search query parameter only works through MSGraph with a special request "
        "header: 'ConsistencyLevel: eventual'"
    )
    r = graph.get("/users", params={"$search": '"displayName:vance"'}, headers=EVENTUAL)
    assert {u["displayName"] for u in values(r)} == {"Adele Vance"}


def test_select_on_collection(graph: httpx.Client) -> None:
    r = graph.get("/users", params={"$select": "id,accountEnabled", "$top": "2"})
    assert all(set(u) == {"id", "accountEnabled"} for u in values(r))
    assert "users(id,accountEnabled)" in r.json()["@odata.context"]


def test_group_filters(graph: httpx.Client) -> None:
    r = graph.get("/groups", params={"$filter": "groupTypes/any(c:c eq 'Unified')"})
    assert [g["displayName"] for g in values(r)] == ["All Company"]
    r = graph.get("/groups", params={"$filter": "mailEnabled eq false and securityEnabled eq true"})
    assert {g["displayName"] for g in values(r)} == {"Engineering", "Sales Team", "VPN Users"}


def test_syntax_error(graph: httpx.Client) -> None:
    r = graph.get("/users", params={"$filter": "displayName eq"})
    assert r.status_code == 400 and err(r)["code"] == "Request_BadRequest"


def test_unknown_segment_and_method(graph: httpx.Client) -> None:
    r = graph.get("/nonsense")
    assert r.status_code == 400 and err(r)["code"] == "BadRequest"
    r = graph.put("/users")
    assert r.status_code == 405
    assert err(r)["message"] == "Specified HTTP method is not allowed for the request target."


def test_in_with_repeated_values_returns_each_object_once(graph: httpx.Client) -> None:
    r = graph.get(
        "/users", params={"$filter": "mail in ('adele.vance@contoso.com','ADELE.VANCE@contoso.com')"}
    )
    assert len(values(r)) == 1

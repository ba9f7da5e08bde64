"""JSON batching (§3)."""

from __future__ import annotations

from typing import Any

import httpx

from m365sim.errors import error_body
from m365sim.graph.core import GraphRequest, GraphResponse
from m365sim.testing import SimServer
from m365sim.testing import graph_error as err


def batch(graph: httpx.Client, reqs: list[dict[str, Any]]) -> httpx.Response:
    return graph.post("/$batch", json={"requests": reqs})


def by_id(r: httpx.Response) -> dict[str, dict[str, Any]]:
    assert r.status_code == 200, r.text
    return {x["id"]: x for x in r.json()["responses"]}


def test_batch_basic(graph: httpx.Client) -> None:
    r = batch(
        graph,
        [
            {"id": "1", "method": "GET", "url": "/users/adele.vance@contoso.com?$select=id,displayName"},
            {"id": "2", "method": "GET", "url": "users/nobody@contoso.com"},
            {"id": "3", "method": "GET", "url": "/users/$count", "headers": {"ConsistencyLevel": "eventual"}},
        ],
    )
    res = by_id(r)
    assert res["1"]["status"] == 200 and res["1"]["body"]["displayName"] == "Adele Vance"
    assert res["2"]["status"] == 404 and res["2"]["body"]["error"]["code"] == "Request_ResourceNotFound"
    assert res["3"]["status"] == 200 and res["3"]["body"] == "49"
    assert "x-ms-resource-unit" in res["1"]["headers"]


def test_batch_validation(graph: httpx.Client) -> None:
    too_many = [{"id": str(i), "method": "GET", "url": "/users"} for i in range(21)]
    r = batch(graph, too_many)
    assert r.status_code == 400 and err(r)["code"] == "BadRequest"
    r = batch(
        graph, [{"id": "a", "method": "GET", "url": "/users"}, {"id": "A", "method": "GET", "url": "/users"}]
    )
    assert r.status_code == 400 and "duplicated" in err(r)["message"]
    r = batch(graph, [{"id": "1", "method": "GET", "url": "https://graph.microsoft.com/v1.0/users"}])
    assert r.status_code == 400
    r = batch(graph, [{"id": "1", "method": "POST", "url": "/groups", "body": {"displayName": "x"}}])
    assert r.status_code == 400 and "Content-Type" in err(r)["message"]
    r = batch(graph, [{"id": "1", "method": "GET", "url": "/users", "dependsOn": ["9"]}])
    assert r.status_code == 400
    r = batch(
        graph,
        [
            {"id": "1", "method": "GET", "url": "/users", "dependsOn": ["2"]},
            {"id": "2", "method": "GET", "url": "/users", "dependsOn": ["1"]},
        ],
    )
    assert r.status_code == 400
    assert (
        len(by_id(batch(graph, [{"id": str(i), "method": "GET", "url": "/users?$top=1"} for i in range(20)])))
        == 20
    )


def test_depends_on_424(graph: httpx.Client) -> None:
    h = {"Content-Type": "application/json"}
    body = {"displayName": "B", "mailEnabled": False, "mailNickname": "b", "securityEnabled": True}
    r = batch(
        graph,
        [
            {"id": "1", "method": "POST", "url": "/groups", "headers": h, "body": {"displayName": "no nick"}},
            {"id": "2", "method": "POST", "url": "/groups", "headers": h, "body": body, "dependsOn": ["1"]},
            {"id": "3", "method": "GET", "url": "/groups?$top=1", "dependsOn": ["2"]},
        ],
    )
    res = by_id(r)
    assert res["1"]["status"] == 400
    assert res["2"]["status"] == 424 and res["3"]["status"] == 424
    assert graph.get("/groups", params={"$filter": "displayName eq 'B'"}).json()["value"] == []


def test_inner_requests_use_inner_headers(graph: httpx.Client) -> None:
    r = batch(
        graph,
        [
            {
                "id": "1",
                "method": "GET",
                "url": "/users?$filter=accountEnabled ne true&$count=true",
                "headers": {"ConsistencyLevel": "eventual"},
            },
            {"id": "2", "method": "GET", "url": "/users?$filter=accountEnabled ne true&$count=true"},
        ],
    )
    res = by_id(r)
    assert res["1"]["status"] == 200 and res["1"]["body"]["@odata.count"] >= 1
    assert res["2"]["status"] == 400 and res["2"]["body"]["error"]["code"] == "Request_UnsupportedQuery"


class ThrottleSecond:
    """A stand-in fault hook: the second inner request of any batch gets a 429."""

    def __init__(self) -> None:
        self.n = 0

    def before(self, req: GraphRequest) -> GraphResponse | None:
        if not req.in_batch:
            return None
        self.n += 1
        if self.n == 2:
            body = error_body(
                "TooManyRequests", "Please retry again later.", req.request_id, req.client_request_id
            )
            return GraphResponse(429, body, {"Retry-After": "2.128"})
        return None


def test_inner_429_under_outer_200(sim_server: SimServer, graph: httpx.Client) -> None:
    sim_server.sim.faults = ThrottleSecond()
    r = batch(graph, [{"id": str(i), "method": "GET", "url": "/users?$top=1"} for i in range(3)])
    res = by_id(r)
    assert res["1"]["status"] == 429 and res["1"]["headers"]["Retry-After"] == "2.128"
    assert res["0"]["status"] == 200 and res["2"]["status"] == 200
    log = [x for x in sim_server.request_log() if x["in_batch"]]
    assert [x["status"] for x in log[-3:]] == [200, 429, 200]


def test_shuffle_setting(sim_server: SimServer, graph: httpx.Client) -> None:
    sim_server.update_settings(shuffle_batch_responses=True)
    orders = set()
    for _ in range(5):
        r = batch(graph, [{"id": str(i), "method": "GET", "url": "/organization"} for i in range(8)])
        orders.add(tuple(x["id"] for x in r.json()["responses"]))
    assert len(orders) > 1


def test_request_log_has_ru_costs_with_throttling_off(sim_server: SimServer, graph: httpx.Client) -> None:
    sim_server.clear_request_log()
    r = graph.get("/users")
    assert r.headers["x-ms-resource-unit"] == "2"  # GET users costs 2 (§5)
    graph.get("/users", params={"$select": "id"})
    batch(graph, [{"id": "1", "method": "GET", "url": "/subscribedSkus"}])
    log = sim_server.request_log()
    assert [(x["path"], x["ru"], x["in_batch"]) for x in log] == [
        ("/users", 2, False),
        ("/users", 1, False),
        ("/subscribedSkus", 3, True),
        ("/$batch", 0, False),
    ]


def test_nested_batch_refused(graph: httpx.Client) -> None:
    r = batch(
        graph,
        [
            {
                "id": "1",
                "method": "POST",
                "url": "/$batch",
                "headers": {"Content-Type": "application/json"},
                "body": {"requests": []},
            }
        ],
    )
    assert r.status_code == 400 and err(r)["code"] == "BadRequest"

"""Throttling (graph-facts §5): cost table, buckets, headers and the 429 body."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import jwt
import pytest

from m365sim.throttle import (
    Throttle,
    ThrottleSettings,
    format_retry_after,
    resource_unit_cost,
    throttled_body,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        ("GET", "/users", None, (2, 0)),
        ("GET", "/v1.0/users", None, (2, 0)),
        ("GET", "/users/abc", None, (1, 0)),
        ("GET", "/users", "$select=id,displayName", (1, 0)),
        ("GET", "/users?$select=id&$top=999", None, (1, 0)),
        ("GET", "/users", {"$top": "5"}, (1, 0)),
        ("GET", "/users", {"$top": "20"}, (2, 0)),
        ("GET", "/users", {"$top": "5", "$select": "id"}, (1, 0)),  # minimum 1
        ("GET", "/users", {"$expand": "manager"}, (3, 0)),
        ("GET", "/groups/g1/members", None, (3, 0)),
        ("GET", "/groups/g1/members/microsoft.graph.user", None, (3, 0)),
        ("GET", "/groups/g1/transitiveMembers", None, (5, 0)),
        ("GET", "/groups/g1/transitiveMembers", "$select=id", (4, 0)),
        ("GET", "/me/memberOf", None, (2, 0)),
        ("GET", "/users/u1/memberOf", None, (2, 0)),
        ("GET", "/users/u1/transitiveMemberOf", None, (2, 0)),
        ("GET", "/subscribedSkus", None, (3, 0)),
        ("GET", "/applications", None, (2, 0)),
        ("GET", "/domains/contoso.com/domainNameReferences", None, (4, 0)),
        ("POST", "/directoryObjects/getByIds", None, (5, 0)),
        ("POST", "/groups/g1/checkMemberGroups", None, (4, 0)),
        ("POST", "/me/getMemberGroups", None, (2, 0)),
        ("POST", "/users", None, (1, 1)),
        ("PATCH", "/users/u1", None, (1, 1)),
        ("DELETE", "/groups/g1/members/u1/$ref", None, (1, 1)),
        ("PATCH", "/groups/g1", None, (1, 1)),  # one write, whatever its members@odata.bind holds
        ("PUT", "/something", None, (1, 1)),
        ("GET", "/groups", None, (1, 0)),
        ("GET", "/domains", None, (1, 0)),
    ],
)
def test_cost_table(method: str, path: str, query: object, expected: tuple[int, int]) -> None:
    assert resource_unit_cost(method, path, query) == expected  # type: ignore[arg-type]


def test_tenant_size_picks_bucket() -> None:
    s = ThrottleSettings()
    assert s.ru_capacity(0) == 3500
    assert s.ru_capacity(49) == 3500
    assert s.ru_capacity(50) == 5000
    assert s.ru_capacity(500) == 5000
    assert s.ru_capacity(501) == 8000


def test_real_limits_small_tenant_ru_bucket() -> None:
    clock = FakeClock()
    throttle = Throttle(ThrottleSettings(), user_count=lambda t: 10, clock=clock)
    # 3,500 RU / 10 s: 1,750 list calls of 2 RU pass, the next one is throttled.
    for _ in range(1750):
        assert throttle.charge("app", "tid", "GET", "/users").allowed
    decision = throttle.charge("app", "tid", "GET", "/users")
    assert not decision.allowed
    assert decision.information == "ResourceUnitLimitExceeded"
    assert decision.scope == "Tenant_Application/ReadWrite/app/tid"
    # refill rate is 350 RU/s: 2 RU need 2/350 s
    assert decision.retry_after == pytest.approx(2 / 350)
    # another tenant of the same app has its own bucket
    assert throttle.charge("app", "other", "GET", "/users").allowed
    clock.now += decision.retry_after
    assert throttle.charge("app", "tid", "GET", "/users").allowed


def test_large_tenant_has_bigger_bucket() -> None:
    clock = FakeClock()
    throttle = Throttle(ThrottleSettings(), user_count=lambda t: 100_000, clock=clock)
    for _ in range(4000):
        assert throttle.charge("app", "tid", "GET", "/users").allowed
    assert not throttle.charge("app", "tid", "GET", "/users").allowed


def test_write_quota_per_app_tenant() -> None:
    clock = FakeClock()
    throttle = Throttle(ThrottleSettings.tiny(ru_small=1000), clock=clock)
    for _ in range(5):
        assert throttle.charge("app", "t", "PATCH", "/users/x").allowed
    decision = throttle.charge("app", "t", "POST", "/users")
    assert not decision.allowed
    assert decision.information == "WriteLimitExceeded"
    assert decision.scope == "Tenant_Application/Write/app/t"
    assert decision.retry_after == pytest.approx(1 / 5)
    # reads still pass while writes are exhausted
    assert throttle.charge("app", "t", "GET", "/users/x").allowed


def test_write_quota_per_tenant_across_apps() -> None:
    clock = FakeClock()
    settings = ThrottleSettings.tiny(ru_small=1000, app_tenant_writes=100, tenant_writes=3)
    throttle = Throttle(settings, clock=clock)
    assert throttle.charge("a1", "t", "POST", "/users").allowed
    assert throttle.charge("a2", "t", "POST", "/users").allowed
    assert throttle.charge("a3", "t", "POST", "/users").allowed
    decision = throttle.charge("a4", "t", "POST", "/users")
    assert not decision.allowed
    assert decision.scope == "Tenant/Write/a4/t"
    assert throttle.charge("a4", "other-tenant", "POST", "/users").allowed


def test_write_quota_per_app_across_tenants() -> None:
    settings = ThrottleSettings.tiny(ru_small=1000, app_tenant_writes=100, app_writes=2)
    throttle = Throttle(settings, clock=FakeClock())
    assert throttle.charge("a", "t1", "POST", "/users").allowed
    assert throttle.charge("a", "t2", "POST", "/users").allowed
    decision = throttle.charge("a", "t3", "POST", "/users")
    assert decision.scope == "Application/Write/a/t3"
    assert decision.information == "WriteLimitExceeded"


def test_throttled_request_consumes_nothing() -> None:
    clock = FakeClock()
    throttle = Throttle(ThrottleSettings.tiny(ru_small=4, ru_window=4.0), clock=clock)
    assert throttle.charge("a", "t", "GET", "/users").allowed  # 2
    assert throttle.charge("a", "t", "GET", "/users").allowed  # 4
    first = throttle.charge("a", "t", "GET", "/users")
    second = throttle.charge("a", "t", "GET", "/users")
    assert not first.allowed and not second.allowed
    assert first.retry_after == pytest.approx(second.retry_after) == pytest.approx(2.0)


def test_allowed_headers_and_limit_percentage() -> None:
    clock = FakeClock()
    throttle = Throttle(ThrottleSettings.tiny(ru_small=10), clock=clock)
    first = throttle.charge("a", "t", "GET", "/users")
    assert first.headers() == {"x-ms-resource-unit": "2"}
    for _ in range(3):
        throttle.charge("a", "t", "GET", "/users")
    fifth = throttle.charge("a", "t", "GET", "/users/x")  # 9 of 10 used
    assert fifth.headers() == {"x-ms-resource-unit": "1", "x-ms-throttle-limit-percentage": "0.9"}


def test_denied_headers() -> None:
    throttle = Throttle(ThrottleSettings.tiny(ru_small=1, ru_window=3.0), clock=FakeClock())
    assert throttle.charge("a", "t", "GET", "/users/x").allowed
    decision = throttle.charge("a", "t", "GET", "/users/x")
    assert decision.headers() == {
        "Retry-After": "3",
        "x-ms-throttle-scope": "Tenant_Application/ReadWrite/a/t",
        "x-ms-throttle-information": "ResourceUnitLimitExceeded",
    }


def test_disabled_throttle_only_reports_cost() -> None:
    throttle = Throttle(ThrottleSettings.tiny(enabled=False), clock=FakeClock())
    for _ in range(100):
        decision = throttle.charge("a", "t", "GET", "/users")
        assert decision.allowed and decision.cost == 2
        assert decision.headers() == {"x-ms-resource-unit": "2"}


def test_cost_larger_than_capacity_never_fits() -> None:
    throttle = Throttle(ThrottleSettings.tiny(ru_small=3, ru_window=6.0), clock=FakeClock())
    decision = throttle.charge("a", "t", "GET", "/groups/g/transitiveMembers")
    assert not decision.allowed
    assert decision.retry_after == pytest.approx(6.0)


def test_bucket_grows_when_tenant_grows() -> None:
    users = {"t": 10}
    throttle = Throttle(ThrottleSettings.tiny(), user_count=lambda t: users[t], clock=FakeClock())
    for _ in range(5):
        assert throttle.charge("a", "t", "GET", "/users").allowed
    assert not throttle.charge("a", "t", "GET", "/users").allowed
    users["t"] = 1000
    throttle.reset()
    for _ in range(15):
        assert throttle.charge("a", "t", "GET", "/users").allowed


def test_format_retry_after() -> None:
    assert format_retry_after(2.128) == "2.128"
    assert format_retry_after(2.0) == "2"
    assert format_retry_after(0.0000001) == "0.001"
    assert format_retry_after(0.25) == "0.25"


def test_throttled_body_shape() -> None:
    body = throttled_body("rid", "cid")
    assert body["error"]["code"] == "TooManyRequests"
    assert body["error"]["message"] == "Please retry again later."
    inner = body["error"]["innerError"]
    assert inner["code"] == "429" and inner["status"] == "429"
    assert inner["message"] == "Please retry after"
    assert inner["request-id"] == "rid" and inner["client-request-id"] == "cid"
    assert len(inner["date"]) == 19 and "+" not in inner["date"]
    assert list(throttled_body("r")["error"]["innerError"]) == [
        "code",
        "date",
        "message",
        "request-id",
        "status",
    ]


def test_charge_is_cheap() -> None:
    import time

    throttle = Throttle(ThrottleSettings(enabled=True, ru_small=1e12))
    start = time.perf_counter()
    for _ in range(20_000):
        throttle.charge("a", "t", "GET", "/users/x", "$select=id")
    assert time.perf_counter() - start < 1.0


# ----- over HTTPS through the simulator ------------------------------------------------------------


@pytest.fixture
def throttled(sim_server: Any) -> Any:
    """Throttling on, with a manual clock and tiny limits; real limits restored afterwards."""
    sim = sim_server.sim
    sim.settings.throttling_enabled = True
    clock = FakeClock()
    sim.throttle.settings = ThrottleSettings.tiny(ru_small=10, ru_medium=10, ru_large=10, ru_window=10.0)
    sim.throttle.engine.clock = clock
    yield SimpleNamespace(server=sim_server, clock=clock, sim=sim)
    sim.throttle.settings = ThrottleSettings()
    sim.throttle.engine.clock = time.monotonic


def test_http_resource_units_limit_percentage_and_429(throttled: Any, graph: Any) -> None:
    srv = throttled.server
    srv.clear_request_log()
    seen = []
    for _ in range(5):
        r = graph.get("/users")
        assert r.status_code == 200
        seen.append((r.headers["x-ms-resource-unit"], r.headers.get("x-ms-throttle-limit-percentage")))
    assert seen == [("2", None), ("2", None), ("2", None), ("2", None), ("2", "1.0")]
    r = graph.get("/users", headers={"client-request-id": "my-crid"})
    assert r.status_code == 429
    assert float(r.headers["Retry-After"]) == pytest.approx(2.0)  # 2 RU at 1 RU/s
    caller = jwt.decode(graph.headers["Authorization"].split()[1], options={"verify_signature": False})[
        "appid"
    ]
    assert r.headers["x-ms-throttle-scope"] == f"Tenant_Application/ReadWrite/{caller}/{srv.tenant_id}"
    assert r.headers["x-ms-throttle-information"] == "ResourceUnitLimitExceeded"
    body = r.json()
    inner = body["error"].pop("innerError")
    assert body == {"error": {"code": "TooManyRequests", "message": "Please retry again later."}}
    assert inner["code"] == "429" and inner["status"] == "429" and inner["message"] == "Please retry after"
    assert inner["request-id"] == r.headers["request-id"] and inner["client-request-id"] == "my-crid"
    # a GET /users/{id} with $select costs the minimum, 1 RU, which has refilled after 1 s
    throttled.clock.now += 1.0
    r = graph.get("/users/" + next(iter(throttled.sim.tenant.users)), params={"$select": "id"})
    assert r.status_code == 200 and r.headers["x-ms-resource-unit"] == "1"
    throttled.clock.now += 2.0
    assert graph.get("/users").status_code == 200
    log = srv.request_log()
    assert [e["ru"] for e in log if e["path"] == "/users"][:5] == [2, 2, 2, 2, 2]
    assert [e["status"] for e in log if e["path"] == "/users"][5] == 429


def test_http_inner_batch_requests_are_throttled_one_by_one(throttled: Any, graph: Any) -> None:
    requests = [{"id": str(i), "method": "GET", "url": "/users?$top=999"} for i in range(8)]
    r = graph.post("/$batch", json={"requests": requests})
    assert r.status_code == 200
    responses = {item["id"]: item for item in r.json()["responses"]}
    statuses = [responses[str(i)]["status"] for i in range(8)]
    assert statuses == [200] * 5 + [429] * 3
    throttled_item = responses["7"]
    headers = {k.lower(): v for k, v in throttled_item["headers"].items()}
    assert float(headers["retry-after"]) > 0
    assert throttled_item["body"]["error"]["code"] == "TooManyRequests"
    assert {k.lower(): v for k, v in responses["0"]["headers"].items()}["x-ms-resource-unit"] == "2"


def test_http_write_quota(throttled: Any, graph: Any) -> None:
    throttled.sim.throttle.configure(ru_small=1000, ru_medium=1000, ru_large=1000, app_tenant_writes=2)
    user_id = next(iter(throttled.sim.tenant.users))
    for _ in range(2):
        r = graph.patch(f"/users/{user_id}", json={"jobTitle": "Baker"})
        assert r.status_code == 204 and r.headers["x-ms-resource-unit"] == "1"
    r = graph.patch(f"/users/{user_id}", json={"jobTitle": "Chef"})
    assert r.status_code == 429
    assert r.headers["x-ms-throttle-information"] == "WriteLimitExceeded"
    assert r.headers["x-ms-throttle-scope"].startswith("Tenant_Application/Write/")
    assert throttled.sim.tenant.users[user_id]["jobTitle"] == "Baker"  # the throttled write was not applied
    assert graph.get(f"/users/{user_id}").status_code == 200  # reads go on


def test_http_throttling_switched_off(throttled: Any, graph: Any) -> None:
    throttled.sim.settings.throttling_enabled = False
    for _ in range(10):
        r = graph.get("/users")
        assert r.status_code == 200  # never throttled
    throttled.sim.settings.throttling_enabled = True
    throttled.sim.throttle.configure(enabled=False)
    for _ in range(10):
        r = graph.get("/users")
        assert r.status_code == 200 and r.headers["x-ms-resource-unit"] == "2"  # cost still reported


def test_http_a_patch_binding_20_members_is_one_write(throttled: Any, graph: Any) -> None:
    """§5: PATCH on an identity path is 1 RU and 1 write; the 20 references in it are not 20 writes."""
    throttled.sim.throttle.configure(ru_small=1000, ru_medium=1000, ru_large=1000, app_tenant_writes=2)
    users = list(throttled.sim.tenant.users)[1:21]
    gid = graph.post(
        "/groups",
        json={"displayName": "Ops", "mailEnabled": False, "mailNickname": "ops", "securityEnabled": True},
    ).json()["id"]
    refs = [f"https://graph.microsoft.com/v1.0/directoryObjects/{u}" for u in users]
    r = graph.patch(f"/groups/{gid}", json={"members@odata.bind": refs})
    assert r.status_code == 204 and r.headers["x-ms-resource-unit"] == "1"
    assert len(throttled.sim.tenant.members[gid]) == 20
    r = graph.patch(f"/groups/{gid}", json={"description": "third write"})
    assert r.status_code == 429 and r.headers["x-ms-throttle-information"] == "WriteLimitExceeded"

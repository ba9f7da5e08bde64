"""Fault injection: rule matching, probability/count, the dispatcher hooks, the token hook.

HTTP-level tests (connection resets, lost responses, /_sim/faults) run over HTTPS through the
simulator further down.
"""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import httpx
import jwt
import pytest

from m365sim.faults import Fault, Faults, FaultSet, create
from m365sim.graph.core import GraphRequest, GraphResponse


def req(
    method: str = "GET", path: str = "/users", app_id: str = "app-1", in_batch: bool = False
) -> GraphRequest:
    return GraphRequest(
        method=method,
        path=path,
        query={},
        headers={},
        claims={"appid": app_id, "tid": "t"},
        request_id="rid",
        client_request_id="cid",
        in_batch=in_batch,
    )


def test_unknown_kind_and_bad_fields_are_rejected() -> None:
    with pytest.raises(ValueError):
        Fault(kind="explode")
    with pytest.raises(ValueError):
        Fault(kind="status", probability=2)
    with pytest.raises(ValueError):
        Fault.from_dict({"kind": "status", "colour": "red"})


def test_match_by_method_and_path_regex() -> None:
    fault = Fault(kind="status", method="patch", path=r"^/v1\.0/users/[^/]+$")
    assert fault.matches("PATCH", "/v1.0/users/abc")
    assert not fault.matches("GET", "/v1.0/users/abc")
    assert not fault.matches("PATCH", "/v1.0/users/abc/manager")
    assert Fault(kind="status").matches("DELETE", "/anything")


def test_count_limits_firing() -> None:
    faults = FaultSet()
    faults.add("status", status=500, count=2)
    assert faults.pick("GET", "/x") is not None
    assert faults.pick("GET", "/x") is not None
    assert faults.pick("GET", "/x") is None
    assert faults.list()[0]["fired"] == 2


def test_probability_is_seeded_and_reproducible() -> None:
    def run(seed: int) -> list[bool]:
        faults = FaultSet(seed=seed)
        faults.add("status", probability=0.3)
        return [faults.pick("GET", "/x") is not None for _ in range(200)]

    first, second = run(7), run(7)
    assert first == second
    assert 30 < sum(first) < 90
    assert run(8) != first


def test_probability_and_count_together() -> None:
    faults = FaultSet(seed=1)
    faults.add("status", probability=0.5, count=3)
    assert sum(faults.pick("GET", "/x") is not None for _ in range(100)) == 3


def test_remove_clear_and_list() -> None:
    faults = FaultSet()
    a = faults.add("status")
    faults.add("throttle", retry_after=2.5)
    assert [f["kind"] for f in faults.list()] == ["status", "throttle"]
    assert faults.list()[1]["retry_after"] == 2.5
    assert faults.remove(a.id) and not faults.remove(a.id)
    faults.clear()
    assert faults.list() == []


def test_latency_fixed_plus_jitter() -> None:
    faults = FaultSet(seed=3)
    faults.add("latency", seconds=0.05, jitter=0.02, path="/users")
    delays = [faults.latency("GET", "/v1.0/users") for _ in range(50)]
    assert all(0.05 <= d <= 0.07 for d in delays)
    assert len(set(delays)) > 1
    assert faults.latency("GET", "/v1.0/groups") == 0.0


def test_before_status_and_throttle_responses() -> None:
    faults = Faults()
    faults.add("status", status=503, retry_after=4, count=1)
    resp = faults.before(req())
    assert isinstance(resp, GraphResponse)
    assert resp.status == 503 and resp.headers["Retry-After"] == "4"
    assert resp.body["error"]["code"] == "serviceNotAvailable"
    assert resp.body["error"]["innerError"]["request-id"] == "rid"
    assert faults.before(req()) is None

    faults.add("throttle", retry_after=2.128)
    resp = faults.before(req())
    assert resp.status == 429 and resp.headers["Retry-After"] == "2.128"
    assert resp.body["error"]["code"] == "TooManyRequests"
    assert resp.body["error"]["innerError"]["status"] == "429"


def test_inner_batch_requests_are_matched_with_the_version_prefix() -> None:
    faults = Faults()
    faults.add("throttle", path=r"^/v1\.0/users$", method="POST")
    assert faults.before(req("POST", "/users", in_batch=True)).status == 429
    faults.clear()
    faults.add("throttle", inner=False)
    assert faults.before(req(in_batch=True)) is None
    assert faults.before(req()).status == 429


def test_hang_and_lost_response_act_after_the_handler() -> None:
    faults = Faults()
    faults.add("hang", seconds=3, count=1)
    r = req()
    assert faults.before(r) is None
    resp = faults.after(r, GraphResponse(200, {}))
    assert resp.delay_s == 3 and not resp.drop_connection

    faults.add("lost_response", method="POST")
    r = req("POST")
    assert faults.before(r) is None  # the handler still runs: the write is committed
    assert faults.after(r, GraphResponse(201, {})).drop_connection


def test_reset_drops_before_the_handler() -> None:
    faults = Faults()
    faults.add("reset")
    resp = faults.before(req("POST"))
    assert resp is not None and resp.drop_connection


def test_consent_revoked_denies_graph_and_flips_consent() -> None:
    apps = {
        "app-1": SimpleNamespace(appId="app-1", consentGranted=True),
        "app-2": SimpleNamespace(appId="app-2", consentGranted=True),
    }
    faults = Faults(SimpleNamespace(tenant=SimpleNamespace(apps=apps)))
    fault = faults.add("consent_revoked", app_id="app-1")
    assert apps["app-1"].consentGranted is False and apps["app-2"].consentGranted is True
    resp = faults.before(req(app_id="app-1"))
    assert resp.status == 403 and resp.body["error"]["code"] == "Authorization_RequestDenied"
    assert resp.body["error"]["message"] == "Insufficient privileges to complete the operation."
    assert faults.before(req(app_id="app-2")) is None
    faults.remove(fault.id)
    assert apps["app-1"].consentGranted is True
    assert faults.before(req(app_id="app-1")) is None


def test_secret_expired_on_token_endpoint() -> None:
    faults = Faults()
    faults.add("secret_expired", app_id="app-1")
    resp: Any = faults.before_login("contoso.com", {"client_id": "app-1", "client_secret": "s"})
    assert resp.status_code == 401
    import json

    body = json.loads(resp.body)
    assert body["error"] == "invalid_client" and body["error_codes"] == [7000222]
    assert body["error_description"].startswith("AADSTS7000222: ")
    # certificate credentials and other apps are unaffected
    assert faults.before_login("contoso.com", {"client_id": "app-1", "client_assertion": "x"}) is None
    assert faults.before_login("contoso.com", {"client_id": "app-2", "client_secret": "s"}) is None


def test_token_endpoint_status_fault() -> None:
    faults = Faults()
    faults.add("status", status=503, path="/oauth2/", retry_after=1)
    resp: Any = faults.before_login("contoso.com", {"client_id": "a", "client_secret": "s"})
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "1"


# ----- over HTTPS through the simulator ------------------------------------------------------------

DROPPED = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


@pytest.fixture
def faulty(sim_server: Any) -> Any:
    sim_server.sim.faults = create(sim_server.sim)
    yield sim_server
    sim_server.sim.faults.reset()


def new_user(name: str) -> dict[str, Any]:
    return {
        "accountEnabled": True,
        "displayName": name,
        "mailNickname": name,
        "userPrincipalName": f"{name}@contoso.com",
        "passwordProfile": {"password": "Xq7!mPz#2kLr", "forceChangePasswordNextSignIn": True},
    }


def user_exists(srv: Any, name: str) -> bool:
    return srv.sim.tenant.find_user(f"{name}@contoso.com") is not None


def test_http_control_api_and_status_storm(faulty: Any, graph: Any) -> None:
    url = f"{faulty.base_url}/_sim/faults"
    with httpx.Client(verify=faulty.ca_file) as control:
        spec = {"kind": "status", "status": 503, "method": "GET", "path": r"^/v1\.0/users$", "count": 2}
        r = control.post(url, json={**spec, "retry_after": 1.5})
        assert r.status_code == 201
        fault = r.json()
        assert fault["fired"] == 0 and fault["id"]
        assert [f["id"] for f in control.get(url).json()["value"]] == [fault["id"]]
        for _ in range(2):
            r = graph.get("/users")
            assert r.status_code == 503 and r.headers["Retry-After"] == "1.5"
            assert r.json()["error"]["code"] == "serviceNotAvailable"
            assert r.json()["error"]["innerError"]["request-id"] == r.headers["request-id"]
        assert graph.get("/users").status_code == 200
        assert graph.get("/groups").status_code == 200
        assert control.get(url).json()["value"][0]["fired"] == 2
        r = control.post(url, json={"kind": "explode"})
        assert r.status_code == 400 and "unknown fault kind" in r.json()["error"]["message"]
        control.post(url, json={"kind": "status", "status": 500})
        assert graph.get("/groups").status_code == 500
        assert control.delete(url).status_code == 204
        assert control.get(url).json()["value"] == []
        assert graph.get("/groups").status_code == 200
        one = control.post(url, json={"kind": "status", "status": 500}).json()
        assert control.delete(f"{url}/{one['id']}").status_code == 204
        assert control.delete(f"{url}/{one['id']}").status_code == 404


def test_http_seeded_probability_is_reproducible(faulty: Any, graph: Any) -> None:
    def pattern() -> list[int]:
        faulty.control("POST", "/faults/seed", json={"seed": 11})
        faulty.control("POST", "/faults", json={"kind": "status", "status": 500, "probability": 0.5})
        statuses = [graph.get("/organization").status_code for _ in range(16)]
        faulty.control("DELETE", "/faults")
        return statuses

    first = pattern()
    assert set(first) == {200, 500}
    assert pattern() == first


def test_http_429_storm_inside_batch(faulty: Any, graph: Any) -> None:
    faulty.sim.faults.add("throttle", retry_after=2.5, method="GET", path=r"/users$")
    batch = {
        "requests": [
            {"id": "1", "method": "GET", "url": "/users"},
            {"id": "2", "method": "GET", "url": "/groups"},
        ]
    }
    r = graph.post("/$batch", json=batch)
    assert r.status_code == 200
    items = {item["id"]: item for item in r.json()["responses"]}
    assert items["1"]["status"] == 429 and items["2"]["status"] == 200
    headers = {k.lower(): v for k, v in items["1"]["headers"].items()}
    assert headers["retry-after"] == "2.5"
    assert items["1"]["body"]["error"]["code"] == "TooManyRequests"
    # and at the top level
    r = graph.get("/users")
    assert r.status_code == 429 and r.headers["Retry-After"] == "2.5"


def test_http_connection_reset_applies_nothing(faulty: Any, graph: Any) -> None:
    faulty.sim.faults.add("reset", method="POST", path=r"/users$", count=1)
    with pytest.raises(DROPPED):
        graph.post("/users", json=new_user("reset.victim"))
    assert not user_exists(faulty, "reset.victim")
    assert graph.post("/users", json=new_user("reset.victim")).status_code == 201


def test_http_committed_but_response_lost(faulty: Any, graph: Any) -> None:
    faulty.sim.faults.add("lost_response", method="POST", path=r"/users$", count=1)
    with pytest.raises(DROPPED):
        graph.post("/users", json=new_user("lost.one"))
    assert user_exists(faulty, "lost.one")  # the write was applied
    r = graph.post("/users", json=new_user("lost.one"))  # the retry meets the committed write
    assert r.status_code == 400 and r.json()["error"]["details"][0]["code"] == "ObjectConflict"


def test_http_response_lost_inside_batch(faulty: Any, graph: Any) -> None:
    faulty.sim.faults.add("lost_response", method="POST", path=r"^/v1\.0/users$", count=1)
    batch = {
        "requests": [
            {
                "id": "1",
                "method": "POST",
                "url": "/users",
                "body": new_user("batch.lost"),
                "headers": {"Content-Type": "application/json"},
            }
        ]
    }
    with pytest.raises(DROPPED):
        graph.post("/$batch", json=batch)
    assert user_exists(faulty, "batch.lost")
    assert graph.get("/groups").status_code == 200


def test_http_hang_past_client_timeout(faulty: Any, sim_server: Any, demo_token: str) -> None:
    faulty.sim.faults.add("hang", seconds=1.0, method="GET", path=r"/domains$", count=1)
    auth = {"Authorization": f"Bearer {demo_token}"}
    base = sim_server.graph_base_url
    with httpx.Client(base_url=base, verify=sim_server.ca_file, headers=auth, timeout=0.3) as impatient:
        with pytest.raises(httpx.ReadTimeout):
            impatient.get("/domains")
        assert impatient.get("/domains").status_code == 200  # only the first request hangs


def test_http_latency(faulty: Any, graph: Any) -> None:
    faulty.sim.faults.add("latency", seconds=0.25, jitter=0.05, path=r"/organization$")
    start = time.perf_counter()
    assert graph.get("/organization").status_code == 200
    assert time.perf_counter() - start >= 0.25


def test_http_consent_revoked(faulty: Any, demo_token: str) -> None:
    graph = faulty.client(demo_token)
    fault = faulty.sim.faults.add("consent_revoked", app_id=faulty.client_id)
    r = graph.get("/users")
    assert r.status_code == 403 and r.json()["error"]["code"] == "Authorization_RequestDenied"
    claims = jwt.decode(faulty.token(), options={"verify_signature": False})
    assert "roles" not in claims
    faulty.sim.faults.remove(fault.id)
    assert "roles" in jwt.decode(faulty.token(), options={"verify_signature": False})
    assert graph.get("/users").status_code == 200


def test_http_secret_expired_and_token_endpoint_reset(faulty: Any) -> None:
    fault = faulty.sim.faults.add("secret_expired", app_id=faulty.client_id)
    form = {
        "client_id": faulty.client_id,
        "client_secret": faulty.client_secret,
        "scope": "https://graph.microsoft.com/.default",
        "grant_type": "client_credentials",
    }
    with httpx.Client(verify=faulty.ca_file) as client:
        r = client.post(faulty.token_url, data=form)
        assert r.status_code == 401
        assert r.json()["error"] == "invalid_client" and r.json()["error_codes"] == [7000222]
        faulty.sim.faults.remove(fault.id)
        assert client.post(faulty.token_url, data=form).status_code == 200
        faulty.sim.faults.add("reset", path=r"/oauth2/v2\.0/token$", count=1)
        with pytest.raises(DROPPED):
            client.post(faulty.token_url, data=form)
        assert client.post(faulty.token_url, data=form).status_code == 200


def test_applied_status_runs_the_handler_then_answers_the_error() -> None:
    faults = Faults()
    faults.add("applied_status", method="POST", status=500, count=1)
    r = req("POST")
    assert faults.before(r) is None  # the handler still runs: the write is applied
    resp = faults.after(r, GraphResponse(201, {"id": "new"}))
    assert resp.status == 500 and resp.body["error"]["code"] == "generalException"
    assert not resp.drop_connection
    r = req("POST")
    assert faults.before(r) is None
    assert faults.after(r, GraphResponse(201, {})).status == 201  # count spent


def test_http_applied_but_answered_500(faulty: Any, graph: Any) -> None:
    faulty.sim.faults.add("applied_status", method="POST", path=r"/users$", status=500, count=1)
    r = graph.post("/users", json=new_user("half.done"))
    assert r.status_code == 500 and r.json()["error"]["code"] == "generalException"
    assert user_exists(faulty, "half.done")  # the write was applied anyway

"""Fault injection: rule matching, probability/count, the dispatcher hooks, the token hook.

HTTP-level tests (connection resets, lost responses, /_sim/faults) run over HTTPS through the
simulator further down.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from m365sim.faults import Fault, Faults, FaultSet
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

"""$batch planning and partial retries (MockTransport: shuffled answers and per-request 429s on
demand; the same flows against m365sim are in test_sim_batch.py)."""

from __future__ import annotations

import json
import random
from typing import Any

import httpx
import pytest

from lockstep.m365.graph import errors as e
from lockstep.m365.graph.batch import BatchRequest

from .helpers import Recorder, mock_client


class FakeBatchServer:
    """Answers $batch: `fail[id]` lists statuses to give that id on successive attempts."""

    def __init__(self, fail: dict[str, list[tuple[int, dict[str, str]]]] | None = None) -> None:
        self.fail = fail or {}
        self.batches: list[list[dict[str, Any]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path.endswith("/$batch")
        reqs = json.loads(request.content)["requests"]
        assert len(reqs) <= 20
        assert len({r["id"] for r in reqs}) == len(reqs)
        self.batches.append(reqs)
        out = []
        failed: set[str] = set()
        for r in reqs:
            assert r["url"].startswith("/") and "://" not in r["url"]
            if "body" in r:
                assert r["headers"]["Content-Type"] == "application/json"
            key = r.get("body", {}).get("tag") or r["url"]
            queue = self.fail.get(key)
            if any(d in failed for d in r.get("dependsOn", [])):
                out.append(
                    {
                        "id": r["id"],
                        "status": 424,
                        "body": {"error": {"code": "FailedDependency", "message": ""}},
                    }
                )
                failed.add(r["id"])
            elif queue:
                status, headers = queue.pop(0)
                failed.add(r["id"])
                out.append(
                    {
                        "id": r["id"],
                        "status": status,
                        "headers": headers,
                        "body": {
                            "error": {"code": "TooManyRequests" if status == 429 else "x", "message": "m"}
                        },
                    }
                )
            else:
                out.append(
                    {
                        "id": r["id"],
                        "status": 204 if r["method"] != "GET" else 200,
                        "body": None if r["method"] != "GET" else {"id": r["url"]},
                    }
                )
        random.Random(len(self.batches)).shuffle(out)
        return httpx.Response(200, json={"responses": out})


def patch(n: int) -> BatchRequest:
    return BatchRequest("PATCH", f"/users/u{n}", body={"displayName": f"User {n}", "tag": f"t{n}"})


def test_chunks_of_twenty_and_results_in_input_order() -> None:
    server = FakeBatchServer()
    client = mock_client(server)
    reqs = [patch(i) for i in range(45)] + [BatchRequest("GET", "/users/x?$select=id")]
    results = client.batch(reqs)
    assert [len(b) for b in server.batches] == [20, 20, 6]
    assert [r.request for r in results] == reqs
    assert all(r.ok for r in results)
    assert results[-1].body == {"id": "/users/x?$select=id"}
    assert client.stats.http_requests == 3 and client.stats.writes == 45


def test_only_throttled_inner_requests_are_resent_after_the_longest_retry_after() -> None:
    server = FakeBatchServer(
        {
            "t3": [(429, {"Retry-After": "2"})],
            "t7": [(429, {"Retry-After": "5.5"}), (429, {"Retry-After": "1"})],
            "t9": [(503, {})],
        }
    )
    rec = Recorder(rand=0.5)
    client = mock_client(server, recorder=rec)
    results = client.batch([patch(i) for i in range(12)])
    assert all(r.ok for r in results)
    assert [len(b) for b in server.batches] == [12, 3, 1]
    assert sorted(r["body"]["tag"] for r in server.batches[1]) == ["t3", "t7", "t9"]
    assert rec.sleeps == [5.5, 1.0]
    assert results[7].attempts == 3 and results[0].attempts == 1
    assert client.stats.throttled == 3


def test_permanent_inner_errors_come_back_classified_and_are_not_resent() -> None:
    dup = {
        "error": {
            "code": "Request_BadRequest",
            "message": "Another object with the same value for property userPrincipalName already exists.",
            "details": [{"code": "ObjectConflict", "target": "userPrincipalName"}],
        }
    }

    def handler(request: httpx.Request) -> httpx.Response:
        reqs = json.loads(request.content)["requests"]
        return httpx.Response(
            200, json={"responses": [{"id": r["id"], "status": 400, "body": dup} for r in reqs]}
        )

    client = mock_client(handler)
    [result] = client.batch([BatchRequest("POST", "/users", body={"userPrincipalName": "a@x.com"})])
    assert isinstance(result.error, e.ObjectConflict) and result.error.property == "userPrincipalName"
    assert result.attempts == 1 and not result.ok


def test_gives_up_after_max_attempts_and_reports_throttled() -> None:
    server = FakeBatchServer({"t0": [(429, {"Retry-After": "1"})] * 10})
    client = mock_client(server)
    client.batcher.max_attempts = 3
    [r] = client.batch([patch(0)])
    assert isinstance(r.error, e.Throttled) and r.attempts == 3 and len(server.batches) == 3


def test_retry_after_beyond_cap_returns_without_sleeping() -> None:
    server = FakeBatchServer({"t0": [(429, {"Retry-After": "3600"})]})
    rec = Recorder()
    client = mock_client(server, recorder=rec)
    [r] = client.batch([patch(0)])
    assert isinstance(r.error, e.Throttled) and r.error.retry_after == 3600
    assert rec.sleeps == [] and len(server.batches) == 1


def test_depends_on_kept_together_and_424_retried_with_its_dependency() -> None:
    server = FakeBatchServer({"t1": [(429, {"Retry-After": "1"})]})
    client = mock_client(server)
    first = BatchRequest("PATCH", "/users/a", body={"tag": "t1"}, id="create")
    second = BatchRequest("PATCH", "/users/b", body={"tag": "t2"}, depends_on=["create"])
    results = client.batch([patch(i + 10) for i in range(19)] + [first, second])
    assert all(r.ok for r in results), [r.error for r in results]
    assert [len(b) for b in server.batches] == [19, 2, 2]
    last = {r["id"]: r for r in server.batches[-1]}
    assert last["20"]["dependsOn"] == ["create"] and "create" in last
    assert results[-1].attempts == 2


def test_424_with_a_permanently_failed_dependency_is_final() -> None:
    server = FakeBatchServer({"t1": [(400, {})]})
    client = mock_client(server)
    a = BatchRequest("PATCH", "/users/a", body={"tag": "t1"}, id="a")
    b = BatchRequest("PATCH", "/users/b", body={"tag": "t2"}, depends_on=["a"])
    ra, rb = client.batch([a, b])
    assert isinstance(ra.error, e.BadRequest)
    assert isinstance(rb.error, e.FailedDependency) and rb.attempts == 1


def test_outer_connection_loss_retries_idempotent_and_flags_creates() -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        reqs = json.loads(request.content)["requests"]
        if calls["n"] == 1:
            raise httpx.ReadError("reset", request=request)
        return httpx.Response(200, json={"responses": [{"id": r["id"], "status": 204} for r in reqs]})

    client = mock_client(handler)
    create = BatchRequest("POST", "/users", body={"userPrincipalName": "n@x.com"})
    upd = BatchRequest("PATCH", "/users/u1", body={"displayName": "x"})
    rc, ru = client.batch([create, upd])
    assert isinstance(rc.error, e.MaybeCommitted)
    assert ru.ok and ru.attempts == 2


def test_fatal_outer_errors_raise() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            403, json={"error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges"}}
        )

    with pytest.raises(e.AccessDenied):
        mock_client(handler).batch([patch(1)])


def test_ids_and_dependencies_are_validated() -> None:
    client = mock_client(FakeBatchServer())
    with pytest.raises(ValueError):
        client.batch([BatchRequest("GET", "/a", id="X"), BatchRequest("GET", "/b", id="x")])
    with pytest.raises(ValueError):
        client.batch([BatchRequest("GET", "/a", depends_on=["nope"])])


def test_repeatable_post_actions_count_as_idempotent() -> None:
    from lockstep.m365.graph.transport import is_idempotent

    assert is_idempotent("POST", "/groups/g/members/$ref")
    assert is_idempotent("POST", "https://g/v1.0/users/u/revokeSignInSessions")
    assert is_idempotent("post", "/directory/deletedItems/x/restore")
    assert not is_idempotent("POST", "/users")
    assert not is_idempotent("POST", "/groups")
    assert is_idempotent("DELETE", "/groups/g/members/u/$ref")

    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        reqs = json.loads(request.content)["requests"]
        if calls["n"] == 1:
            raise httpx.ReadError("reset", request=request)
        return httpx.Response(200, json={"responses": [{"id": r["id"], "status": 204} for r in reqs]})

    client = mock_client(handler)
    [r] = client.batch(client.member_requests("g1", add=["u1"]))
    assert r.ok and calls["n"] == 2  # the all-idempotent batch was resent by the transport itself

"""Throttling and faults injected by m365sim, over real HTTPS: Retry-After honoured (top level
and inside $batch), backoff on 5xx, and "committed but response lost" on creates."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from lockstep.m365.graph import errors as e
from lockstep.m365.graph.batch import BatchRequest
from lockstep.m365.graph.client import GraphClient
from lockstep.m365.graph.ratelimit import TokenBucket
from lockstep.m365.graph.transport import RetryPolicy

from .test_sim_users import new_user, unique


def test_429_retry_after_is_honoured(sim: Any, graph: GraphClient) -> None:
    graph.list_domains()  # token first, so timing covers Graph only
    sim.sim.faults.add("throttle", method="GET", path=r"/v1\.0/users$", retry_after=0.4, count=2)
    started = time.monotonic()
    users = list(graph.list_users(select=["id"]))
    elapsed = time.monotonic() - started
    assert users
    assert elapsed >= 0.8
    assert graph.stats.throttled == 2 and graph.stats.slept == pytest.approx(0.8)


def test_long_retry_after_goes_back_to_the_caller(sim: Any, make_client: Callable[..., GraphClient]) -> None:
    graph = make_client(retry=RetryPolicy(max_retry_after=5))
    sim.sim.faults.add("throttle", method="GET", path=r"/v1\.0/domains$", retry_after=120, count=1)
    started = time.monotonic()
    with pytest.raises(e.Throttled) as info:
        graph.list_domains()
    assert info.value.retry_after == pytest.approx(120)
    assert time.monotonic() - started < 3


def test_server_errors_are_retried_with_backoff_for_reads(sim: Any, graph: GraphClient) -> None:
    sim.sim.faults.add("status", method="GET", path=r"/v1\.0/domains$", status=503, count=2)
    assert graph.list_domains()
    assert graph.stats.server_errors == 2 and graph.stats.retries == 2


def test_batch_resends_only_the_throttled_inner_requests(sim: Any, graph: GraphClient) -> None:
    users = [u["id"] for u in graph.list_users(select=["id"])][:30]
    sim.sim.faults.add("throttle", method="PATCH", path=r"/v1\.0/users/", retry_after=0.3, count=4)
    sim.clear_request_log()
    requests = [
        BatchRequest("PATCH", f"/users/{uid}", body={"jobTitle": f"Title {i}"}) for i, uid in enumerate(users)
    ]
    started = time.monotonic()
    results = graph.batch(requests)
    elapsed = time.monotonic() - started
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    assert sum(1 for r in results if r.attempts == 2) == 4
    assert elapsed >= 0.3
    inner = [r for r in sim.request_log() if r.get("in_batch") or r.get("inBatch")]
    patches = [r for r in inner if r["method"] == "PATCH"]
    assert len(patches) == 34  # 30 + the 4 resent, nothing else resent
    assert graph.stats.throttled == 4
    for i, uid in enumerate(users):
        assert graph.get_user(uid, select=["jobTitle"])["jobTitle"] == f"Title {i}"


def test_lost_create_response_is_maybe_committed_and_found_by_upn(sim: Any, graph: GraphClient) -> None:
    upn = unique()
    graph.list_domains()
    sim.sim.faults.add("lost_response", method="POST", path=r"/v1\.0/users$", count=1)
    with pytest.raises(e.MaybeCommitted) as info:
        graph.create_user(new_user(upn))
    assert info.value.kind == "uncertain"
    found = graph.find_user(upn)  # the write was applied: adopt it, never create it twice
    assert found is not None and found["userPrincipalName"] == upn


def test_lost_response_to_an_update_is_retried(sim: Any, graph: GraphClient) -> None:
    uid = graph.create_user(new_user(unique()))["id"]
    sim.sim.faults.add("lost_response", method="PATCH", path=r"/v1\.0/users/", count=1)
    graph.update_user(uid, {"jobTitle": "After loss"})
    assert graph.stats.connection_errors == 1
    assert graph.get_user(uid, select=["jobTitle"])["jobTitle"] == "After loss"


def test_hung_request_times_out_and_is_retried(sim: Any, make_client: Callable[..., GraphClient]) -> None:
    graph = make_client(timeout=1.0)
    graph.list_domains()
    sim.sim.faults.add("hang", method="GET", path=r"/v1\.0/domains$", seconds=3, count=1)
    started = time.monotonic()
    assert graph.list_domains()
    assert graph.stats.connection_errors == 1
    assert time.monotonic() - started < 6


def test_batch_with_lost_response_flags_creates_and_retries_updates(sim: Any, graph: GraphClient) -> None:
    uid = graph.create_user(new_user(unique()))["id"]
    upn = unique()
    sim.sim.faults.add("lost_response", method="POST", path=r"/v1\.0/users$", count=1)
    create, update = graph.batch(
        [
            BatchRequest("POST", "/users", body=dict(new_user(upn))),
            BatchRequest("PATCH", f"/users/{uid}", body={"jobTitle": "Batched"}),
        ]
    )
    assert isinstance(create.error, e.MaybeCommitted)
    assert update.ok and update.attempts == 2
    assert graph.find_user(upn) is not None


@pytest.fixture
def tight_write_budget(sim: Any) -> Iterator[None]:
    """m365sim's own token buckets (not a fault rule) with 5 writes per second per app+tenant."""
    sim.sim.settings.throttling_enabled = True
    sim.sim.throttle.configure(app_tenant_writes=5, app_tenant_write_window=1.0)
    yield
    sim.sim.throttle.configure(app_tenant_writes=3_000, app_tenant_write_window=150.0)
    sim.sim.settings.throttling_enabled = False


def test_graph_token_buckets_are_survived(tight_write_budget: None, graph: GraphClient) -> None:
    uid = graph.create_user(new_user(unique()))["id"]
    for i in range(15):
        graph.update_user(uid, {"jobTitle": f"v{i}"})
    assert graph.get_user(uid, select=["jobTitle"])["jobTitle"] == "v14"
    assert graph.stats.throttled > 0  # the sim's buckets did push back; Retry-After carried us through


def test_client_side_bucket_paces_below_the_limit(
    tight_write_budget: None, make_client: Callable[..., GraphClient]
) -> None:
    limiter = TokenBucket(rate=4.0, capacity=1.0)  # 4 units/s, under the sim's 5 writes/s
    graph = make_client(rate_limiter=limiter)
    uid = graph.create_user(new_user(unique()))["id"]
    time.sleep(1.0)  # let the sim's write bucket refill after the create
    for i in range(10):
        graph.update_user(uid, {"jobTitle": f"p{i}"})
    assert graph.stats.throttled == 0
    assert limiter.waited > 1.0

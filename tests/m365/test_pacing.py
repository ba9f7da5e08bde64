"""Pacing by what Graph says (graph-facts §5): the per-tenant budget hands out Graph's whole
write allowance to an idle tenant, then refills at Graph's rate; the limit-percentage header
slows it; a 429's Retry-After (top-level or inside `$batch`) pauses the tenant and, for a
throttled write, becomes its binding's retry time."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.utils import timezone

from lockstep.directory.actors import Actor
from lockstep.directory.services import users
from lockstep.m365 import lanes
from lockstep.m365.budget import DatabaseBudget
from lockstep.m365.engine import run_user_pass
from lockstep.m365.graph.auth import StaticTokenSource
from lockstep.m365.graph.batch import BatchRequest
from lockstep.m365.graph.client import GraphClient
from lockstep.m365.graph.connection import DirectoryConnection
from lockstep.m365.graph.errors import Throttled
from lockstep.m365.graph.transport import RetryPolicy
from lockstep.m365.models import Directory, GraphBudget, SyncStatus, UserBinding
from lockstep.m365.services import bindings
from lockstep.m365.sync_loop import PortCache
from lockstep.m365.sync_pass import retry_delay
from m365sim.testing import SimServer

CONNECTION = DirectoryConnection(
    tenant_id="contoso.onmicrosoft.com",
    client_id="00000000-0000-0000-0000-000000000001",
    client_secret="not-used",
    login_base_url="https://login.example.test",
    graph_base_url="https://graph.example.test/v1.0",
)

pytestmark = pytest.mark.django_db


class FakeClock:
    """A clock that only moves when the budget sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 1e-9, "a wait too small to move the clock: the budget would spin"
        self.slept += seconds
        self.now += seconds


def budget(clock: FakeClock, tenant: str = "contoso") -> DatabaseBudget:
    return DatabaseBudget(tenant, clock=clock, sleep=clock.sleep)


def take_writes(limiter: DatabaseBudget, count: int) -> None:
    for _ in range(count):
        limiter.acquire(1, writes=1)


# --- the allowance ----------------------------------------------------------------------------


def test_an_idle_tenant_gets_nearly_all_of_graphs_3000_writes_at_once() -> None:
    clock = FakeClock()
    limiter = budget(clock)
    assert limiter.limits.write_burst == pytest.approx(2_940)  # 98 % of 3,000 per 150 s
    for _ in range(146):
        limiter.acquire(20, writes=20)  # bulk work: 146 batches of 20 = 2,920 writes
    assert clock.slept == 0
    with lanes.priority():
        limiter.acquire(20, writes=20)  # the last 20 are the interactive lane's
    assert clock.slept == 0
    limiter.acquire(1, writes=1)  # one more waits for the refill, and the reserve's
    assert clock.slept == pytest.approx(21 / 19.6)


def test_bulk_work_leaves_the_interactive_lane_its_reserve() -> None:
    clock = FakeClock()
    limiter = budget(clock)
    take_writes(limiter, 2_920)  # bulk work down to the reserve: no wait
    assert clock.slept == 0 and limiter.write_room == pytest.approx(lanes.INTERACTIVE_RESERVE)
    limiter.acquire(1, writes=1)  # bulk may not take the 2,921st
    assert clock.slept == pytest.approx(1 / 19.6)
    clock.slept = 0
    with lanes.priority():  # a hand-made change may: the whole reserve at once, no more
        take_writes(limiter, 20)
        assert clock.slept == 0
        limiter.acquire(1, writes=1)
    assert clock.slept == pytest.approx(1 / 19.6)


def test_reads_are_not_held_back_by_the_reserve() -> None:
    clock = FakeClock()
    limiter = budget(clock)
    take_writes(limiter, 2_920)
    limiter.acquire(5)  # a read of bulk work: resource units only
    assert clock.slept == 0


def test_after_the_burst_the_budget_refills_at_98_percent_of_20_writes_a_second() -> None:
    clock = FakeClock()
    limiter = budget(clock)
    take_writes(limiter, 2_920)
    clock.now += 10.0  # 196 writes come back
    take_writes(limiter, 196)
    assert clock.slept == 0
    limiter.acquire(1, writes=1)
    assert clock.slept == pytest.approx(1 / 19.6)


def test_an_unknown_tenant_starts_full_even_when_a_pause_created_its_row() -> None:
    clock = FakeClock()
    limiter = budget(clock)
    limiter.penalize(5.0)
    take_writes(limiter, 2_920)
    assert clock.slept == pytest.approx(5.0)  # the pause only; no refill wait


# --- x-ms-throttle-limit-percentage -----------------------------------------------------------


def test_graph_saying_90_percent_used_leaves_a_tenth_of_the_writes() -> None:
    clock = FakeClock()
    limiter = budget(clock)
    limiter.observe_usage(0.9, writes=True)
    take_writes(limiter, 294 - 20)  # bulk work: 294 less the interactive reserve
    assert clock.slept == 0
    limiter.acquire(1, writes=1)
    assert clock.slept == pytest.approx(1 / 19.6)


def test_a_percentage_on_a_read_lowers_resource_units_but_not_writes() -> None:
    clock = FakeClock()
    limiter = budget(clock)
    limiter.observe_usage(0.95, writes=False)
    assert limiter.in_use() == {"resource_units": 0.95, "writes": 0.0}


def test_graph_counting_less_than_lockstep_never_speeds_it_up() -> None:
    clock = FakeClock()
    limiter = budget(clock)
    take_writes(limiter, 2_920)
    limiter.observe_usage(0.8, writes=True)
    limiter.acquire(1, writes=1)
    assert clock.slept == pytest.approx(1 / 19.6)


def test_over_the_limit_waits_until_graph_has_room_again() -> None:
    clock = FakeClock()
    limiter = budget(clock)
    limiter.observe_usage(1.1, writes=True)  # 10 % over: 294 writes in debt
    with lanes.priority():
        limiter.acquire(1, writes=1)
    assert clock.slept == pytest.approx(295 / 19.6)


# --- the Graph client tells the budget ----------------------------------------------------------


def graph_with(limiter: DatabaseBudget, clock: FakeClock, handler: Any) -> GraphClient:
    return GraphClient(
        CONNECTION,
        tokens=StaticTokenSource("token-1"),
        http_transport=httpx.MockTransport(handler),
        rate_limiter=limiter,
        sleep=clock.sleep,
        retry=RetryPolicy(max_attempts=3, max_retry_after=60.0),
    )


def batch_answer(status: int, headers: dict[str, str]) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"responses": [{"id": "1", "status": status, "headers": headers, "body": {"id": "u1"}}]}
        return httpx.Response(200, json=body)

    return handler


def test_a_percentage_inside_a_batch_answer_slows_the_budget() -> None:
    clock = FakeClock()
    limiter = budget(clock)
    headers = {"Content-Type": "application/json", "x-ms-throttle-limit-percentage": "0.9"}
    with graph_with(limiter, clock, batch_answer(201, headers)) as graph:
        [result] = graph.batch([BatchRequest("POST", "/users", body={"displayName": "A"})])
    assert result.ok
    assert limiter.in_use()["writes"] == pytest.approx(0.9)


def test_a_percentage_on_a_top_level_answer_slows_the_budget() -> None:
    clock = FakeClock()
    limiter = budget(clock)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(204, headers={"x-ms-throttle-limit-percentage": "0.85"})

    with graph_with(limiter, clock, handler) as graph:
        graph.send("PATCH", "/users/u1", {"jobTitle": "Engineer"})
    assert limiter.in_use()["writes"] == pytest.approx(0.85)


def test_an_inner_429_pauses_the_whole_tenant_for_its_retry_after() -> None:
    clock = FakeClock()
    limiter = budget(clock)
    headers = {"Retry-After": "120", "Content-Type": "application/json"}
    with graph_with(limiter, clock, batch_answer(429, headers)) as graph:
        [result] = graph.batch([BatchRequest("POST", "/users", body={"displayName": "A"})])
    assert isinstance(result.error, Throttled) and result.error.retry_after == 120
    assert clock.slept == 0  # too long to hold the worker: the caller reschedules
    assert GraphBudget.objects.get(tenant_id="contoso").blocked_until == pytest.approx(clock.now + 120)
    limiter.acquire(1)
    assert clock.slept == pytest.approx(120)


def test_a_top_level_429_pauses_the_whole_tenant_for_its_retry_after() -> None:
    clock = FakeClock()
    limiter = budget(clock)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "90"}, json={"error": {"code": "TooManyRequests"}})

    with graph_with(limiter, clock, handler) as graph, pytest.raises(Throttled):
        graph.send("PATCH", "/users/u1", {"jobTitle": "Engineer"})
    limiter.acquire(1)
    assert clock.slept == pytest.approx(90)


# --- a throttled write's binding ------------------------------------------------------------------


def test_an_inner_retry_after_becomes_the_bindings_retry_time(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    sim.sim.faults.add("throttle", method="POST", path=r"^/v1\.0/users$", retry_after=120, count=1)
    user = users.create_user(
        actor=actor,
        fields={"username": "tess", "email": "tess@contoso.com", "first_name": "Tess", "last_name": "T"},
    )
    bindings.bind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    ports = PortCache()
    try:
        before = timezone.now()
        result = run_user_pass(directory, ports.port_for(directory))
    finally:
        ports.close()
    binding = UserBinding.objects.get(user=user)
    assert result.errors == 1 and binding.status == SyncStatus.PENDING
    assert binding.retry_at is not None
    assert before + timedelta(seconds=119) <= binding.retry_at <= timezone.now() + timedelta(seconds=121)
    paused = GraphBudget.objects.get(tenant_id=directory.tenant_id).blocked_until
    assert 115 <= paused - time.time() <= 121  # the tenant waits as long as the binding


def test_retry_after_replaces_the_backoff_exactly_and_without_it_the_backoff_stays() -> None:
    assert retry_delay(1, 120.0) == timedelta(seconds=120)
    assert retry_delay(7, 0.25) == timedelta(seconds=0.25)  # a short one is not stretched either
    assert timedelta(seconds=1) <= retry_delay(1) <= timedelta(seconds=2)  # backoff: 1-2 s at first

"""Microsoft 365 out of reach turns the directory red in plain words while sync keeps trying, and
the first pass that gets an answer turns it green again (m365sim over HTTPS)."""

from __future__ import annotations

from typing import Any

import pytest

from lockstep.m365 import reachability, sync_loop
from lockstep.m365.directory_status import DOWN, OK, state_of_directory
from lockstep.m365.health import health_of
from lockstep.m365.models import Directory, Health

pytestmark = pytest.mark.django_db(transaction=True)


def _round() -> Directory:
    sync_loop.run_once(ports=sync_loop.PortCache())
    return Directory.objects.get()


def test_connection_failure_turns_red_and_an_answer_turns_green(
    directory: Directory, sim: Any, settings: Any
) -> None:
    settings.M365_DRIFT_SECONDS = 0  # a drift round (Graph reads) in every pass
    healthy = _round()
    assert healthy.unreachable_since is None and healthy.last_sync_at is not None
    assert state_of_directory(healthy).level == OK

    sim.control("POST", "/faults", json={"kind": "reset", "path": "^/v1.0"})  # connections dropped
    down = _round()
    assert down.unreachable_since is not None
    assert down.unreachable_reason == reachability.CONNECTION_WORDS
    assert down.health == Health.OK  # not paused: sync keeps trying
    assert down in sync_loop.active_directories()
    assert down.last_sync_at == healthy.last_sync_at
    reported = health_of(down)  # what the REST API and `lockstep m365 status` report
    assert reported.health == "red" and reported.health_reason == reachability.CONNECTION_WORDS
    state = state_of_directory(down)
    assert state.level == DOWN and "cannot reach Microsoft 365" in state.words

    sim.control("DELETE", "/faults")
    back = _round()
    assert back.unreachable_since is None and back.unreachable_reason == ""
    assert back.last_sync_at is not None and back.last_sync_at > healthy.last_sync_at
    assert state_of_directory(back).level == OK and health_of(back).health == "ok"


def test_repeated_server_errors_turn_red(directory: Directory, sim: Any, settings: Any) -> None:
    settings.M365_DRIFT_SECONDS = 0
    _round()
    sim.control("POST", "/faults", json={"kind": "status", "status": 500, "path": "^/v1.0"})
    try:
        down = _round()
    finally:
        sim.control("DELETE", "/faults")
    assert down.unreachable_reason == reachability.SERVER_ERROR_WORDS
    assert _round().unreachable_since is None

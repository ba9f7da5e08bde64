"""A directory's state (green / amber / red) at its edges, and what the Graph counters say about
reachability. Pure: no database, no network."""

from __future__ import annotations

from datetime import UTC, datetime

from lockstep.m365 import reachability
from lockstep.m365.directory_status import ATTENTION, DOWN, OK, state_of, worst


def test_nothing_held_is_green() -> None:
    state = state_of(health="ok", held=0)
    assert (state.level, state.label, state.reasons) == (OK, "Healthy", ())


def test_one_held_write_is_amber_and_says_so() -> None:
    state = state_of(health="ok", held=1)
    assert state.level == ATTENTION and state.label == "Needs attention"
    assert state.words.startswith("1 write is held by the deletion brake")


def test_held_writes_are_counted_in_words() -> None:
    assert state_of(health="ok", held=4).words.startswith("4 writes are held")


def test_errors_restore_offers_degraded_and_unverified_need_attention() -> None:
    assert state_of(health="ok", errors=1).level == ATTENTION
    assert state_of(health="ok", restore_offered=1).level == ATTENTION
    assert state_of(health="degraded", health_reason="Missing: Domain.Read.All").words == (
        "Missing: Domain.Read.All"
    )
    assert state_of(health="unknown").level == ATTENTION


def test_unreachable_is_red_with_the_reason_and_since_when() -> None:
    since = datetime(2026, 12, 1, 4, 30, tzinfo=UTC)
    state = state_of(
        health="ok", held=3, unreachable_since=since, unreachable_reason=reachability.CONNECTION_WORDS
    )
    assert state.level == DOWN and state.label == "Cannot reach Microsoft 365"
    assert reachability.CONNECTION_WORDS in state.words and "Since 2026-12-01 04:30 UTC" in state.words


def test_recovered_is_green_again() -> None:
    assert state_of(health="ok", unreachable_since=None, unreachable_reason="").level == OK


def test_broken_directory_is_red_and_says_sync_is_paused() -> None:
    state = state_of(health="red", health_reason="The client secret has expired.")
    assert state.level == DOWN and state.label == "Broken"
    assert "Sync is paused" in state.words


def test_worst_of_no_directories_is_green() -> None:
    assert worst([]) == OK
    assert worst([state_of(health="ok"), state_of(health="ok", held=1)]) == ATTENTION
    assert worst([state_of(health="ok", held=1), state_of(health="red")]) == DOWN


def _stats(**values: float) -> dict[str, float]:
    return {"http_requests": 0, "server_errors": 0, "connection_errors": 0, **values}


def test_no_requests_say_nothing() -> None:
    verdict = reachability.verdict(_stats(), _stats())
    assert (verdict.reached, verdict.failed, verdict.reason) == (False, False, "")


def test_connection_errors_without_an_answer_are_unreachable() -> None:
    verdict = reachability.verdict(_stats(), _stats(connection_errors=5))
    assert not verdict.reached and verdict.reason == reachability.CONNECTION_WORDS


def test_only_server_errors_are_an_outage() -> None:
    verdict = reachability.verdict(_stats(), _stats(http_requests=5, server_errors=5))
    assert not verdict.reached and verdict.reason == reachability.SERVER_ERROR_WORDS


def test_one_answer_among_failures_is_reachable() -> None:
    verdict = reachability.verdict(_stats(), _stats(http_requests=6, server_errors=5, connection_errors=1))
    assert verdict.reached and verdict.reason == ""

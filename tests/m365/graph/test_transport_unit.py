"""Retry schedules and failure modes of the transport (httpx.MockTransport: these cases are
timing- and fault-shaped; the behaviour against a real server is in test_sim_*.py)."""

from __future__ import annotations

import httpx
import pytest

from lockstep.m365.graph import errors as e
from lockstep.m365.graph.ratelimit import TokenBucket
from lockstep.m365.graph.transport import RetryPolicy

from .helpers import GRAPH, CountingTokens, Recorder, graph_error, mock_client


def throttled(retry_after: str | None) -> httpx.Response:
    resp = graph_error(429, "TooManyRequests", "Please retry again later.")
    if retry_after is not None:
        resp.headers["Retry-After"] = retry_after
    return resp


def test_429_honours_fractional_retry_after_then_succeeds() -> None:
    answers = [throttled("2.128"), throttled("0.5"), httpx.Response(200, json={"id": "u1"})]
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers.pop(0)

    rec = Recorder()
    client = mock_client(handler, recorder=rec)
    assert client.get_user("u1", select=["id"]) == {"id": "u1"}
    assert rec.sleeps == [pytest.approx(2.128), pytest.approx(0.5)]
    assert client.stats.throttled == 2 and client.stats.http_requests == 3
    ids = {r.headers["client-request-id"] for r in seen}
    assert len(ids) == 3  # a fresh client-request-id per attempt
    assert all(r.headers["Authorization"] == "Bearer token-1" for r in seen)


def test_retry_after_above_the_cap_is_handed_to_the_caller() -> None:
    rec = Recorder()
    client = mock_client(lambda r: throttled("600"), recorder=rec, retry=RetryPolicy(max_retry_after=60))
    with pytest.raises(e.Throttled) as info:
        client.get_user("u1")
    assert info.value.retry_after == 600
    assert rec.sleeps == []


def test_backoff_is_exponential_with_full_jitter_when_no_retry_after() -> None:
    rec = Recorder(rand=0.5)
    client = mock_client(
        lambda r: graph_error(503, "serviceNotAvailable", "busy"),
        recorder=rec,
        retry=RetryPolicy(max_attempts=5, base_delay=1.0, max_delay=4.0),
    )
    with pytest.raises(e.ServerError):
        client.get_user("u1")
    # ceilings 1, 2, 4, 4 (capped) times random() = 0.5
    assert rec.sleeps == [0.5, 1.0, 2.0, 2.0]
    assert client.stats.server_errors == 5


def test_504_retried_for_get_but_post_create_raises_maybe_committed() -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        return graph_error(504, "GatewayTimeout", "timeout")

    client = mock_client(handler)
    with pytest.raises(e.MaybeCommitted) as info:
        client.create_user({"userPrincipalName": "a@x.com"})
    assert calls["n"] == 1
    assert info.value.status == 504


def test_connection_lost_after_sending_a_post_is_maybe_committed_but_get_is_retried() -> None:
    def lost(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    client = mock_client(lost)
    with pytest.raises(e.MaybeCommitted):
        client.create_user({"userPrincipalName": "a@x.com"})

    attempts = {"n": 0}

    def flaky(request: httpx.Request) -> httpx.Response:
        attempts["n"] += 1
        if attempts["n"] < 3:
            raise httpx.ReadTimeout("no answer", request=request)
        return httpx.Response(204)

    rec = Recorder()
    client = mock_client(flaky, recorder=rec)
    client.update_user("u1", {"displayName": "x"})  # PATCH: idempotent, retried
    assert attempts["n"] == 3 and len(rec.sleeps) == 2
    assert client.stats.connection_errors == 2


def test_connect_error_on_post_is_retried_because_nothing_was_sent() -> None:
    attempts = {"n": 0}

    def refused(request: httpx.Request) -> httpx.Response:
        attempts["n"] += 1
        if attempts["n"] == 1:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(201, json={"id": "new"})

    client = mock_client(refused)
    assert client.create_user({"userPrincipalName": "a@x.com"}) == {"id": "new"}


def test_expired_token_is_refreshed_once_then_fatal() -> None:
    tokens = CountingTokens()
    auth_seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        auth_seen.append(request.headers["Authorization"])
        if request.headers["Authorization"] == "Bearer token-1":
            return graph_error(
                401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid."
            )
        return httpx.Response(200, json={"id": "u1"})

    client = mock_client(handler, tokens=tokens)
    assert client.get_user("u1")["id"] == "u1"
    assert auth_seen == ["Bearer token-1", "Bearer token-2"] and tokens.invalidated == 1

    always = mock_client(
        lambda r: graph_error(401, "InvalidAuthenticationToken", "Access token is empty."),
        tokens=CountingTokens(),
    )
    with pytest.raises(e.InvalidToken) as info:
        always.get_user("u1")
    assert info.value.kind == "fatal"


def test_permanent_errors_are_not_retried() -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        return graph_error(
            403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
        )

    with pytest.raises(e.AccessDenied):
        mock_client(handler).delete_user("u1")
    assert calls["n"] == 1


def test_next_links_to_other_hosts_are_refused() -> None:
    pages = [
        httpx.Response(
            200, json={"value": [{"id": "1"}], "@odata.nextLink": "https://evil.example/v1.0/users?x"}
        ),
    ]
    client = mock_client(lambda r: pages.pop(0))
    with pytest.raises(ValueError, match="another host"):
        list(client.list_users())


def test_paging_follows_next_link_verbatim() -> None:
    urls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        urls.append(str(request.url))
        if "$skiptoken" in str(request.url) or "%24skiptoken" in str(request.url):
            return httpx.Response(200, json={"value": [{"id": "2"}]})
        return httpx.Response(
            200, json={"value": [{"id": "1"}], "@odata.nextLink": f"{GRAPH}/users?$skiptoken=abc%2Fdef"}
        )

    client = mock_client(handler)
    assert [u["id"] for u in client.list_users(select=["id"])] == ["1", "2"]
    assert urls[1] == f"{GRAPH}/users?$skiptoken=abc%2Fdef"


def test_rate_limiter_is_charged_and_penalized() -> None:
    class Clock:
        now = 0.0

        def __call__(self) -> float:
            return self.now

    clock = Clock()
    waits: list[float] = []
    bucket = TokenBucket(rate=100, capacity=100, clock=clock, sleep=waits.append)
    answers = [throttled("1.5"), httpx.Response(200, json={"value": []})]
    client = mock_client(lambda r: answers.pop(0))
    client.transport.rate_limiter = bucket
    list(client.list_users())
    assert waits == [pytest.approx(1.5)]  # second attempt waited for the penalty in the bucket


def test_post_429_is_retried_because_graph_did_not_act() -> None:
    answers = [throttled("1"), httpx.Response(201, json={"id": "n"})]
    client = mock_client(lambda r: answers.pop(0))
    assert client.create_user({"userPrincipalName": "a@x.com"})["id"] == "n"
    assert client.stats.writes == 2

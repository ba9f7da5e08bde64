"""HTTP to Graph: one long-lived httpx client, bearer tokens, retries, pacing and accounting."""

from __future__ import annotations

import logging
import random as _random
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from .auth import TokenSource
from .classify import classify
from .errors import (
    ConnectionFailed,
    GraphError,
    InvalidToken,
    MaybeCommitted,
    Throttled,
    Transient,
)
from .ratelimit import NoRateLimit, RateLimiter, ThrottleAware, UsageAware, estimate_cost, limit_usage

log = logging.getLogger("lockstep.m365.graph")

USER_AGENT = "Lockstep/0.1 (+https://github.com/lockstep; graph client on httpx)"
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""PATCH and DELETE are idempotent in Graph's directory API (same body, same end state)."""

_IDEMPOTENT_POST_SUFFIXES = ("/$ref", "/revokesigninsessions", "/assignlicense", "/restore")
"""POST actions whose repetition is harmless: adding a member twice gives `AlreadyMember`,
revoking sessions or restoring twice leaves the same state, assignLicense sets the same licenses."""


def is_idempotent(method: str, url: str) -> bool:
    """Whether sending this request twice leaves the same state as sending it once."""
    method = method.upper()
    if method in IDEMPOTENT_METHODS:
        return True
    path = urlsplit(url).path.lower().rstrip("/")
    return method == "POST" and path.endswith(_IDEMPOTENT_POST_SUFFIXES)


RETRY_STATUSES_ALWAYS = frozenset({429, 503})
"""Retried for every method: Graph refused the request without acting on it."""
RETRY_STATUSES_IDEMPOTENT = frozenset({500, 502, 504})
"""Retried only for idempotent requests: a create may have been applied before the failure."""


@dataclass(slots=True)
class RetryPolicy:
    """How hard to retry before handing the error to the caller."""

    max_attempts: int = 5
    base_delay: float = 0.5  # first backoff ceiling in seconds (full jitter below it)
    max_delay: float = 30.0  # backoff ceiling
    max_retry_after: float = 60.0  # a longer Retry-After is not slept: Throttled goes to the caller

    def backoff(self, attempt: int, rand: Callable[[], float]) -> float:
        """Full jitter: uniform in [0, min(max_delay, base_delay * 2**(attempt-1))]."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** max(0, attempt - 1)))
        return rand() * ceiling


@dataclass
class RequestStats:
    """Counters for benchmarks and health: HTTP requests, Graph writes, throttled responses."""

    http_requests: int = 0
    writes: int = 0  # write operations (inner batch requests counted one by one)
    throttled: int = 0  # 429 responses, inner batch responses included
    retries: int = 0
    server_errors: int = 0
    connection_errors: int = 0
    slept: float = 0.0  # seconds slept honouring Retry-After or backing off
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: float) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            return {
                "http_requests": self.http_requests,
                "writes": self.writes,
                "throttled": self.throttled,
                "retries": self.retries,
                "server_errors": self.server_errors,
                "connection_errors": self.connection_errors,
                "slept": self.slept,
            }


def _ssl_context(ca_file: str | None) -> ssl.SSLContext | bool:
    if ca_file:
        return ssl.create_default_context(cafile=ca_file)
    return True


class Transport:
    """Sends one Graph request at a time (thread-safe), retrying what is safe to retry.

    Non-2xx answers raise the classified `GraphError`; 2xx answers return the `httpx.Response`.
    """

    def __init__(
        self,
        *,
        graph_base: str,
        tokens: TokenSource,
        ca_file: str | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        rate_limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        random: Callable[[], float] = _random.random,
        stats: RequestStats | None = None,
        http_transport: httpx.BaseTransport | None = None,
        max_connections: int = 20,
    ) -> None:
        self.graph_base = graph_base.rstrip("/")
        parts = urlsplit(self.graph_base)
        self._origin = (parts.scheme, parts.netloc.lower())
        self.tokens = tokens
        self.rate_limiter: RateLimiter = rate_limiter or NoRateLimit()
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.random = random
        self.stats = stats or RequestStats()
        self._client = httpx.Client(
            verify=_ssl_context(ca_file),
            timeout=timeout,
            limits=httpx.Limits(
                max_connections=max_connections,
                max_keepalive_connections=max_connections,
                keepalive_expiry=60.0,
            ),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            transport=http_transport,
            follow_redirects=False,
        )

    # --- URLs ---

    def url_for(self, path_or_url: str) -> str:
        """An absolute URL under the Graph base; absolute URLs (nextLinks) must share its origin."""
        if path_or_url.startswith(("https://", "http://")):
            parts = urlsplit(path_or_url)
            if (parts.scheme, parts.netloc.lower()) != self._origin:
                raise ValueError(f"refusing to send a Graph token to another host: {path_or_url}")
            return path_or_url
        return self.graph_base + "/" + path_or_url.lstrip("/")

    def relative(self, path_or_url: str) -> str:
        """The part after the Graph base (what `$batch` wants), e.g. `/users?$top=5`."""
        if path_or_url.startswith(self.graph_base):
            rest = path_or_url[len(self.graph_base) :]
            return rest if rest.startswith("/") else "/" + rest
        if path_or_url.startswith(("https://", "http://")):
            raise ValueError(f"not under the Graph base {self.graph_base}: {path_or_url}")
        return "/" + path_or_url.lstrip("/")

    # --- sending ---

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        cost: float | None = None,
        writes: int | None = None,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send with retries; return the 2xx response or raise the classified `GraphError`.

        `idempotent` defaults by method (POST is not); a non-idempotent request whose outcome is
        unknown (connection lost after sending, 500/502/504) raises `MaybeCommitted`.
        """
        method = method.upper()
        url = self.url_for(path)
        if idempotent is None:
            idempotent = is_idempotent(method, url)
        if cost is None:
            cost = estimate_cost(method, str(httpx.URL(url, params=params or None)))
        if writes is None:
            writes = 0 if method == "GET" else 1
        refreshed_token = False
        attempt = 0
        while True:
            attempt += 1
            self.rate_limiter.acquire(cost, writes)
            client_request_id = str(uuid.uuid4())
            try:
                token = self.tokens.token()
            except Transient:  # no token: the login endpoint failed (counted for reachability)
                self.stats.add(connection_errors=1)
                raise
            send_headers = {
                "Authorization": f"Bearer {token}",
                "client-request-id": client_request_id,
                "return-client-request-id": "true",
            }
            if headers:
                send_headers.update(headers)
            try:
                response = self._client.request(method, url, params=params, json=json, headers=send_headers)
            except httpx.TransportError as exc:
                self.stats.add(connection_errors=1)
                never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
                if not idempotent and not never_sent:
                    raise MaybeCommitted(
                        f"{method} {path}: connection lost before the answer ({type(exc).__name__})",
                        cause=exc,
                        client_request_id=client_request_id,
                    ) from exc
                if attempt >= self.retry.max_attempts:
                    raise ConnectionFailed(
                        f"{method} {path}: {type(exc).__name__}: {exc}", client_request_id=client_request_id
                    ) from exc
                backoff = self.retry.backoff(attempt, self.random)
                log.info(
                    "graph %s %s: %s (client-request-id %s); retry %d in %.2fs",
                    method,
                    urlsplit(url).path,
                    type(exc).__name__,
                    client_request_id,
                    attempt,
                    backoff,
                )
                self._wait(backoff)
                continue

            self.stats.add(http_requests=1, writes=writes)
            if response.is_success:
                self.observe_usage(limit_usage(response.headers), writes=writes > 0)
                return response
            error = classify(response.status_code, response.content, response.headers)
            status = response.status_code
            if status == 429:
                self.stats.add(throttled=1)
            elif status >= 500:
                self.stats.add(server_errors=1)
            if isinstance(error, InvalidToken) and not refreshed_token:
                # The cached token may have been revoked or have expired early: get a fresh one once.
                refreshed_token = True
                self.tokens.invalidate()
                continue
            delay = self._retry_delay(error, status, idempotent, attempt)
            if delay is None:
                if not idempotent and status in RETRY_STATUSES_IDEMPOTENT:
                    raise MaybeCommitted(
                        f"{method} {path}: HTTP {status}; the write may or may not have been applied",
                        cause=error,
                        status=status,
                        code=error.code,
                        request_id=error.request_id,
                        client_request_id=error.client_request_id,
                    ) from error
                raise error
            log.info(
                "graph %s %s: HTTP %d %s (request-id %s); retry %d in %.2fs",
                method,
                urlsplit(url).path,
                status,
                error.code,
                error.request_id,
                attempt,
                delay,
            )
            self._wait(delay)

    def observe_usage(self, fraction: float | None, *, writes: bool) -> None:
        """Pass Graph's `x-ms-throttle-limit-percentage` (if it was sent) on to the rate limiter."""
        if fraction is not None and isinstance(self.rate_limiter, UsageAware):
            self.rate_limiter.observe_usage(fraction, writes=writes)

    def penalize(self, retry_after: float) -> None:
        """Tell the rate limiter that Graph asked for a pause of `retry_after` seconds."""
        if isinstance(self.rate_limiter, ThrottleAware):
            self.rate_limiter.penalize(retry_after)

    def _retry_delay(self, error: GraphError, status: int, idempotent: bool, attempt: int) -> float | None:
        """Seconds to wait before the next attempt, or None to give up and raise."""
        retry_after = error.retry_after if isinstance(error, Throttled) else None
        if retry_after is not None:
            self.penalize(retry_after)  # the whole tenant waits, whether or not this request retries
        retryable = status in RETRY_STATUSES_ALWAYS or (idempotent and status in RETRY_STATUSES_IDEMPOTENT)
        if not retryable or attempt >= self.retry.max_attempts:
            return None
        if retry_after is not None:
            if retry_after > self.retry.max_retry_after:
                return None  # too long to block a worker: the caller reschedules
            return retry_after
        return self.retry.backoff(attempt, self.random)

    def _wait(self, seconds: float) -> None:
        self.stats.add(retries=1, slept=seconds)
        if seconds > 0:
            self.sleep(seconds)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""The core of `GraphClient`: connection, tokens, transport, batching and the generic calls
(get, iterate, send, batch) the endpoint groups (`user_calls`, `group_calls`) build on."""

from __future__ import annotations

import random as _random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Self, cast
from urllib.parse import quote

import httpx

from . import odata
from .auth import MsalTokenSource, TokenSource
from .batch import BatchExecutor, BatchRequest, BatchResult
from .connection import DirectoryConnection
from .paging import MAX_PAGE_SIZE, iter_items
from .ratelimit import RateLimiter
from .transport import DEFAULT_TIMEOUT, RequestStats, RetryPolicy, Transport


def segment(value: str) -> str:
    """A path segment for an id or UPN (percent-encoded; a UPN starting with `$` in the quoted form)."""
    if value.startswith("$"):
        return "('" + quote(value.replace("'", "''"), safe="@") + "')"
    return quote(value, safe="@")


class GraphBase:
    """One directory's connection to Graph: a long-lived HTTP connection pool, tokens, retries,
    batching. `GraphClient` adds the typed endpoints."""

    def __init__(
        self,
        connection: DirectoryConnection,
        *,
        tokens: TokenSource | None = None,
        rate_limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        random: Callable[[], float] = _random.random,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        stats: RequestStats | None = None,
        http_transport: httpx.BaseTransport | None = None,
        batch_attempts: int = 5,
    ) -> None:
        self.connection = connection
        self.cloud = connection.resolved_cloud()
        self.tokens: TokenSource = tokens or MsalTokenSource(connection)
        self.transport = Transport(
            graph_base=self.cloud.graph_base,
            tokens=self.tokens,
            ca_file=connection.ca_file,
            timeout=timeout,
            rate_limiter=rate_limiter,
            retry=retry,
            sleep=sleep,
            random=random,
            stats=stats,
            http_transport=http_transport,
        )
        self.batcher = BatchExecutor(self.transport, max_attempts=batch_attempts)

    @property
    def stats(self) -> RequestStats:
        return self.transport.stats

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- generic ------------------------------------------------------------------------------

    def get(
        self,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        return cast(
            dict[str, Any], self.transport.request("GET", path, params=params, headers=headers).json()
        )

    def iterate(
        self,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every item of a collection, following nextLinks."""
        return iter_items(self.transport, path, params=params, headers=headers)

    def send(self, method: str, path: str, body: Any = None, *, idempotent: bool | None = None) -> Any:
        """One write; the parsed JSON body, or None for 204."""
        response = self.transport.request(method, path, json=body, idempotent=idempotent)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def batch(self, requests: Sequence[BatchRequest]) -> list[BatchResult]:
        """Run requests as `$batch` chunks of up to 20; results in input order."""
        return self.batcher.execute(requests)

    def directory_object_url(self, object_id: str) -> str:
        """The `@odata.id` of a directory object (for `$ref` and `@odata.bind`)."""
        return f"{self.cloud.graph_base}/directoryObjects/{segment(object_id)}"

    @staticmethod
    def _query(
        select: Iterable[str] | None, filter: str | None = None, top: int | None = None
    ) -> dict[str, str | int]:
        params: dict[str, str | int] = {}
        if select:
            params["$select"] = odata.select(select)
        if filter:
            params["$filter"] = filter
        if top:
            params["$top"] = min(top, MAX_PAGE_SIZE)
        return params

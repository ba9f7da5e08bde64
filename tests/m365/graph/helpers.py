"""Shared helpers for the Graph client's unit tests (httpx.MockTransport, fake clock)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from lockstep.m365.graph.auth import StaticTokenSource
from lockstep.m365.graph.client import GraphClient
from lockstep.m365.graph.connection import DirectoryConnection
from lockstep.m365.graph.transport import RetryPolicy

GRAPH = "https://graph.example.test/v1.0"
CONNECTION = DirectoryConnection(
    tenant_id="contoso.onmicrosoft.com",
    client_id="00000000-0000-0000-0000-000000000001",
    client_secret="not-used",
    login_base_url="https://login.example.test",
    graph_base_url=GRAPH,
)


class Recorder:
    """Records sleeps instead of sleeping; `random` returns a fixed value."""

    def __init__(self, rand: float = 0.5) -> None:
        self.sleeps: list[float] = []
        self.rand = rand

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def random(self) -> float:
        return self.rand


class CountingTokens(StaticTokenSource):
    def __init__(self) -> None:
        super().__init__("token-1")
        self.invalidated = 0

    def invalidate(self) -> None:
        self.invalidated += 1
        self._token = f"token-{self.invalidated + 1}"


def graph_error(status: int, code: str, message: str, **extra: Any) -> httpx.Response:
    body: dict[str, Any] = {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": "2024-08-20T04:25:57",
                "request-id": "rid-1",
                "client-request-id": "crid-1",
            },
            **extra,
        }
    }
    return httpx.Response(status, json=body, headers={"request-id": "rid-1"})


def mock_client(
    handler: Callable[[httpx.Request], httpx.Response],
    *,
    recorder: Recorder | None = None,
    retry: RetryPolicy | None = None,
    tokens: StaticTokenSource | None = None,
) -> GraphClient:
    rec = recorder or Recorder()
    return GraphClient(
        CONNECTION,
        tokens=tokens or StaticTokenSource("token-1"),
        http_transport=httpx.MockTransport(handler),
        sleep=rec.sleep,
        random=rec.random,
        retry=retry,
    )

"""graph-facts §12.3 in the Graph client: `$batch` dependency shapes and the 404 of a managed
domain's federationConfiguration, against m365sim's strict defaults (and a recording fake)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from lockstep.m365.graph.batch import BatchRequest
from lockstep.m365.graph.client import GraphClient

from .helpers import mock_client


def _shape(requests: list[dict[str, Any]]) -> str:
    """'parallel', 'sequential' (one chain, each on the one before it) or 'mixed'."""
    deps = {r["id"]: r.get("dependsOn", []) for r in requests}
    if not any(deps.values()):
        return "parallel"
    order = [r["id"] for r in requests]
    chain = all(deps[rid] == ([order[k - 1]] if k else []) for k, rid in enumerate(order))
    return "sequential" if chain else "mixed"


class Recording:
    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        reqs = json.loads(request.content)["requests"]
        self.batches.append(reqs)
        return httpx.Response(200, json={"responses": [{"id": r["id"], "status": 204} for r in reqs]})


def test_dependency_chains_go_in_their_own_fully_sequential_batch() -> None:
    server = Recording()
    client = mock_client(server)
    requests = [
        BatchRequest("PATCH", "/users/a", body={"x": 1}, id="a"),
        BatchRequest("PATCH", "/users/free1", body={"x": 1}),
        BatchRequest("PATCH", "/users/b", body={"x": 1}, id="b", depends_on=["a"]),
        BatchRequest("PATCH", "/users/c", body={"x": 1}, id="c", depends_on=["a"]),  # a fan-out
        BatchRequest("PATCH", "/users/free2", body={"x": 1}),
        BatchRequest("PATCH", "/users/e", body={"x": 1}, id="e", depends_on=["d"]),  # forward reference
        BatchRequest("PATCH", "/users/d", body={"x": 1}, id="d"),
    ]
    results = client.batch(requests)
    assert all(r.ok for r in results)
    assert [_shape(b) for b in server.batches] == ["parallel", "sequential", "sequential"]
    assert [[r["url"] for r in b] for b in server.batches] == [
        ["/users/free1", "/users/free2"],
        ["/users/a", "/users/b", "/users/c"],
        ["/users/d", "/users/e"],
    ]


def test_a_failure_early_in_a_chain_fails_the_rest_as_424(graph: GraphClient) -> None:
    requests = [
        BatchRequest("GET", "/users/00000000-0000-0000-0000-000000000000", id="missing"),
        BatchRequest("GET", "/users?$top=1&$select=id", id="one", depends_on=["missing"]),
        BatchRequest("GET", "/users?$top=1&$select=id", id="two", depends_on=["missing"]),
        BatchRequest("GET", "/users?$top=1&$select=id"),  # independent: runs in its own batch
    ]
    results = graph.batch(requests)
    assert [r.status for r in results] == [404, 424, 424, 200]
    assert not results[1].retryable and not results[2].retryable


def test_mixed_requests_run_against_the_strict_emulator(graph: GraphClient) -> None:
    """m365sim refuses a mixed dependency graph with 400; the client never sends one."""
    requests = [BatchRequest("GET", "/users?$top=1&$select=id") for _ in range(3)]
    requests += [
        BatchRequest("GET", "/users?$top=1&$select=id", id="x"),
        BatchRequest("GET", "/users?$top=1&$select=id", id="y", depends_on=["x"]),
        BatchRequest("GET", "/users?$top=1&$select=id", id="z", depends_on=["x"]),
    ]
    results = graph.batch(requests)
    assert all(r.ok for r in results), [r.error for r in results]


def test_a_managed_domain_has_no_federation_configuration(graph: GraphClient) -> None:
    """Graph answers 404 (not an empty list) for a managed domain: that means no federation."""
    assert graph.list_federation_configurations("contoso.com") == []


def test_the_synced_object_refusal_is_classified_in_plain_words() -> None:
    from lockstep.m365.graph import errors as e
    from lockstep.m365.graph.classify import classify

    body = {
        "error": {
            "code": "Request_BadRequest",
            "message": "Unable to update the specified properties for on-premises mastered Directory Sync "
            "objects or objects currently undergoing migration.",
        }
    }
    error = classify(400, body, {})
    assert isinstance(error, e.SyncedFromOnPremises) and error.kind != "transient"
    assert "Entra Connect" in error.plain_words and "Active Directory" in error.plain_words

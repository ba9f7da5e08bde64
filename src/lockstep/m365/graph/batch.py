"""JSON batching: send many requests as `POST /$batch` chunks of at most 20.

Only the inner requests that failed transiently (429 with their own Retry-After, 5xx) are
resent, in new batches, up to `max_attempts` times. Results come back in input order.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .classify import classify
from .errors import (
    FailedDependency,
    FatalForDirectory,
    GraphError,
    MaybeCommitted,
    ServerError,
    Throttled,
    Transient,
)
from .ratelimit import estimate_cost, limit_usage
from .transport import RETRY_STATUSES_ALWAYS, RETRY_STATUSES_IDEMPOTENT, Transport, is_idempotent

MAX_BATCH = 20


@dataclass(slots=True)
class BatchRequest:
    """One inner request. `url` is relative to the Graph base (e.g. `/users/{id}`).

    `id` is optional (one is assigned); `depends_on` names ids of other requests in the same call,
    which are then sent in a `$batch` of their own, fully sequential (each inner request depends on
    the one before it): Graph supports fully sequential or fully parallel batches, not a mix.
    """

    method: str
    url: str
    body: Any = None
    headers: dict[str, str] | None = None
    id: str | None = None
    depends_on: list[str] | None = None
    idempotent: bool | None = None

    @property
    def is_idempotent(self) -> bool:
        return self.idempotent if self.idempotent is not None else is_idempotent(self.method, self.url)


@dataclass(slots=True)
class BatchResult:
    """The outcome of one inner request: status, headers, body and the classified error if any."""

    request: BatchRequest
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    error: GraphError | None = None
    attempts: int = 0
    retryable: bool = False  # failed transiently; resending the same request may succeed

    @property
    def ok(self) -> bool:
        return self.error is None and 200 <= self.status < 300


class BatchExecutor:
    """Runs lists of `BatchRequest`s through a `Transport`."""

    def __init__(self, transport: Transport, *, max_attempts: int = 5, chunk_size: int = MAX_BATCH) -> None:
        if not 1 <= chunk_size <= MAX_BATCH:
            raise ValueError(f"chunk_size must be 1..{MAX_BATCH}")
        self.transport = transport
        self.max_attempts = max_attempts
        self.chunk_size = chunk_size

    # --- planning ---

    def _assign_ids(self, requests: Sequence[BatchRequest]) -> list[str]:
        given = [r.id for r in requests if r.id]
        if len({g.lower() for g in given}) != len(given):
            raise ValueError("batch request ids must be unique (case-insensitively)")
        counter = itertools.count(1)
        taken = {g.lower() for g in given}
        ids: list[str] = []
        for r in requests:
            if r.id:
                ids.append(r.id)
                continue
            while (candidate := str(next(counter))) in taken:
                pass
            taken.add(candidate)
            ids.append(candidate)
        known = {i.lower() for i in ids}
        for r in requests:
            for dep in r.depends_on or []:
                if dep.lower() not in known:
                    raise ValueError(f"dependsOn names an unknown request id {dep!r}")
        return ids

    def _chunks(
        self, pending: list[int], ids: list[str], requests: Sequence[BatchRequest]
    ) -> list[list[int]]:
        """Pack pending requests into chunks, keeping dependency-connected requests together."""
        index_of = {ids[i].lower(): i for i in pending}
        parent = {i: i for i in pending}

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for i in pending:
            for dep in requests[i].depends_on or []:
                j = index_of.get(dep.lower())
                if j is not None:
                    parent[find(i)] = find(j)
        groups: dict[int, list[int]] = {}
        for i in pending:
            groups.setdefault(find(i), []).append(i)
        chunks: list[list[int]] = []
        chains: list[list[int]] = []
        current: list[int] = []
        for group in sorted(groups.values(), key=lambda g: g[0]):
            if len(group) > self.chunk_size:
                raise ValueError(f"{len(group)} requests depend on each other; at most {self.chunk_size} can")
            if len(group) > 1:
                # A dependency chain goes in a batch of its own: Graph runs a batch either fully
                # sequentially or fully in parallel, never a mix (graph-facts §12.3).
                chains.append(_in_dependency_order(group, ids, requests))
                continue
            if len(current) + len(group) > self.chunk_size:
                chunks.append(current)
                current = []
            current.extend(group)
        if current:
            chunks.append(current)
        return chunks + chains

    def _payload(self, chunk: list[int], ids: list[str], requests: Sequence[BatchRequest]) -> dict[str, Any]:
        """The `$batch` body. A chunk whose requests depend on one another is sent fully
        sequential: each request depends on the one before it (a topological order)."""
        chain = _chain(chunk, ids, requests)
        out = []
        for i in chunk:
            r = requests[i]
            item: dict[str, Any] = {
                "id": ids[i],
                "method": r.method.upper(),
                "url": self.transport.relative(r.url),
            }
            headers = dict(r.headers or {})
            if r.body is not None:
                item["body"] = r.body
                if not any(k.lower() == "content-type" for k in headers):
                    headers["Content-Type"] = "application/json"
            if headers:
                item["headers"] = headers
            if i in chain:
                item["dependsOn"] = [ids[chain[i]]]
            out.append(item)
        return {"requests": out}

    # --- running ---

    def execute(self, requests: Sequence[BatchRequest]) -> list[BatchResult]:
        """Run every request; return one `BatchResult` per request, in input order.

        Raises only `FatalForDirectory` (nothing will work until an administrator acts).
        """
        if not requests:
            return []
        ids = self._assign_ids(requests)
        results: list[BatchResult] = [BatchResult(r, 0) for r in requests]
        attempts = [0] * len(requests)
        pending = list(range(len(requests)))
        policy = self.transport.retry
        round_no = 0
        while pending:
            round_no += 1
            retry: list[int] = []
            wait = 0.0
            for chunk in self._chunks(pending, ids, requests):
                outcome = self._send(chunk, ids, requests)
                for i in chunk:
                    attempts[i] += 1
                    result = outcome[i]
                    result.attempts = attempts[i]
                    results[i] = result
                    if result.retryable and attempts[i] < self.max_attempts:
                        retry.append(i)
                        err = result.error
                        ra = err.retry_after if isinstance(err, Throttled) else None
                        wait = max(
                            wait, ra if ra is not None else policy.backoff(round_no, self.transport.random)
                        )
            if not retry or wait > policy.max_retry_after:
                break  # done, or too long to hold a worker: the last (Throttled) results go back
            self.transport.stats.add(retries=1, slept=wait)
            if wait > 0:
                self.transport.sleep(wait)
            pending = sorted(retry)
        return results

    @staticmethod
    def _transient(result: BatchResult) -> bool:
        err = result.error
        if not isinstance(err, Transient) or isinstance(err, MaybeCommitted):
            return False
        status = result.status
        if status in RETRY_STATUSES_ALWAYS or status == 0:
            return True
        return status in RETRY_STATUSES_IDEMPOTENT and result.request.is_idempotent

    def _send(
        self, chunk: list[int], ids: list[str], requests: Sequence[BatchRequest]
    ) -> dict[int, BatchResult]:
        payload = self._payload(chunk, ids, requests)
        cost = sum(estimate_cost(requests[i].method, requests[i].url) for i in chunk)
        writes = sum(1 for i in chunk if requests[i].method.upper() != "GET")
        all_idempotent = all(requests[i].is_idempotent for i in chunk)
        try:
            response = self.transport.request(
                "POST", "/$batch", json=payload, cost=cost, writes=writes, idempotent=all_idempotent
            )
        except FatalForDirectory:
            raise
        except MaybeCommitted as exc:
            # The whole batch's outcome is unknown: idempotent requests can simply go again.
            out: dict[int, BatchResult] = {}
            for i in chunk:
                if requests[i].is_idempotent:
                    out[i] = BatchResult(requests[i], 0, error=ServerError(str(exc), status=exc.status))
                else:
                    out[i] = BatchResult(requests[i], exc.status, error=exc)
            return _settle_424(out, _chain(chunk, ids, requests))
        except GraphError as exc:
            # The outer request failed (retries exhausted, or malformed): every inner one shares it.
            failed = {i: BatchResult(requests[i], exc.status, error=exc) for i in chunk}
            return _settle_424(failed, _chain(chunk, ids, requests))

        body = response.json()
        by_id: dict[str, Mapping[str, Any]] = {}
        for item in body.get("responses") or []:
            if isinstance(item, Mapping) and "id" in item:
                by_id[str(item["id"]).lower()] = item
        out = {}
        throttled = 0
        for i in chunk:
            item = by_id.get(ids[i].lower())
            if item is None:
                out[i] = BatchResult(
                    requests[i], 0, error=ServerError(f"$batch answer has no response for id {ids[i]}")
                )
                continue
            status = int(item.get("status") or 0)
            headers = {str(k): str(v) for k, v in (item.get("headers") or {}).items()}
            inner_body = item.get("body")
            error: GraphError | None = None
            if not 200 <= status < 300:
                error = classify(status, inner_body if isinstance(inner_body, Mapping) else None, headers)
                if status == 429:
                    throttled += 1
                if not requests[i].is_idempotent and status in RETRY_STATUSES_IDEMPOTENT:
                    error = MaybeCommitted(
                        f"inner {requests[i].method} {requests[i].url}: HTTP {status}; may have been applied",
                        cause=error,
                        status=status,
                        code=error.code,
                        request_id=error.request_id,
                    )
            out[i] = BatchResult(requests[i], status, headers, inner_body, error)
        if throttled:
            self.transport.stats.add(throttled=throttled)
        self._tell_limiter(out)
        return _settle_424(out, _chain(chunk, ids, requests))

    def _tell_limiter(self, out: dict[int, BatchResult]) -> None:
        """Inner answers carry Graph's throttling news too: the highest limit percentage goes to
        the limiter, and the longest inner Retry-After pauses the whole tenant."""
        readings = [
            (fraction, result.request.method.upper() != "GET")
            for result in out.values()
            if (fraction := limit_usage(result.headers)) is not None
        ]
        if readings:
            self.transport.observe_usage(
                max(fraction for fraction, _ in readings), writes=any(wrote for _, wrote in readings)
            )
        pauses = [
            r.error.retry_after
            for r in out.values()
            if isinstance(r.error, Throttled) and r.error.retry_after is not None
        ]
        if pauses:
            self.transport.penalize(max(pauses))


def _in_dependency_order(group: list[int], ids: list[str], requests: Sequence[BatchRequest]) -> list[int]:
    """The group's requests in an order where each comes after those it depends on."""
    index_of = {ids[i].lower(): i for i in group}
    done: list[int] = []
    placed: set[int] = set()
    while len(done) < len(group):
        ready = [
            i
            for i in group
            if i not in placed
            and all(
                index_of.get(d.lower()) in placed or d.lower() not in index_of
                for d in requests[i].depends_on or []
            )
        ]
        if not ready:
            raise ValueError("the dependsOn of these batch requests form a cycle")
        done.append(ready[0])
        placed.add(ready[0])
    return done


def _chain(chunk: list[int], ids: list[str], requests: Sequence[BatchRequest]) -> dict[int, int]:
    """For a chunk of dependent requests (in dependency order): each one's predecessor."""
    in_chunk = {ids[i].lower() for i in chunk}
    dependent = any(d.lower() in in_chunk for i in chunk for d in requests[i].depends_on or [])
    if not dependent:
        return {}
    return {chunk[k]: chunk[k - 1] for k in range(1, len(chunk))}


def _settle_424(out: dict[int, BatchResult], chain: dict[int, int]) -> dict[int, BatchResult]:
    """Mark transient failures retryable; a 424 is retryable only when the failure that stopped
    its chain is (the first failed request before it that is not itself a 424)."""
    for result in out.values():
        result.retryable = BatchExecutor._transient(result)
    for i, result in out.items():
        if not isinstance(result.error, FailedDependency):
            continue
        j = chain.get(i)
        while j is not None and j in out and isinstance(out[j].error, FailedDependency):
            j = chain.get(j)
        cause = out.get(j) if j is not None else None
        failed = cause is not None and cause.error is not None
        result.retryable = failed and cause is not None and cause.retryable
        if failed and not result.retryable and cause is not None and cause.error is not None:
            result.error.plain_words = cause.error.plain_words
    return out

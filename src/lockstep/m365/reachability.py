"""Whether Microsoft 365 answers: a directory turns red while it cannot be reached, green again
once a pass gets an answer.

Connection failures and 5xx answers are transient for each object (the engine retries them with
backoff), so they never touch `Directory.health`, which pauses sync until Verify. Instead every
sync round compares the Graph client's request counters before and after the directory's passes
(`verdict`) and records the outcome (`record`): no answer at all but failed attempts (DNS, TCP,
TLS, timeouts, or nothing but server errors after the client's retries) sets `unreachable_since`
and a reason in plain words; any answer clears it and stamps `last_sync_at`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.utils import timezone

from lockstep.m365.models import Directory

CONNECTION_WORDS = (
    "Lockstep cannot reach Microsoft 365: the connection fails (network, DNS or TLS problem, or a "
    "timeout). Changes wait in the queue and go out on their own once Microsoft 365 answers again."
)
SERVER_ERROR_WORDS = (
    "Microsoft 365 answers only with server errors (HTTP 5xx), even after retries: it has an outage. "
    "Changes wait in the queue and go out on their own once it answers again."
)


@dataclass(frozen=True)
class Verdict:
    reached: bool  # at least one answer that was not a server error
    failed: bool  # at least one failed attempt (no answer, or a 5xx)
    reason: str  # plain words when failed without any answer


def verdict(before: Mapping[str, float], after: Mapping[str, float]) -> Verdict:
    """What the Graph requests between two `RequestStats.snapshot()`s say about reachability."""

    def delta(name: str) -> float:
        return float(after.get(name, 0)) - float(before.get(name, 0))

    server_errors = delta("server_errors")
    connection_errors = delta("connection_errors")
    answered = delta("http_requests") - server_errors
    failed = (server_errors + connection_errors) > 0
    reason = ""
    if failed and answered <= 0:
        reason = CONNECTION_WORDS if connection_errors > 0 else SERVER_ERROR_WORDS
    return Verdict(reached=answered > 0, failed=failed, reason=reason)


def record(directory: Directory, result: Verdict) -> None:
    """Store the verdict: red while unreachable, cleared (and `last_sync_at` stamped) on an answer."""
    now = timezone.now()
    rows = Directory.objects.filter(pk=directory.pk)
    if result.reached:
        rows.update(unreachable_since=None, unreachable_reason="", last_sync_at=now)
    elif result.reason:
        rows.filter(unreachable_since__isnull=True).update(unreachable_since=now)
        rows.update(unreachable_reason=result.reason)

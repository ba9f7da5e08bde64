"""A Lockstep directory pointed at an m365sim server, as the tests add it."""

from __future__ import annotations

from typing import Any


def directory_fields(sim: Any, **overrides: Any) -> dict[str, Any]:
    """`add_directory` fields for m365sim's demo app (custom endpoints on loopback)."""
    return {
        "name": "Contoso 365",
        "tenant_id": sim.tenant_id,
        "client_id": sim.client_id,
        "credential_kind": "secret",
        "client_secret": sim.client_secret,
        "cloud": "custom",
        "login_base_url": sim.login_base_url,
        "graph_base_url": sim.graph_base_url,
        **overrides,
    }


def next_replication_retry() -> float | None:
    """Seconds until the earliest binding waiting for Microsoft 365's replication may retry."""
    from django.db.models import F, Min
    from django.utils import timezone

    from lockstep.m365.models import GroupBinding, UserBinding
    from lockstep.m365.replication import LAG_CODE

    waits = [
        model.objects.filter(
            last_error_code=LAG_CODE, desired_version__gt=F("applied_version"), retry_at__isnull=False
        ).aggregate(at=Min("retry_at"))["at"]
        for model in (UserBinding, GroupBinding)
    ]
    due = [w for w in waits if w is not None]
    if not due:
        return None
    return max(0.0, (min(due) - timezone.now()).total_seconds())


def sync_until_settled(*, passes: int = 5, wait_limit: float = 90.0) -> None:
    """Run sync passes until nothing is left to do, up to `passes` passes in a row.

    A binding waiting for Microsoft 365's replication (a 404 for an account Lockstep just
    created) retries seconds later: the helper sleeps until then, for at most `wait_limit`
    seconds in all. Nothing else is waited for (other backoffs stay as they are).
    """
    import time

    from lockstep.m365 import sync_loop

    deadline = time.monotonic() + wait_limit
    done = 0
    while done < passes:
        if sync_loop.run_once(ports=sync_loop.PortCache()):
            done += 1
            continue
        wait = next_replication_retry()
        if wait is None or time.monotonic() + wait > deadline:
            return
        time.sleep(wait + 0.05)
        done = 0

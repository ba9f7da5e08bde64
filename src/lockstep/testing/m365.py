"""A Lockstep directory pointed at an m365sim server, as the tests add it."""

from __future__ import annotations

import os
from typing import Any

SIM_LAG_VARIABLE = "LOCKSTEP_TEST_SIM_LAG_SECONDS"


def own_tenant(server: Any, index: int) -> str:
    """Reset an in-process m365sim server to a demo tenant of its own: tenant id ending in
    `index`, verified domain `t<index>.example` instead of contoso.com and fabrikam.com (two
    directories may not serve one domain). Returns the domain. Several such servers stand for
    several tenants (their own budgets, their own faults)."""
    server.reset("demo")
    server.sim.set_tenant_id(f"00000000-0000-4000-8000-{index:012d}")
    tenant = server.sim.tenant
    server.tenant_id = tenant.id
    for name in ("contoso.com", "fabrikam.com"):
        tenant.domains.pop(name, None)
    domain = f"t{index}.example"
    tenant.add_domain(domain, isVerified=True, isDefault=True)
    return domain


def sim_lag_seconds() -> float:
    """m365sim's replication lag for this test run (`LOCKSTEP_TEST_SIM_LAG_SECONDS`; default 0, none)."""
    raw = os.environ.get(SIM_LAG_VARIABLE, "").strip()
    try:
        seconds = float(raw or 0)
    except ValueError:
        raise ValueError(f"{SIM_LAG_VARIABLE} must be a number of seconds, not {raw!r}") from None
    if not 0 <= seconds <= 3600:
        raise ValueError(f"{SIM_LAG_VARIABLE} must be from 0 to 3600 seconds, not {raw!r}")
    return seconds


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
    seconds in all, and such a wait outlasts the `passes` cap (jittered retries of several
    bindings fall due one after another, each in a pass of its own). Nothing else is waited for
    (other backoffs stay as they are).
    """
    import time

    from lockstep.m365 import sync_loop

    deadline = time.monotonic() + wait_limit
    done = 0
    while True:
        ports = sync_loop.PortCache()
        try:
            handled = sync_loop.run_once(ports=ports)
        finally:
            ports.close()
        wait = next_replication_retry()
        if handled:
            done += 1
            if done < passes or (wait is not None and time.monotonic() + wait <= deadline):
                continue
            return
        if wait is None or time.monotonic() + wait > deadline:
            return
        time.sleep(wait + 0.05)
        done = 0


def lag_invariants(sim: Any) -> list[str]:
    """What replication lag must never cause, checked against m365sim's tenant (thread mode):

    - a binding parked as "not found" although its object exists in Microsoft 365;
    - a binding parked on a UPN conflict (its holder exists: Lockstep should have found it);
    - a binding marked deleted in Microsoft 365 although its account is there;
    - two accounts with the same immutable id (a duplicate of one Lockstep user), or two
      security groups with one display name.
    """
    from collections import Counter

    from lockstep.m365.models import GroupBinding, SyncStatus, UserBinding

    tenant = sim.sim.tenant
    problems: list[str] = []
    for model, objects in ((UserBinding, tenant.users), (GroupBinding, tenant.groups)):
        for binding in model.objects.filter(status=SyncStatus.ERROR):
            label = f"{model.__name__} {binding.pk} ({binding.remote_id or 'no remote id'})"
            if binding.last_error_code == "Request_ResourceNotFound" and binding.remote_id in objects:
                problems.append(f"{label} parked as not found, but the object exists")
            if binding.last_error_code == "ObjectConflict:userPrincipalName":
                problems.append(f"{label} parked on a UPN conflict: {binding.last_error}")
    for user_binding in UserBinding.objects.exclude(remote_deleted_at=None):
        if user_binding.remote_id in tenant.users:
            problems.append(f"UserBinding {user_binding.pk} marked deleted, but its account exists")
    immutable = Counter(u.get("onPremisesImmutableId") for u in tenant.users.values())
    problems += [f"{n} accounts share the immutable id {i}" for i, n in immutable.items() if i and n > 1]
    names = Counter(g["displayName"] for g in tenant.groups.values() if not g.get("mailEnabled"))
    problems += [f"{n} security groups are named {name!r}" for name, n in names.items() if n > 1]
    return problems


def wait_for_replication(sim: Any) -> None:
    """Sleep until m365sim's replica has every change made so far (no-op without lag): what an
    administrator acting in the admin center a little later sees."""
    import time

    replication = getattr(sim.sim.tenant, "replication", None)
    if replication is not None:
        time.sleep(replication.pending_seconds())


TAKEOVER_UPN = "nestor.wilke@contoso.com"


def takeover_pair(actor: Any, sim: Any) -> tuple[dict[str, Any], Any]:
    """m365sim's account TAKEOVER_UPN, given the job title "Manager", and the Lockstep user
    nestor matching it (same UPN, name, department) without one: the case of a safe takeover."""
    from lockstep.directory.services import users

    account: dict[str, Any] | None = sim.sim.tenant.find_user(TAKEOVER_UPN)
    assert account is not None, f"m365sim's demo tenant has no account {TAKEOVER_UPN}"
    account["jobTitle"] = "Manager"
    user = users.create_user(
        actor=actor,
        fields={
            "username": "nestor",
            "email": TAKEOVER_UPN,
            "first_name": "Nestor",
            "last_name": account["surname"],
            "department": account["department"],
            "usage_location": "US",
        },
    )
    return account, user

"""Sync health (SPEC 2.7): per binding the status and the last error as what to do; per directory
the queue depth, the age of the oldest pending change, errors, held writes and the Graph budget.

Also the Prometheus collector for the per-directory queue gauges (`register_metrics`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import DatabaseError
from django.db.models import Count, F, Min, Q
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from lockstep.directory.actors import Actor
from lockstep.directory.errors import NotFound
from lockstep.directory.models import Organization
from lockstep.m365.budget import DatabaseBudget
from lockstep.m365.models import Directory, GroupBinding, Health, HeldWrite, SyncStatus, UserBinding
from lockstep.m365.password_status import (
    DirectoryFacts,
    as_synced,
    facts_for,
    facts_of,
    password_state,
    waiting_for_login,
)
from lockstep.m365.services.bindings import get_directory

# (error code prefix or None, regex on the plain words or None, what to do)
_ADVICE: list[tuple[str | None, str | None, str]] = [
    (
        "deleted_in_m365",
        None,
        "The account was deleted in Microsoft 365. Restore it there (Deleted users, within 30 days of the "
        "deletion) and Lockstep syncs it again, or unbind the user.",
    ),
    (
        "purged_in_m365",
        None,
        "The account is gone for good: unbind the user, then bind again to create a new one.",
    ),
    (
        "restore_offered",
        None,
        "A deleted account with this address is in Microsoft 365's recycle bin: restore it (Restore action) "
        "instead of creating a duplicate.",
    ),
    (
        "admin_role_target",
        None,
        "The account holds an admin role that Lockstep's app may not change (it needs Privileged "
        "Authentication Administrator or Global Administrator). Change it in the Microsoft 365 admin center, "
        "remove its admin role, or unbind it.",
    ),
    (
        "ObjectConflict:proxyAddresses",
        None,
        "Another Microsoft 365 object (a user, group or shared mailbox) already uses this email address as a "
        "proxy address: remove the address there, or change the user's company email.",
    ),
    (
        "ObjectConflict:userPrincipalName",
        None,
        "Another Microsoft 365 account already has this user name (UPN): import that account to take it "
        "over, or change one of the two addresses.",
    ),
    (
        "ObjectConflict",
        None,
        "Another Microsoft 365 object already uses one of this user's unique values (address or immutable "
        "id): change one of them, or import the existing account.",
    ),
    (
        None,
        r"usage location",
        "Set the user's country (usage location) in Lockstep; Microsoft 365 needs it to license the account.",
    ),
    (
        None,
        r"not verified|domain portion|email domain not in this tenant|verified domain",
        "The company email's domain is not a verified domain of this tenant: verify it in Microsoft 365 and "
        "run Verify in Lockstep, or change the user's company email.",
    ),
    (
        None,
        r"federated|SourceAnchor",
        "The domain is federated: Microsoft 365 needs the user's immutable id (onPremisesImmutableId) and "
        "does not take passwords. Make sure the user has an immutable id, or use a managed domain.",
    ),
    (
        None,
        r"permission|consent|directory role",
        "Lockstep's app lacks a permission or role: grant admin consent again, check the User Administrator "
        "role of the app, then run Verify.",
    ),
    (
        None,
        r"password",
        "Microsoft 365 rejected the password: set a longer one with upper and lower case letters, digits "
        "and symbols.",
    ),
]


def what_to_do(status: str, last_error: str, code: str, *, pending_retry: bool = False) -> str:
    """The last error (or state) translated into the action that fixes it; "" when nothing to do."""
    if status == SyncStatus.HELD:
        return "Held by the deletion brake: an administrator approves or rejects it (Held writes)."
    if status == SyncStatus.NOT_SYNCED:
        return (
            "Not synced: the company email's domain is not in this tenant. The user syncs to the directory "
            "that serves that domain."
        )
    if not last_error and not code:
        return ""
    for prefix, _pattern, advice in _ADVICE:
        if prefix is not None and code.startswith(prefix):
            return advice
    for prefix, pattern, advice in _ADVICE:
        if prefix is None and pattern is not None and re.search(pattern, last_error, re.I):
            return advice
    if pending_retry or status == SyncStatus.PENDING:
        return "Nothing: Lockstep retries on its own."
    return "Fix the value Microsoft 365 refused (see the error), then save the user or group to retry."


@dataclass(frozen=True)
class BindingHealth:
    kind: str  # user, group
    binding_id: int
    directory_id: int
    name: str
    remote_id: str
    status: str  # synced, pending, waiting_login, error, not_synced, held, restore_offered
    last_error: str
    what_to_do: str
    pending_since: datetime | None
    synced_at: datetime | None
    kept_enabled: bool = False  # an admin rejected disabling it


def _user_status(b: UserBinding, facts: DirectoryFacts | None) -> str:
    dirty = b.desired_version > b.applied_version
    if b.status == SyncStatus.SYNCED and dirty:
        return SyncStatus.PENDING
    if b.status == SyncStatus.SYNCED and b.user is not None and not b.unbound and b.remote_id:
        facts = as_synced(facts or facts_of(b), b.user.email)
        if waiting_for_login(b, password_state(b, facts), facts):
            # the first portal login sends the password (or an unknown random one waits for it)
            return SyncStatus.WAITING_LOGIN
    return str(b.status)


def _facts(organization_id: int, directory_ids: list[int]) -> dict[int, DirectoryFacts]:
    takeover = (
        Organization.objects.filter(pk=organization_id).values_list("password_takeover", flat=True).first()
    )
    return facts_for(directory_ids, bool(takeover))


def user_binding_health(b: UserBinding, facts: DirectoryFacts | None = None) -> BindingHealth:
    status = _user_status(b, facts)
    kept = b.keep_enabled_version is not None and b.keep_enabled_version == b.desired_version
    advice = what_to_do(status, b.last_error, b.last_error_code, pending_retry=b.retry_at is not None)
    if kept and not advice:
        advice = (
            "An administrator rejected disabling this account: it stays enabled in Microsoft 365 until the "
            "user's next change in Lockstep."
        )
    return BindingHealth(
        kind="user",
        binding_id=b.pk,
        directory_id=b.directory_id,
        name=b.user.username if b.user else b.remote_upn,
        remote_id=b.remote_id,
        status=status,
        last_error=b.last_error,
        what_to_do=advice,
        pending_since=b.changed_at if b.desired_version > b.applied_version else None,
        synced_at=b.synced_at,
        kept_enabled=kept,
    )


def group_binding_health(b: GroupBinding) -> BindingHealth:
    dirty = b.desired_version > b.applied_version
    status = SyncStatus.PENDING if b.status == SyncStatus.SYNCED and dirty else str(b.status)
    return BindingHealth(
        kind="group",
        binding_id=b.pk,
        directory_id=b.directory_id,
        name=b.group.name if b.group else b.remote_id,
        remote_id=b.remote_id,
        status=status,
        last_error=b.last_error,
        what_to_do=what_to_do(status, b.last_error, b.last_error_code, pending_retry=b.retry_at is not None),
        pending_since=b.changed_at if dirty else None,
        synced_at=b.synced_at,
    )


def list_binding_health(
    *, actor: Actor, directory_id: int, problems_only: bool = False, limit: int = 500
) -> list[BindingHealth]:
    """Every user and group binding of a directory with its health (or only those needing action)."""
    directory = get_directory(actor=actor, directory_id=directory_id)
    users = directory.user_bindings.select_related("user").order_by("id")
    groups = directory.group_bindings.select_related("group").order_by("id")
    if problems_only:
        bad = Q(
            status__in=[SyncStatus.ERROR, SyncStatus.HELD, SyncStatus.RESTORE_OFFERED, SyncStatus.NOT_SYNCED]
        )
        users, groups = users.filter(bad), groups.filter(bad)
    facts = _facts(directory.organization_id, [directory.pk])[directory.pk]
    rows = [user_binding_health(b, facts) for b in users[:limit]]
    rows += [group_binding_health(g) for g in groups[: max(0, limit - len(rows))]]
    return rows


def user_sync_health(*, actor: Actor, user_id: int) -> list[BindingHealth]:
    """One user's bindings across directories (the Directories tab of a user)."""
    bindings = UserBinding.objects.filter(
        user_id=user_id, user__organization_id=actor.organization_id
    ).select_related("user")
    rows = list(bindings.order_by("directory_id"))
    facts = _facts(actor.organization_id, sorted({b.directory_id for b in rows}))
    return [user_binding_health(b, facts[b.directory_id]) for b in rows]


def group_sync_health(*, actor: Actor, group_id: int) -> list[BindingHealth]:
    bindings = GroupBinding.objects.filter(
        group_id=group_id, group__organization_id=actor.organization_id
    ).select_related("group")
    return [group_binding_health(b) for b in bindings.order_by("directory_id")]


@dataclass(frozen=True)
class DirectoryHealth:
    directory_id: int
    name: str
    health: str  # unknown, ok, degraded, red
    health_reason: str
    sync_enabled: bool
    last_verified: datetime | None
    queue_depth: int  # bindings with a change not yet applied
    oldest_pending_age_seconds: float  # 0 when the queue is empty
    error_count: int
    held_count: int
    restore_offered_count: int
    budget_in_use: dict[str, float]  # fraction of each Graph bucket spent now (0 idle, 1 exhausted)
    statuses: dict[str, int]


def _dirty() -> Q:
    return Q(desired_version__gt=F("applied_version"))


def queue_stats(directory: Directory) -> tuple[int, datetime | None]:
    depth, oldest = 0, None
    for model in (UserBinding, GroupBinding):
        row = model.objects.filter(_dirty(), directory=directory).aggregate(
            n=Count("id"), oldest=Min("changed_at")
        )
        depth += row["n"] or 0
        if row["oldest"] is not None and (oldest is None or row["oldest"] < oldest):
            oldest = row["oldest"]
    return depth, oldest


def health_of(directory: Directory) -> DirectoryHealth:
    now = timezone.now()
    depth, oldest = queue_stats(directory)
    statuses: dict[str, int] = {}
    for model in (UserBinding, GroupBinding):
        for row in model.objects.filter(directory=directory).values("status").annotate(n=Count("id")):
            statuses[row["status"]] = statuses.get(row["status"], 0) + row["n"]
    health, reason = directory.health, directory.health_reason
    if directory.health == Health.RED and depth:
        reason = f"{reason} Sync is paused; {depth} queued change(s) are kept and go out once this is fixed and Verify succeeds."
    elif directory.unreachable_since is not None:  # an outage: sync keeps trying (m365.reachability)
        health, reason = Health.RED, directory.unreachable_reason
    return DirectoryHealth(
        directory_id=directory.pk,
        name=directory.name,
        health=health,
        health_reason=reason.strip(),
        sync_enabled=directory.sync_enabled,
        last_verified=directory.verified_at,
        queue_depth=depth,
        oldest_pending_age_seconds=round((now - oldest).total_seconds(), 3) if oldest else 0.0,
        error_count=statuses.get(SyncStatus.ERROR, 0),
        held_count=HeldWrite.objects.filter(directory=directory, decision="").count(),
        restore_offered_count=statuses.get(SyncStatus.RESTORE_OFFERED, 0),
        budget_in_use=DatabaseBudget(directory.tenant_id).in_use(),
        statuses=statuses,
    )


def directory_health(*, actor: Actor, directory_id: int) -> DirectoryHealth:
    """The sync health of one directory."""
    return health_of(get_directory(actor=actor, directory_id=directory_id))


def organization_health(*, actor: Actor) -> list[DirectoryHealth]:
    """The sync health of every directory of the organization."""
    return [
        health_of(d) for d in Directory.objects.filter(organization_id=actor.organization_id).order_by("name")
    ]


def get_binding_health(*, actor: Actor, binding_id: int) -> BindingHealth:
    binding = (
        UserBinding.objects.filter(pk=binding_id, directory__organization_id=actor.organization_id)
        .select_related("user")
        .first()
    )
    if binding is None:
        raise NotFound("binding", binding_id)
    return user_binding_health(binding)


# --- Prometheus -------------------------------------------------------------------------------


class SyncQueueCollector(Collector):
    """Per directory: bindings waiting to be written and the age of the oldest pending change."""

    def describe(self) -> Iterable[Metric]:
        return self._families()

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            "lockstep_m365_queue_depth",
            "Microsoft 365 bindings with a change not yet applied, by directory.",
            labels=["organization", "directory"],
        )
        age = GaugeMetricFamily(
            "lockstep_m365_oldest_pending_age_seconds",
            "Seconds since the oldest change not yet applied to Microsoft 365 (0 when none), by directory.",
            labels=["organization", "directory"],
        )
        return depth, age

    def collect(self) -> Iterable[Metric]:
        depth, age = self._families()
        try:
            now = timezone.now()
            stats: dict[int, dict[str, Any]] = {}
            for model in (UserBinding, GroupBinding):
                rows = (
                    model.objects.filter(_dirty())
                    .values("directory_id")
                    .annotate(n=Count("id"), oldest=Min("changed_at"))
                )
                for row in rows:
                    entry = stats.setdefault(row["directory_id"], {"n": 0, "oldest": None})
                    entry["n"] += row["n"]
                    if entry["oldest"] is None or row["oldest"] < entry["oldest"]:
                        entry["oldest"] = row["oldest"]
            for pk, org in Directory.objects.values_list("pk", "organization_id").order_by("pk"):
                entry = stats.get(pk, {"n": 0, "oldest": None})
                labels = [str(org), str(pk)]
                depth.add_metric(labels, entry["n"])
                oldest = entry["oldest"]
                age.add_metric(labels, max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
        except DatabaseError:
            return
        yield depth
        yield age


_registered = False


def register_metrics() -> None:
    """Add the queue gauges to Lockstep's Prometheus registry (once per process)."""
    global _registered
    if _registered:
        return
    from lockstep.ops.metrics import REGISTRY

    REGISTRY.register(SyncQueueCollector())
    _registered = True

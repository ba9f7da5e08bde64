"""Drift detection (SPEC 2.4): delta rounds per directory feed Microsoft 365's changes back.

One round reads `/users/delta` and `/groups/delta` from the stored deltaLinks
(`Directory.users_delta_link`, `groups_delta_link`); with nothing changed that is two Graph
requests. For every bound object that changed remotely:

- users: `last_applied` takes the remote values; when a managed attribute (or the identity the
  engine always asserts: UPN and immutable id) now differs from what Lockstep wants, the
  binding's desired version is bumped and the engine writes Lockstep's value back;
- a user soft-deleted (`@removed: changed`) or purged (`deleted`) in Microsoft 365: the binding
  turns to error with plain words and is never re-created on its own; a user restored there
  (it reappears as new) is synced again;
- groups: `members@delta` that leave the membership unequal to Lockstep's (an extra member,
  a removed one) or a changed name/description bump the group binding, and the group engine
  makes the membership equal again.

First round: a full listing when the directory already has bound objects (it is the drift
check for everything done before), otherwise `$deltatoken=latest` (one request: nothing is
bound yet, and objects bound later are read when they are created or adopted). A stored link
Graph no longer accepts (410, expired token) starts a full round at once; in a full round a
bound user that is missing from the listing is treated as deleted in Microsoft 365.

A binding leased by a worker at that moment is not touched (the worker would overwrite
`last_applied`); the deltaLink is then not advanced, so the next round reads the change again.
Changing the managed attributes clears the users deltaLink (the `$select` lives in the link).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Case, DateTimeField, F, PositiveBigIntegerField, Value, When
from django.utils import timezone

from lockstep.m365 import drift_audit, mapping, reconcile, replication
from lockstep.m365.graph.client import GraphClient
from lockstep.m365.graph.delta import removed_reason
from lockstep.m365.graph.errors import AccessDenied, DeltaReset, FatalForDirectory
from lockstep.m365.group_engine import _member_remote_ids
from lockstep.m365.models import Directory, GroupBinding, Health, SyncStatus, UserBinding
from lockstep.m365.remote_deletions import free_of_lease, mark_group_deleted, mark_user_deleted
from lockstep.m365.sync_pass import (
    federated_domains,
    verified_domains,
)
from lockstep.m365.user_plan import kept_enabled

log = logging.getLogger(__name__)

# Read in every users round besides the managed attributes: what the engine always asserts.
USER_IDENTITY = ("accountEnabled", "userPrincipalName", "onPremisesImmutableId")
GROUP_TRACKED = ("displayName", "description", "members")


def user_select(directory: Directory) -> list[str]:
    """The `$select` of the users delta: the managed attributes plus the identity."""
    names = list(directory.managed())
    return names + [n for n in USER_IDENTITY if n not in names]


@dataclass
class DriftResult:
    requests: int = 0  # delta pages read (Graph requests, tokens aside)
    users_changed: int = 0  # bound users that changed remotely
    users_bumped: int = 0
    users_deleted: int = 0
    users_restored: int = 0
    groups_changed: int = 0
    groups_bumped: int = 0
    full_users: bool = False
    full_groups: bool = False
    deferred: int = 0  # leased bindings left for the next round
    paused: str = ""
    notes: list[str] = field(default_factory=list)


def _bump(now: datetime) -> dict[str, Any]:
    """Update values that make a binding dirty; a pending change keeps its own `changed_at`."""
    return {
        "desired_version": F("desired_version") + 1,
        "changed_at": Case(
            When(desired_version__gt=F("applied_version"), then=F("changed_at")),
            default=Value(now),
            output_field=DateTimeField(),
        ),
        # an admin's "keep enabled" survives drift; only a Lockstep change ends it
        "keep_enabled_version": Case(
            When(keep_enabled_version=F("desired_version"), then=F("desired_version") + 1),
            default=F("keep_enabled_version"),
            output_field=PositiveBigIntegerField(null=True),
        ),
        "retry_at": None,
        "attempts": 0,
    }


class _UserRules:
    """What the engine would plan for a user, to tell drift from agreement."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.domains = verified_domains(directory)
        self.federated = federated_domains(directory)
        self.managed = directory.managed()
        self.tracked = set(user_select(directory))

    def drifted(self, binding: UserBinding, remote: dict[str, Any]) -> list[reconcile.Operation]:
        """The account updates the engine would write back (none: no drift)."""
        user = binding.user
        if user is None or binding.unbound or not binding.remote_id:
            return []
        domain = mapping.email_domain(user.email)
        if domain not in self.domains:
            return []
        operations = reconcile.plan_user(
            desired=mapping.desired_user(user),
            remote_id=binding.remote_id,
            last_known=remote,
            managed=self.managed,
            password=None,
            random_password=lambda: "",
            federated=domain in self.federated,
            federated_before=mapping.email_domain(str(remote.get("userPrincipalName") or user.email))
            in self.federated,
        )
        return [op for op in kept_enabled(binding, operations) if op.kind == "update_user"]


def run_drift(directory: Directory, client: GraphClient) -> DriftResult:
    """One drift round (users, then groups) for one directory."""
    result = DriftResult()
    refused: list[AccessDenied] = []
    try:
        for step in (_users, _groups):
            try:
                step(directory, client, result)
            except AccessDenied as exc:  # that kind's permission is missing (Verify names it)
                log.warning("drift of directory %s skips a kind: %s", directory.pk, exc)
                refused.append(exc)
        if len(refused) == 2:  # nothing readable: consent revoked, not one permission missing
            raise refused[0]
    except FatalForDirectory as exc:
        result.paused = exc.plain_words or str(exc)
        Directory.objects.filter(pk=directory.pk).update(health=Health.RED, health_reason=result.paused)
    return result


# --- users ------------------------------------------------------------------------------------


def _users(directory: Directory, client: GraphClient, result: DriftResult) -> None:
    link = directory.users_delta_link or None
    try:
        new_link = _user_round(directory, client, link, result)
    except DeltaReset:
        log.info("users delta of directory %s was reset; full resync", directory.pk)
        new_link = _user_round(directory, client, None, result)
    if new_link:
        directory.users_delta_link = new_link
        Directory.objects.filter(pk=directory.pk).update(users_delta_link=new_link)


def _user_round(
    directory: Directory, client: GraphClient, link: str | None, result: DriftResult
) -> str | None:
    """Read one users round; the deltaLink to store, or None to read the changes again next time."""
    bound = UserBinding.objects.filter(directory=directory).exclude(remote_id="")
    latest = link is None and not bound.exists()
    full = link is None and not latest
    result.full_users = result.full_users or full
    started = timezone.now()
    rules = _UserRules(directory)
    delta = client.users_delta(select=user_select(directory), delta_link=link, latest=latest)
    seen: set[str] = set()
    complete = True
    for page in delta.pages():
        result.requests += 1
        items: dict[str, dict[str, Any]] = {}
        for item in page.items:
            if item.get("id"):
                items.setdefault(str(item["id"]), {}).update(item)
        if not items:
            continue
        for binding in bound.filter(remote_id__in=list(items)).select_related("user"):
            seen.add(binding.remote_id)
            complete = _apply_user(binding, items[binding.remote_id], rules, result, full) and complete
    if full:
        _missing_users(bound, seen, started, result)
    return delta.delta_link if complete else None


def remote_view(
    last_applied: dict[str, Any], item: dict[str, Any], tracked: Iterable[str], *, whole: bool
) -> dict[str, Any]:
    """What the account now holds, from a delta item (graph-facts §12.3: delta omits properties
    that have never been set).

    `whole`: the item stands for the whole object (a full resync, or an account restored in
    Microsoft 365, which reappears with only the properties it has): a tracked property it
    lacks has no value. Otherwise (an incremental round) a lacking property is unchanged: it
    keeps the last known value, and only an explicit null clears it.
    """
    tracked = set(tracked)
    base = {**last_applied, **dict.fromkeys(tracked)} if whole else dict(last_applied)
    return {**base, **{k: v for k, v in item.items() if k in tracked}}


def _apply_user(
    binding: UserBinding, item: dict[str, Any], rules: _UserRules, result: DriftResult, full: bool = False
) -> bool:
    now = timezone.now()
    free = UserBinding.objects.filter(free_of_lease(now), pk=binding.pk)
    reason = removed_reason(item)
    result.users_changed += 1
    if reason is not None:
        if not mark_user_deleted(free, binding, reason, now):
            result.deferred += 1
            return False
        result.users_deleted += 1
        return True
    restored = binding.remote_deleted_at is not None
    remote = remote_view(binding.last_applied, item, rules.tracked, whole=full or restored)
    values: dict[str, Any] = {"last_applied": remote}
    if item.get("userPrincipalName"):
        values["remote_upn"] = str(item["userPrincipalName"])
    if restored:  # restored in Microsoft 365 (it reappears as new): sync it again
        values.update(remote_deleted_at=None, status=SyncStatus.PENDING, last_error="", last_error_code="")
        values.update(remote_created_at=now)  # a 404 for a while yet is replication lag (§12.2)
    repairs = [] if restored else rules.drifted(binding, remote)
    bump = restored or bool(repairs)
    if (
        not bump
        and remote == binding.last_applied
        and values.get("remote_upn", binding.remote_upn) == binding.remote_upn
    ):
        return True  # what Lockstep last wrote or saw (e.g. its own writes read back): nothing to store
    if bump:
        values.update(_bump(now))
    with transaction.atomic():
        if not free.update(**values):
            result.deferred += 1
            return False
        found, put_back = drift_audit.repaired(repairs, binding.last_applied, remote)
        if put_back:
            drift_audit.record(rules.directory, binding, found, put_back)
    result.users_restored += int(restored)
    result.users_bumped += int(bump)
    return True


def _missing_users(bound: Any, seen: set[str], started: datetime, result: DriftResult) -> None:
    """After a full listing: bound accounts it did not contain were deleted in Microsoft 365.

    Not the ones Lockstep created or restored moments ago: the listing may miss those until they
    replicate (§12.2); a later round shows them, or their deletion.
    """
    missing = (
        bound.filter(remote_deleted_at__isnull=True, synced_at__lt=started)
        .exclude(remote_id__in=seen)
        .exclude(remote_created_at__gt=started - replication.GRACE)
        .select_related("user")
    )
    now = timezone.now()
    for binding in missing.iterator():
        free = UserBinding.objects.filter(free_of_lease(now), pk=binding.pk)
        if mark_user_deleted(free, binding, "changed", now):
            result.users_deleted += 1


# --- groups -----------------------------------------------------------------------------------


@dataclass
class _GroupChange:
    item: dict[str, Any] = field(default_factory=dict)
    added: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)
    members_seen: bool = False
    removed_reason: str | None = None


def _groups(directory: Directory, client: GraphClient, result: DriftResult) -> None:
    link = directory.groups_delta_link or None
    try:
        new_link = _group_round(directory, client, link, result)
    except DeltaReset:
        log.info("groups delta of directory %s was reset; full resync", directory.pk)
        new_link = _group_round(directory, client, None, result)
    if new_link:
        directory.groups_delta_link = new_link
        Directory.objects.filter(pk=directory.pk).update(groups_delta_link=new_link)


def _group_round(
    directory: Directory, client: GraphClient, link: str | None, result: DriftResult
) -> str | None:
    bound = GroupBinding.objects.filter(directory=directory).exclude(remote_id="")
    latest = link is None and not bound.exists()
    full = link is None and not latest
    result.full_groups = result.full_groups or full
    delta = client.groups_delta(select=GROUP_TRACKED, delta_link=link, latest=latest)
    bound_ids = set(bound.values_list("remote_id", flat=True))
    changes: dict[str, _GroupChange] = {}
    for page in delta.pages():
        result.requests += 1
        for item in page.items:
            gid = str(item.get("id") or "")
            if gid not in bound_ids:
                continue
            change = changes.setdefault(gid, _GroupChange())
            _merge_group(change, item)
    complete = True
    for binding in bound.filter(remote_id__in=list(changes)).select_related("group"):
        complete = _apply_group(binding, changes[binding.remote_id], full, result) and complete
    return delta.delta_link if complete else None


def _merge_group(change: _GroupChange, item: dict[str, Any]) -> None:
    """Merge repeated entries of one group (pages may repeat it; replays happen)."""
    reason = removed_reason(item)
    if reason is not None:
        change.removed_reason = reason
        return
    change.removed_reason = None
    change.item.update({k: v for k, v in item.items() if k in ("displayName", "description")})
    if "members@delta" in item:
        change.members_seen = True
    members: Iterable[dict[str, Any]] = item.get("members@delta") or []
    for member in members:
        mid = str(member.get("id") or "")
        if "@removed" in member:
            change.added.discard(mid)
            change.removed.add(mid)
        else:
            change.removed.discard(mid)
            change.added.add(mid)


def _apply_group(binding: GroupBinding, change: _GroupChange, full: bool, result: DriftResult) -> bool:
    now = timezone.now()
    free = GroupBinding.objects.filter(free_of_lease(now), pk=binding.pk)
    result.groups_changed += 1
    if change.removed_reason is not None:
        if binding.group_id is None:
            return True
        return mark_group_deleted(free, now)
    # in a full resync an absent description was never set (graph-facts §12.3)
    remote = remote_view(binding.last_applied, change.item, ("displayName", "description"), whole=full)
    values: dict[str, Any] = {"last_applied": remote}
    bump = False
    if binding.group is not None:
        wanted = _member_remote_ids(binding)
        desired = mapping.desired_group(binding.group, wanted)
        attributes = reconcile.plan_group(
            desired=desired, remote_id=binding.remote_id, last_known=remote, remote_member_ids=None
        )
        bump = bool(attributes)
        if full and change.members_seen:
            bump = bump or change.added != set(wanted)  # the initial round lists every member
        else:
            bump = bump or bool(change.added - wanted) or bool(change.removed & wanted)
    if bump:
        values.update({k: v for k, v in _bump(now).items() if k != "keep_enabled_version"})
    if not free.update(**values):
        result.deferred += 1
        return False
    result.groups_bumped += int(bump)
    return True

"""One word for a directory's state, the same on the dashboard, the directory list and the banner.

- red ("down"): Microsoft 365 cannot be reached (`m365.reachability`), or the directory is broken
  (`Directory.health` red: bad credentials, revoked consent; sync paused until Verify);
- amber ("attention"): writes held by the deletion brake, objects in error, deleted accounts
  offered for restore, a degraded or never-verified directory;
- green ("ok"): nothing for an administrator to do.

`state_of` is pure; `organization_states` reads every directory of an organization with its
counts in one query (cheap enough for a banner on every page).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, F, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from lockstep.m365.models import Directory, GroupBinding, Health, HeldWrite, SyncStatus, UserBinding

OK, ATTENTION, DOWN = "ok", "attention", "down"
_RANK = {OK: 0, ATTENTION: 1, DOWN: 2}


@dataclass(frozen=True)
class DirectoryState:
    level: str  # ok, attention, down (green, amber, red)
    label: str  # a few words for a badge
    reasons: tuple[str, ...]  # what is wrong, in plain words; empty when green

    @property
    def words(self) -> str:
        return " ".join(self.reasons)


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def state_of(
    *,
    health: str,
    health_reason: str = "",
    unreachable_since: datetime | None = None,
    unreachable_reason: str = "",
    held: int = 0,
    errors: int = 0,
    restore_offered: int = 0,
    sync_enabled: bool = True,
) -> DirectoryState:
    """The state of one directory from its health, reachability and counts."""
    if unreachable_since is not None:
        since = unreachable_since.strftime("%Y-%m-%d %H:%M UTC")
        words = unreachable_reason or "Lockstep cannot reach Microsoft 365."
        return DirectoryState(DOWN, "Cannot reach Microsoft 365", (f"{words} Since {since}.",))
    if health == Health.RED:
        words = health_reason or "Microsoft 365 refuses Lockstep's app."
        return DirectoryState(
            DOWN, "Broken", (f"{words} Sync is paused until this is fixed and Verify succeeds.",)
        )
    reasons: list[str] = []
    if held:
        reasons.append(
            _plural(held, "write is", "writes are")
            + " held by the deletion brake and wait for an administrator (Held writes)."
        )
    if errors:
        reasons.append(
            _plural(errors, "user or group", "users or groups") + " could not be synced (see Errors)."
        )
    if restore_offered:
        reasons.append(
            _plural(restore_offered, "deleted account matches", "deleted accounts match")
            + " a user: restore instead of creating a duplicate."
        )
    if health == Health.DEGRADED:
        reasons.append(health_reason or "Verify found problems.")
    elif health == Health.UNKNOWN:
        reasons.append("Not verified yet: press Verify on the directory's page.")
    if reasons:
        return DirectoryState(ATTENTION, "Needs attention", tuple(reasons))
    return DirectoryState(OK, "Healthy" if sync_enabled else "Healthy, sync turned off", ())


def worst(states: list[DirectoryState]) -> str:
    """The worst level among `states` (ok when there are none)."""
    return max((s.level for s in states), key=_RANK.__getitem__, default=OK)


def _count(model: Any, **filters: Any) -> Coalesce:
    rows = (
        model.objects.filter(directory=OuterRef("pk"), **filters)
        .order_by()
        .values("directory")
        .annotate(n=Count("pk"))
        .values("n")[:1]
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), 0)


def with_counts(organization_id: int) -> Any:
    """The organization's directories annotated with held, errors and restore_offered (one query)."""
    return (
        Directory.objects.filter(organization_id=organization_id)
        .annotate(
            held=_count(HeldWrite, decision=""),
            user_errors=_count(UserBinding, status=SyncStatus.ERROR),
            group_errors=_count(GroupBinding, status=SyncStatus.ERROR),
            restore_offered=_count(UserBinding, status=SyncStatus.RESTORE_OFFERED),
        )
        .order_by("name")
    )


def state_of_annotated(directory: Any) -> DirectoryState:
    """`state_of` for a directory from `with_counts`."""
    return state_of(
        health=directory.health,
        health_reason=directory.health_reason,
        unreachable_since=directory.unreachable_since,
        unreachable_reason=directory.unreachable_reason,
        held=directory.held,
        errors=directory.user_errors + directory.group_errors,
        restore_offered=directory.restore_offered,
        sync_enabled=directory.sync_enabled,
    )


def state_of_directory(directory: Directory) -> DirectoryState:
    """The state of one directory (one query)."""
    return state_of_annotated(with_counts(directory.organization_id).get(pk=directory.pk))


def organization_states(organization_id: int) -> list[tuple[Directory, DirectoryState]]:
    """Every directory of the organization with its state, by name."""
    return [(d, state_of_annotated(d)) for d in with_counts(organization_id)]


@dataclass(frozen=True)
class DirectoryCard:
    """A directory on the dashboard: its state and the numbers behind it."""

    directory: Directory
    state: DirectoryState
    queue_depth: int  # bindings with a change not yet written
    oldest_pending_age_seconds: float
    errors: int
    held: int
    users_bound: int
    groups_bound: int
    last_sync_at: datetime | None  # last pass Microsoft 365 answered
    pending: bool  # a change is on its way (not parked in error, held or waiting for a decision)


def on_its_way(directory: Directory) -> bool:
    """A change of the directory waits to be written and is not parked (error, held, restore)."""
    moving = Q(desired_version__gt=F("applied_version"), status__in=[SyncStatus.PENDING, SyncStatus.SYNCED])
    return any(
        model.objects.filter(moving | Q(unbound=True), directory=directory).exists()
        for model in (UserBinding, GroupBinding)
    )


def dashboard_cards(organization_id: int) -> list[DirectoryCard]:
    """One card per directory of the organization, by name."""
    from lockstep.m365 import overview  # overview reads health; kept out of the banner's import path

    cards = []
    for directory in with_counts(organization_id):
        summary = overview.summary(directory)
        cards.append(
            DirectoryCard(
                directory=directory,
                state=state_of_annotated(directory),
                queue_depth=summary.health.queue_depth,
                oldest_pending_age_seconds=summary.health.oldest_pending_age_seconds,
                errors=directory.user_errors + directory.group_errors,
                held=directory.held,
                users_bound=summary.users_bound,
                groups_bound=summary.groups_bound,
                last_sync_at=directory.last_sync_at,
                pending=summary.health.queue_depth > 0 and on_its_way(directory),
            )
        )
    return cards

"""The deletion brake's sliding window: disables are counted over time, not per sync pass.

The thresholds (`brake_count` accounts AND `brake_percent` % of the bound accounts) apply to
any `brake_window_minutes` (default 10): 20 suspensions made one at a time, each synced in
its own pass, trip the brake at the same account as 20 made at once. Accounts disabled
within the window are counted once each; disables an admin approved from the held queue are
neither counted nor recorded.

`admit` decides for a pass's disables and records the ones it lets through, while holding a
lock on the directory row (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite serializes writers),
so two workers syncing the same directory never let more through together than the
thresholds allow. A disable the window already holds (let through earlier, then retried after
a transient failure or a replication-lag 404) always goes through again and is not counted a
second time; only the new ones are decided, all together, so the brake trips at the same
account whether disables come one at a time or at once. The engine releases the records of
disables it let through but never sent (a pass paused before they went out), so that only
disables actually attempted count against others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from lockstep.m365.models import DestructiveWrite, Directory

DEFAULT_WINDOW_MINUTES = 10
MAX_WINDOW_MINUTES = 24 * 60


def within_thresholds(directory: Directory, accounts: int, bound: int) -> bool:
    """True when disabling `accounts` of `bound` accounts stays at or under either threshold."""
    return accounts <= directory.brake_count or accounts * 100 <= directory.brake_percent * max(1, bound)


def recently_disabled(directory: Directory) -> set[str]:
    """Remote ids of the accounts disabled within the directory's window (ending now)."""
    since = timezone.now() - timedelta(minutes=directory.brake_window_minutes)
    return set(
        DestructiveWrite.objects.filter(directory=directory, at__gt=since).values_list("remote_id", flat=True)
    )


@dataclass(frozen=True)
class Admission:
    """The brake's decision on a pass's disables (remote ids of the accounts)."""

    admitted: frozenset[str]  # go out: already in the window, or new and within the thresholds
    held: frozenset[str]  # new disables that would take the window over both thresholds
    recorded: frozenset[str]  # the new ones recorded now (`release_unsent` forgets any never sent)
    at: datetime  # when they were recorded


def admit(
    directory: Directory, remote_ids: Sequence[str], bound: int, operation: str = "disable"
) -> Admission:
    """Decide on these disables and record the new ones it lets through.

    Disables of accounts already in the window were let through before (a retry): they go out
    again, uncounted. The new ones go out together if the window, with them, stays within
    either threshold; otherwise all of the new ones are held for an admin to approve or reject.
    """
    wanted = set(remote_ids)
    with transaction.atomic():
        locked = Directory.objects.select_for_update().get(pk=directory.pk)
        now = timezone.now()
        DestructiveWrite.objects.filter(
            directory=locked, at__lt=now - timedelta(minutes=MAX_WINDOW_MINUTES)
        ).delete()
        recent = recently_disabled(locked)
        again, new = wanted & recent, wanted - recent
        if new and not within_thresholds(locked, len(recent | new), bound):
            return Admission(admitted=frozenset(again), held=frozenset(new), recorded=frozenset(), at=now)
        DestructiveWrite.objects.bulk_create(
            DestructiveWrite(directory=locked, remote_id=remote_id, operation=operation, at=now)
            for remote_id in sorted(new)
        )
        return Admission(admitted=frozenset(wanted), held=frozenset(), recorded=frozenset(new), at=now)


def release_unsent(directory: Directory, admission: Admission, sent: set[str]) -> None:
    """Forget the records `admission` made for disables that were never sent (a paused pass)."""
    unsent = admission.recorded - sent
    if unsent:
        DestructiveWrite.objects.filter(directory=directory, remote_id__in=unsent, at=admission.at).delete()

"""The deletion brake's sliding window: disables are counted over time, not per sync pass.

The thresholds (`brake_count` accounts AND `brake_percent` % of the bound accounts) apply to
any `brake_window_minutes` (default 10): 20 suspensions made one at a time, each synced in
its own pass, trip the brake at the same account as 20 made at once. Accounts disabled
within the window are counted once each (a retried disable is not a second one); disables an
admin approved from the held queue are neither counted nor recorded.

`admit` decides for a pass's new disables and records the ones it lets through, while holding
a lock on the directory row (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite serializes writers),
so two workers syncing the same directory never let more through together than the
thresholds allow.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

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


def admit(directory: Directory, remote_ids: Sequence[str], bound: int, operation: str = "disable") -> bool:
    """Let these disables through (and record them) if the window stays within the thresholds.

    False means the brake holds all of them: an admin approves or rejects them.
    """
    with transaction.atomic():
        locked = Directory.objects.select_for_update().get(pk=directory.pk)
        now = timezone.now()
        DestructiveWrite.objects.filter(
            directory=locked, at__lt=now - timedelta(minutes=MAX_WINDOW_MINUTES)
        ).delete()
        counted = recently_disabled(locked) | set(remote_ids)
        if not within_thresholds(locked, len(counted), bound):
            return False
        DestructiveWrite.objects.bulk_create(
            DestructiveWrite(directory=locked, remote_id=remote_id, operation=operation, at=now)
            for remote_id in remote_ids
        )
        return True

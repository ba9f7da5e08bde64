"""Marking a bound object that Microsoft 365 no longer has: shared by the delta rounds (`drift`)
and the start-up check (`startup_check`), so both say the same thing in the same words.

The binding turns to error with plain words and is parked; it is never re-created on its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q

from lockstep.m365.models import SyncStatus, UserBinding
from lockstep.m365.sync_pass import PARK_FOR, REMOTE_DELETED_WORDS, REMOTE_PURGED_WORDS

GROUP_DELETED_WORDS = (
    "Deleted in Microsoft 365. Security groups cannot be restored from the recycle bin: unbind the "
    "group and bind it again to create it anew."
)


def free_of_lease(now: datetime) -> Q:
    return Q(lease_until__isnull=True) | Q(lease_until__lt=now)


def mark_user_deleted(free: Any, binding: UserBinding, reason: str, now: datetime) -> bool:
    words, code = (
        (REMOTE_DELETED_WORDS, "deleted_in_m365")
        if reason == "changed"
        else (REMOTE_PURGED_WORDS, "purged_in_m365")
    )
    if binding.unbound or binding.user_id is None:
        # only a sign-in block was pending: the engine now just forgets the binding
        return bool(free.update(remote_deleted_at=now, retry_at=None))
    return bool(
        free.update(
            remote_deleted_at=now,
            status=SyncStatus.ERROR,
            last_error=words,
            last_error_code=code,
            retry_at=now + PARK_FOR,
        )
    )


def mark_group_deleted(free: Any, now: datetime) -> bool:
    """A bound group deleted in Microsoft 365: error in plain words, never re-created on its own."""
    updated = free.update(
        status=SyncStatus.ERROR,
        last_error=GROUP_DELETED_WORDS,
        last_error_code="deleted_in_m365",
        retry_at=now + PARK_FOR,
    )
    return bool(updated)

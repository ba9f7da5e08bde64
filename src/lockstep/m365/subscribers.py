"""Directory events -> binding bookkeeping, inside the change's transaction.

A relevant change bumps the desired version of every binding of the object, so the
reconciler sees it. A change to one user or group (`user_changed`, `group_changed`,
`membership_changed`, `user_deleting`) is made by hand and goes in the interactive lane
(`lanes`); `users_changed` (bulk actions, CSV imports) and a bulk action's membership change
(`bulk=True`) queue as bulk work. A password is held encrypted until delivered (`password_delivery` decides
for which bindings). The worker is nudged after commit. Nothing here talks to Microsoft 365.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from lockstep.directory import events
from lockstep.m365 import lanes, password_delivery, wakeup
from lockstep.m365.models import GroupBinding, PendingPassword, SyncStatus, UserBinding

USER_FIELDS_SYNCED = {
    "*",
    "email",
    "first_name",
    "last_name",
    "display_name",
    "job_title",
    "department",
    "business_phone",
    "mobile_phone",
    "employee_id",
    "usage_location",
    "state",
}


ID_CHUNK = 500  # ids per IN (...) list: well under every database's parameter limit


def bump_user_bindings(user_id: int) -> int:
    """One user changed by hand: its bindings go in the interactive lane."""
    now = timezone.now()
    count = UserBinding.objects.filter(user_id=user_id, unbound=False).update(
        desired_version=F("desired_version") + 1,
        changed_at=now,
        retry_at=None,
        attempts=0,
        **lanes.interactive(),
    )
    if count:
        transaction.on_commit(wakeup.notify)
    return count


def bump_group_bindings(group_id: int, *, interactive: bool = True) -> int:
    """One group changed: by hand (the interactive lane) unless `interactive` is False."""
    now = timezone.now()
    lane = lanes.interactive() if interactive else {}
    count = GroupBinding.objects.filter(group_id=group_id, unbound=False).update(
        desired_version=F("desired_version") + 1, changed_at=now, retry_at=None, attempts=0, **lane
    )
    if count:
        transaction.on_commit(wakeup.notify)
    return count


def on_user_changed(*, user_id: int, fields: list[str], **_: Any) -> None:
    if USER_FIELDS_SYNCED.intersection(fields):
        bump_user_bindings(user_id)


def on_users_changed(*, user_ids: list[int], fields: list[str], **_: Any) -> None:
    """Many users changed at once: one UPDATE per chunk of ids instead of one per user."""
    if not USER_FIELDS_SYNCED.intersection(fields):
        return
    now = timezone.now()
    count = 0
    for start in range(0, len(user_ids), ID_CHUNK):
        count += UserBinding.objects.filter(
            user_id__in=user_ids[start : start + ID_CHUNK], unbound=False
        ).update(desired_version=F("desired_version") + 1, changed_at=now, retry_at=None, attempts=0)
    if count:
        transaction.on_commit(wakeup.notify)


def on_password_set(*, user_id: int, password: str, **_: Any) -> None:
    """Any new password (whatever `how`): every account that can take one gets it."""
    password_delivery.hold_set_password(user_id=user_id, password=password)


def on_password_presented(*, organization_id: int, user_id: int, password: str, **_: Any) -> None:
    """A correct User Portal sign-in: with password takeover on, accounts not given it yet get it."""
    password_delivery.hold_presented_password(
        organization_id=organization_id, user_id=user_id, password=password
    )


def on_user_deleting(*, user_id: int, **_: Any) -> None:
    """The Lockstep user goes; its accounts get blocked (bindings live on, orphaned)."""
    now = timezone.now()
    UserBinding.objects.filter(user_id=user_id).update(
        unbound=True,
        desired_version=F("desired_version") + 1,
        changed_at=now,
        status=SyncStatus.PENDING,
        retry_at=None,
        attempts=0,
        **lanes.interactive(),
    )
    PendingPassword.objects.filter(user_id=user_id).delete()
    transaction.on_commit(wakeup.notify)


def on_group_changed(*, group_id: int, **_: Any) -> None:
    bump_group_bindings(group_id)


def on_membership_changed(*, group_id: int, bulk: bool = False, **_: Any) -> None:
    bump_group_bindings(group_id, interactive=not bulk)


def on_group_deleting(*, group_id: int, **_: Any) -> None:
    # Security groups are hard-deleted in Microsoft 365 and cannot be restored, so a
    # Lockstep group deletion only forgets the binding; the Microsoft 365 group stays.
    GroupBinding.objects.filter(group_id=group_id).delete()


def connect() -> None:
    events.user_changed.connect(on_user_changed, dispatch_uid="m365.user_changed")
    events.users_changed.connect(on_users_changed, dispatch_uid="m365.users_changed")
    events.password_set.connect(on_password_set, dispatch_uid="m365.password_set")
    events.password_presented.connect(on_password_presented, dispatch_uid="m365.password_presented")
    events.user_deleting.connect(on_user_deleting, dispatch_uid="m365.user_deleting")
    events.group_changed.connect(on_group_changed, dispatch_uid="m365.group_changed")
    events.membership_changed.connect(on_membership_changed, dispatch_uid="m365.membership_changed")
    events.group_deleting.connect(on_group_deleting, dispatch_uid="m365.group_deleting")

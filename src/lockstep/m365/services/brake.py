"""The deletion brake (SPEC 2.7): thresholds per directory, held disables approved or rejected.

Disabling (blocking sign-in of) more accounts than both thresholds — `brake_count` accounts AND
`brake_percent` % of the directory's bound accounts — within any `brake_window_minutes`
(default 10; a sliding window, not one sync pass: `lockstep.m365.brake_window`) holds the pass's
disables as `HeldWrite` rows; the bindings wait with status `held`.

- Approve: the held disables go out on the next pass (the approval covers that one disable;
  a later disable of the same account is braked again).
- Reject: the disable is cancelled and the account stays enabled in Microsoft 365 until the
  next change of that user in Lockstep (`UserBinding.keep_enabled_version`); the binding's
  other pending changes are still written. Drift does not undo a rejection. For a binding whose
  Lockstep user was deleted or unbound, rejecting means Lockstep forgets the account and leaves
  it enabled.
Both decisions write an audit row per held write.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from lockstep.directory import audit
from lockstep.directory.actors import Actor
from lockstep.directory.errors import NotFound, ValidationFailed
from lockstep.m365 import wakeup
from lockstep.m365.brake_window import MAX_WINDOW_MINUTES
from lockstep.m365.models import Directory, HeldWrite, SyncStatus, UserBinding
from lockstep.m365.services.bindings import get_directory

MAX_BRAKE_COUNT = 1_000_000


@dataclass(frozen=True)
class HeldView:
    """One held write as an admin sees it."""

    id: int
    binding_id: int
    user_id: int | None
    username: str
    email: str
    user_principal_name: str
    operation: str  # disable
    reason: str  # why Lockstep wanted it: suspended, deleted, unbound
    created_at: datetime


def _reason(binding: UserBinding) -> str:
    if binding.user is None:
        return "the Lockstep user was deleted"
    if binding.unbound:
        return "the user was unbound from this directory"
    return "the user is suspended in Lockstep"


def list_held(*, actor: Actor, directory_id: int) -> list[HeldView]:
    """Held writes waiting for a decision, oldest first."""
    directory = get_directory(actor=actor, directory_id=directory_id)
    rows = (
        HeldWrite.objects.filter(directory=directory, decision="")
        .select_related("binding__user")
        .order_by("created_at", "id")
    )
    return [
        HeldView(
            id=row.pk,
            binding_id=row.binding_id,
            user_id=row.binding.user_id,
            username=row.binding.user.username if row.binding.user else "",
            email=row.binding.user.email if row.binding.user else "",
            user_principal_name=row.binding.remote_upn,
            operation=row.operation,
            reason=_reason(row.binding),
            created_at=row.created_at,
        )
        for row in rows
    ]


def _held(directory: Directory, held_ids: Iterable[int]) -> list[HeldWrite]:
    ids = list(held_ids) if not isinstance(held_ids, str | bytes) else []
    if not ids or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise ValidationFailed({"held_ids": ["Give a non-empty list of held write ids (integers)."]})
    rows = list(
        HeldWrite.objects.select_for_update(of=("self",))
        .filter(directory=directory, pk__in=ids, decision="")
        .select_related("binding__user")
    )
    missing = sorted(set(ids) - {r.pk for r in rows})
    if missing:
        raise NotFound("held write", ", ".join(str(i) for i in missing))
    return rows


def _audit(actor: Actor, row: HeldWrite, action: str, directory: Directory) -> None:
    binding = row.binding
    audit.record(
        actor=actor,
        action=action,
        target_type="user",
        target_id=binding.user_id or "",
        target_label=binding.user.username if binding.user else binding.remote_upn,
        after={"directory": directory.name, "operation": row.operation, "remote_id": binding.remote_id},
    )


@transaction.atomic
def approve_held(*, actor: Actor, directory_id: int, held_ids: list[int]) -> int:
    """Let the held disables go out on the next pass; returns how many were approved."""
    actor.require_write()
    directory = get_directory(actor=actor, directory_id=directory_id)
    rows = _held(directory, held_ids)
    now = timezone.now()
    for row in rows:
        HeldWrite.objects.filter(pk=row.pk).update(
            decision="approved", decided_at=now, decided_by=actor.label
        )
        UserBinding.objects.filter(pk=row.binding_id).update(
            status=SyncStatus.PENDING, retry_at=None, last_error="", last_error_code=""
        )
        _audit(actor, row, "m365.brake.approve", directory)
    transaction.on_commit(wakeup.notify)
    return len(rows)


@transaction.atomic
def reject_held(*, actor: Actor, directory_id: int, held_ids: list[int]) -> int:
    """Cancel the held disables: the accounts stay enabled until the user's next change in Lockstep."""
    actor.require_write()
    directory = get_directory(actor=actor, directory_id=directory_id)
    rows = _held(directory, held_ids)
    now = timezone.now()
    for row in rows:
        HeldWrite.objects.filter(pk=row.pk).update(
            decision="rejected", decided_at=now, decided_by=actor.label
        )
        # The engine re-plans without the disable and writes the binding's other changes.
        UserBinding.objects.filter(pk=row.binding_id).update(
            keep_enabled_version=F("desired_version"),
            status=SyncStatus.PENDING,
            retry_at=None,
            last_error="",
            last_error_code="",
        )
        _audit(actor, row, "m365.brake.reject", directory)
    transaction.on_commit(wakeup.notify)
    return len(rows)


@transaction.atomic
def set_brake(
    *, actor: Actor, directory_id: int, count: int, percent: int, window_minutes: int | None = None
) -> Directory:
    """Set the thresholds: disabling more than `count` accounts AND more than `percent` % of the
    directory's bound accounts within any `window_minutes` (unchanged when None) is held for an admin."""
    actor.require_write()
    directory = get_directory(actor=actor, directory_id=directory_id)
    window = directory.brake_window_minutes if window_minutes is None else window_minutes
    errors: dict[str, list[str]] = {}
    if not _whole(count) or not 0 <= count <= MAX_BRAKE_COUNT:
        errors["count"] = [f"Must be a whole number from 0 to {MAX_BRAKE_COUNT:,}."]
    if not _whole(percent) or not 0 <= percent <= 100:
        errors["percent"] = ["Must be a whole number from 0 to 100."]
    if not _whole(window) or not 1 <= window <= MAX_WINDOW_MINUTES:
        errors["window_minutes"] = [f"Must be a whole number of minutes from 1 to {MAX_WINDOW_MINUTES:,}."]
    if errors:
        raise ValidationFailed(errors)
    fields = ("brake_count", "brake_percent", "brake_window_minutes")
    before = {f: getattr(directory, f) for f in fields}
    directory.brake_count, directory.brake_percent, directory.brake_window_minutes = count, percent, window
    directory.save(update_fields=list(fields))
    audit.record(
        actor=actor,
        action="directory.brake",
        target_type="directory",
        target_id=directory.pk,
        target_label=directory.name,
        before=before,
        after={f: getattr(directory, f) for f in fields},
    )
    return directory


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)

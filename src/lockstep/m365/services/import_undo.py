"""Undo an import within 48 hours, and the usage report that leaves undone users out (SPEC 2.2).

Re-exported by `lockstep.m365.services.imports`, the import wizard's service module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from lockstep.directory import audit
from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict, NotFound, ValidationFailed
from lockstep.directory.models import AuditEvent, User
from lockstep.directory.services import users as user_service
from lockstep.m365 import immutable_ids
from lockstep.m365.models import Directory, ImportBatch, ImportedAccount, UserBinding

UNDO_WINDOW = timedelta(hours=48)
STALE_AFTER = timedelta(hours=6)  # a batch still "running" after this: its worker died


def _batch(actor: Actor, batch_id: int) -> ImportBatch:
    try:
        return ImportBatch.objects.select_for_update().get(
            pk=batch_id, directory__organization_id=actor.organization_id
        )
    except (ImportBatch.DoesNotExist, ValueError, TypeError):
        raise NotFound("import", batch_id) from None


@transaction.atomic
def undo_import(*, actor: Actor, batch_id: int) -> ImportBatch:
    """Remove the users a batch created and the bindings it made; Microsoft 365 stays as it is.

    Allowed for 48 hours after the import. The bindings go first, so deleting the users
    queues no sign-in block (a normal user deletion blocks the Microsoft 365 account).
    Writes the sync engine already made to the accounts are not reverted.
    """
    actor.require_write()
    batch = _batch(actor, batch_id)
    now = timezone.now()
    if batch.state == "undone":
        raise Conflict("batch_id", f"This import was already undone on {batch.undone_at:%Y-%m-%d %H:%M} UTC.")
    if batch.state == "running" and batch.created_at > now - STALE_AFTER:
        raise Conflict("batch_id", "This import is still running; undo it once it has finished.")
    if now - batch.created_at > UNDO_WINDOW:
        hours = int((now - batch.created_at).total_seconds() // 3600)
        raise Conflict(
            "batch_id",
            f"An import can be undone for 48 hours only; this one ran {hours} hours ago "
            f"({batch.created_at:%Y-%m-%d %H:%M} UTC). Delete or unbind its users one by one instead "
            "(that blocks their Microsoft 365 sign-in).",
        )
    bindings = UserBinding.objects.filter(import_batch=batch)
    # Locked: a sync worker (SKIP LOCKED) cannot claim them between this check and the delete.
    leases = list(bindings.select_for_update().values_list("lease_until", flat=True))
    if any(lease and lease > now for lease in leases):
        raise Conflict(
            "batch_id",
            "The sync engine is writing to some of these accounts right now; try again in two minutes.",
        )
    created = list(
        ImportedAccount.objects.filter(batch=batch, created_user=True, user__isnull=False).values_list(
            "user_id", flat=True
        )
    )
    removed_bindings, _ = bindings.delete()  # first: deleting the users then blocks nothing
    kept_ids = ImportedAccount.objects.filter(batch=batch, created_user=False).exclude(
        replaced_immutable_id=""
    )
    for item in kept_ids.select_related("user"):  # bound users get their own immutable id back
        if item.user is not None:
            immutable_ids.give_back(actor=actor, user=item.user, own=item.replaced_immutable_id)
    for user_id in created:
        user_service.delete_user(actor=actor, user_id=user_id)
    batch.state = "undone"
    batch.undone_at = now
    batch.save(update_fields=["state", "undone_at"])
    audit.record(
        actor=actor,
        action="m365.import.undo",
        target_type="directory",
        target_id=batch.directory_id,
        target_label=batch.directory.name,
        after={"batch": batch.pk, "users_removed": len(created), "bindings_removed": removed_bindings},
    )
    return batch


@dataclass(frozen=True)
class DirectoryUsage:
    directory_id: int
    name: str
    bound_users: int
    imported_users: int  # Lockstep users created by imports into it, still there
    removed_by_undo: int


@dataclass(frozen=True)
class UsageReport:
    organization_id: int
    start: datetime
    end: datetime
    users_now: int
    counted_users: int  # users that existed during the period, less those an undo removed
    removed_by_undo: int
    directories: list[DirectoryUsage]


def _undone_user_ids(organization_id: int) -> dict[int, int]:
    """Users removed by an undo: user id -> directory id."""
    rows = ImportedAccount.objects.filter(
        batch__directory__organization_id=organization_id, batch__state="undone", created_user=True
    ).values_list("user_ref", "batch__directory_id")
    return {int(ref): directory_id for ref, directory_id in rows if ref is not None}


def usage_report(*, actor: Actor, start: datetime | None = None, end: datetime | None = None) -> UsageReport:
    """Users counted for the period (default: this calendar month), per organization and directory.

    A user counts if it existed at any time in the period; users removed by an import undo
    (within its 48-hour window) never count.
    """
    end = end or timezone.now()
    start = start or end.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if start > end:
        raise ValidationFailed({"start": ["Must not be after end."]})
    organization_id = actor.organization_id
    undone = _undone_user_ids(organization_id)
    users_now = User.objects.filter(organization_id=organization_id).count()
    existing = User.objects.filter(organization_id=organization_id, created_at__lte=end).count()
    deleted = {
        target
        for target in AuditEvent.objects.filter(
            organization_id=organization_id, action="user.delete", at__gte=start, at__lte=end
        ).values_list("target_id", flat=True)
        if target.isdigit() and int(target) not in undone
    }
    directories = []
    for directory in Directory.objects.filter(organization_id=organization_id).order_by("name"):
        bound = UserBinding.objects.filter(directory=directory, unbound=False, user__isnull=False).count()
        imported = ImportedAccount.objects.filter(
            batch__directory=directory, created_user=True, user__isnull=False
        ).count()
        directories.append(
            DirectoryUsage(
                directory_id=directory.pk,
                name=directory.name,
                bound_users=bound,
                imported_users=imported,
                removed_by_undo=sum(1 for d in undone.values() if d == directory.pk),
            )
        )
    return UsageReport(
        organization_id=organization_id,
        start=start,
        end=end,
        users_now=users_now,
        counted_users=existing + len(deleted),
        removed_by_undo=len(undone),
        directories=directories,
    )

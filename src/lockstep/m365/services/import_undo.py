"""Undo an import within 48 hours, and the usage report that leaves undone users out (SPEC 2.2).

An undo removes the users the batch created and the bindings it made. What Lockstep already wrote
to the accounts stays in Microsoft 365 unless the admin asks to put the old values back: the batch
kept each account's values from before the takeover (`ImportedAccount.remote_before`), and the
undo queues them as `ImportRestore` rows that the sync loop writes back (`m365.import_restore`).
`undo_effects` says all this before the undo, for its confirmation.

Re-exported by `lockstep.m365.services.imports`, the import wizard's service module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from lockstep.directory import audit
from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict, NotFound, ValidationFailed
from lockstep.directory.models import AuditEvent, User
from lockstep.directory.services import users as user_service
from lockstep.m365 import immutable_ids, wakeup
from lockstep.m365.models import Directory, ImportBatch, ImportedAccount, ImportRestore, UserBinding
from lockstep.m365.takeover_values import RemoteChange, changed_properties, restore_body

UNDO_WINDOW = timedelta(hours=48)
STALE_AFTER = timedelta(hours=6)  # a batch still "running" after this: its worker died


def _batch(actor: Actor, batch_id: int) -> ImportBatch:
    try:
        return ImportBatch.objects.select_for_update().get(
            pk=batch_id, directory__organization_id=actor.organization_id
        )
    except (ImportBatch.DoesNotExist, ValueError, TypeError):
        raise NotFound("import", batch_id) from None


@dataclass(frozen=True)
class AccountEffect:
    """One account of the batch: what Lockstep changed in it, and what an undo can put back."""

    remote_id: str
    upn: str
    user_ref: int | None
    user_label: str
    changes: list[RemoteChange]

    @property
    def restorable(self) -> list[RemoteChange]:
        return [c for c in self.changes if c.restorable]


@dataclass
class UndoEffects:
    """What undoing a batch does, in Lockstep and in Microsoft 365 (for the confirmation)."""

    users_removed: int = 0
    bindings_removed: int = 0
    accounts: list[AccountEffect] = field(default_factory=list)  # accounts Lockstep changed
    unknown_before: int = 0  # accounts whose old values the batch did not keep (imported before that)
    unsent: int = 0  # accounts with writes still queued: the undo cancels them

    @property
    def restorable(self) -> int:
        return sum(1 for a in self.accounts if a.restorable)


def _check_undoable(batch: ImportBatch, now: datetime) -> None:
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


def _effects(batch: ImportBatch) -> UndoEffects:
    effects = UndoEffects()
    bindings = {b.remote_id: b for b in UserBinding.objects.filter(import_batch=batch).select_related("user")}
    effects.bindings_removed = len(bindings)
    items = ImportedAccount.objects.filter(batch=batch, outcome__in=("created", "bound")).order_by("id")
    for item in items:
        effects.users_removed += bool(item.created_user and item.user_id)
        binding = bindings.get(item.remote_id)
        if binding is None:
            continue  # a binding made before the import (linked): the undo leaves it, and its writes
        effects.unsent += binding.desired_version > binding.applied_version
        if not item.remote_before:
            effects.unknown_before += 1
            continue
        changes = changed_properties(item.remote_before, binding.last_applied or {})
        if changes:
            label = binding.user.username if binding.user else item.upn
            effects.accounts.append(AccountEffect(item.remote_id, item.upn, item.user_ref, label, changes))
    return effects


def undo_effects(*, actor: Actor, batch_id: int) -> UndoEffects:
    """What `undo_import` would do now: users and bindings removed, and the Microsoft 365 values
    Lockstep changed, which stay unless the undo puts the old values back. Raises `Conflict` when
    the batch cannot be undone (any more)."""
    with transaction.atomic():
        batch = _batch(actor, batch_id)
        _check_undoable(batch, timezone.now())
        return _effects(batch)


@transaction.atomic
def undo_import(*, actor: Actor, batch_id: int, restore_remote: bool = False) -> ImportBatch:
    """Remove the users a batch created and the bindings it made.

    Allowed for 48 hours after the import. The bindings go first, so deleting the users
    queues no sign-in block (a normal user deletion blocks the Microsoft 365 account).
    Writes the sync engine already made to the accounts stay, unless `restore_remote`: then the
    accounts' values from before the takeover are queued to be written back by the sync loop
    (a value changed in Microsoft 365 since is left as it is).
    """
    actor.require_write()
    if not isinstance(restore_remote, bool):
        raise ValidationFailed({"restore_remote": ["Must be true or false."]})
    batch = _batch(actor, batch_id)
    now = timezone.now()
    _check_undoable(batch, now)
    bindings = UserBinding.objects.filter(import_batch=batch)
    # Locked: a sync worker (SKIP LOCKED) cannot claim them between this check and the delete.
    leases = list(bindings.select_for_update().values_list("lease_until", flat=True))
    if any(lease and lease > now for lease in leases):
        raise Conflict(
            "batch_id",
            "The sync engine is writing to some of these accounts right now; try again in two minutes.",
        )
    effects = _effects(batch)
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
    restores = _queue_restores(batch, effects) if restore_remote else 0
    batch.state = "undone"
    batch.undone_at = now
    batch.save(update_fields=["state", "undone_at"])
    audit.record(
        actor=actor,
        action="m365.import.undo",
        target_type="directory",
        target_id=batch.directory_id,
        target_label=batch.directory.name,
        after={
            "batch": batch.pk,
            "users_removed": len(created),
            "bindings_removed": removed_bindings,
            "accounts_changed_in_m365": len(effects.accounts),
            "old_values_put_back": restores,
        },
    )
    if restores:
        transaction.on_commit(wakeup.notify)
    return batch


def _queue_restores(batch: ImportBatch, effects: UndoEffects) -> int:
    rows = [
        ImportRestore(
            batch=batch,
            directory_id=batch.directory_id,
            remote_id=account.remote_id,
            upn=account.upn,
            user_ref=account.user_ref,
            values=restore_body(account.restorable),
            written={c.attribute: c.now for c in account.restorable},
        )
        for account in effects.accounts
        if account.restorable
    ]
    ImportRestore.objects.bulk_create(rows)
    return len(rows)


def restores_of(*, actor: Actor, batch_id: int) -> list[ImportRestore]:
    """The write-backs an undo queued for the batch, with their state and result in words."""
    batch = ImportBatch.objects.filter(pk=batch_id, directory__organization_id=actor.organization_id).first()
    if batch is None:
        raise NotFound("import", batch_id)
    return list(ImportRestore.objects.filter(batch=batch).order_by("id"))


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

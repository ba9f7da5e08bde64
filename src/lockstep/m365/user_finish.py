"""The user pass's closing transaction (`engine`): every binding of the chunk with its outcome
(one statement, `row_updates`), the writes' audit rows (one INSERT), the password fields, and
what follows from new accounts (their groups planned again) and the activity counters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from lockstep.directory import audit
from lockstep.directory.actors import Actor
from lockstep.directory.models import GroupMembership
from lockstep.m365 import adoption, password_delivery, password_hold, row_updates
from lockstep.m365.models import (
    Directory,
    GroupBinding,
    Health,
    HeldWrite,
    PendingPassword,
    SyncActivity,
    SyncStatus,
    UserBinding,
)
from lockstep.m365.sync_pass import PARK_FOR, PASS_FIELDS, PassResult, backoff
from lockstep.m365.user_plan import Work

RECORDED_FIELDS = (*PASS_FIELDS, "remote_upn", "adopted", "restore_candidate_id")
PASSWORD_FIELDS = (
    "password_pending",
    "password_synced_at",
    "first_sync_notice_pending",
    "password_expired_at",
)


def finish(directory: Directory, works: list[Work], result: PassResult) -> None:
    """Store the pass in one transaction: every binding (`row_updates`: one statement per set
    of changed fields), the writes' audit rows (one INSERT), and what follows from them."""
    now = timezone.now()
    with transaction.atomic():
        fresh = _fresh_password_fields(works)
        deleted: list[int] = []
        saves: dict[tuple[str, ...], list[UserBinding]] = {}
        for work in works:
            binding = work.binding
            if work.adopting is not None and adoption.apply(
                actor=Actor.system(directory.organization_id, f"Microsoft 365 sync ({directory.name})"),
                directory=directory,
                binding=binding,
                account=work.adopting,
                park_until=now + PARK_FOR,
                retry_at=now + backoff(binding.attempts + 1),
            ):
                result.errors += 1
            fields = RECORDED_FIELDS
            binding.lease_until = None
            binding.lease_owner = ""
            if work.done and not result.paused:
                if binding.status != SyncStatus.NOT_SYNCED:
                    binding.status = (
                        SyncStatus.SYNCED if binding.remote_id or binding.unbound else binding.status
                    )
                    binding.last_error = ""
                    binding.last_error_code = ""
                binding.attempts = 0
                binding.retry_at = None
                binding.synced_at = now
                if work.approved_hold:  # the approval covered this disable; the next one is braked again
                    HeldWrite.objects.filter(binding=binding, decision="approved").update(decision="applied")
                if work.move_held:  # the rest synced; the move stays planned, parked
                    password_hold.park(binding, timezone.now() + PARK_FOR)
                else:
                    # Only the version seen at claim time counts as applied: a change made
                    # meanwhile keeps the binding dirty for the next pass.
                    binding.applied_version = work.version
                    fields += ("applied_version",)
            if binding.pk in fresh:
                _password_outcome(work, fresh[binding.pk], now, delivered=work.done and not result.paused)
                fields += PASSWORD_FIELDS
            if work.done and binding.unbound and not result.paused:
                deleted.append(binding.pk)
            else:
                saves.setdefault(fields, []).append(binding)
        for fields, bindings in saves.items():
            row_updates.save_fields(bindings, fields)
        if deleted:
            UserBinding.objects.filter(pk__in=deleted).delete()
        audit.record_many(result.audit_rows)
        result.audit_rows.clear()
        # delivered everywhere, or nowhere left to go: erase
        password_delivery.forget_if_delivered(w.binding.user_id for w in works if w.binding.user_id)
        if result.paused:
            Directory.objects.filter(pk=directory.pk).update(health=Health.RED, health_reason=result.paused)
        _refresh_groups_of_new_accounts(directory, works, now)
        _count_activity(directory, result)


PasswordFields = dict[str, Any]


def _fresh_password_fields(works: list[Work]) -> dict[int, PasswordFields]:
    """The bindings' password fields as they are now (locked): a password held, a notice shown or
    an expiry during the pass is never overwritten with what the pass read at its start."""
    ids = sorted(w.binding.pk for w in works)
    rows = (
        UserBinding.objects.select_for_update()
        .filter(pk__in=ids)
        .order_by("pk")
        .values(
            "pk",
            "password_pending",
            "password_synced_at",
            "first_sync_notice_pending",
            "password_expired_at",
        )
    )
    return {int(row["pk"]): {k: v for k, v in row.items() if k != "pk"} for row in rows}


def _password_outcome(work: Work, fresh: PasswordFields, now: datetime, *, delivered: bool) -> None:
    """Set the binding's password fields from what the pass did, on top of their current values."""
    binding = work.binding
    for name, value in fresh.items():
        setattr(binding, name, value)
    user_id = binding.user_id or 0
    if delivered and work.password_sent:
        current = PendingPassword.objects.filter(user_id=user_id).values_list("created_at", flat=True).first()
        # a newer password held meanwhile still waits for the next pass
        binding.password_pending = current is not None and current != work.held_at
        binding.password_synced_at = now
        binding.first_sync_notice_pending = True
        binding.password_expired_at = None
    elif work.password_not_needed or (binding.adopted and work.adopting is not None):
        binding.password_pending = False  # federated, not in the tenant, or adopted (SPEC 2.3)
    elif work.password_gone and binding.password_pending:
        waiting = PendingPassword.objects.filter(user_id=user_id, expires_at__gt=now).exists()
        if not waiting:  # the held password expired before it could be sent
            binding.password_pending = False
            binding.password_expired_at = binding.password_expired_at or now


def _refresh_groups_of_new_accounts(directory: Directory, works: list[Work], now: datetime) -> None:
    """A user whose account now exists can become a member: its bound groups are planned again."""
    gained = [
        w.binding.user_id
        for w in works
        if w.binding.user_id and w.binding.remote_id and not w.initial_remote_id
    ]
    if not gained:
        return
    group_ids = GroupMembership.objects.filter(user_id__in=gained).values_list("group_id", flat=True)
    GroupBinding.objects.filter(directory=directory, group_id__in=group_ids, unbound=False).update(
        desired_version=F("desired_version") + 1, changed_at=now, retry_at=None
    )


def _count_activity(directory: Directory, result: PassResult) -> None:
    if not (result.writes or result.errors):
        return
    minute = timezone.now().replace(second=0, microsecond=0)
    row, _ = SyncActivity.objects.get_or_create(directory=directory, minute=minute)
    SyncActivity.objects.filter(pk=row.pk).update(
        writes=F("writes") + result.writes, errors=F("errors") + result.errors
    )

"""The user pass's plan: each claimed binding's writes (`reconcile.plan_user`), restores offered
instead of duplicate creates, and the deletion brake holding disables back (`engine`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from lockstep.directory import crypto
from lockstep.directory.models import User
from lockstep.m365 import brake_window, mapping, password_hold, reconcile
from lockstep.m365.graph.errors import FatalForDirectory, GraphError
from lockstep.m365.models import Directory, HeldWrite, PendingPassword, SyncStatus, UserBinding
from lockstep.m365.password_delivery import password_context
from lockstep.m365.port import GraphPort
from lockstep.m365.sync_pass import (
    PARK_FOR,
    REMOTE_DELETED_WORDS,
    PassResult,
    federated_domains,
    random_password,
    verified_domains,
)

log = logging.getLogger(__name__)


@dataclass
class Work:
    """One claimed binding and the writes planned for it."""

    binding: UserBinding
    version: int
    operations: list[reconcile.Operation]
    password_sent: bool = False
    done: bool = True
    error: str = ""
    approved_hold: bool = False  # an admin approved this binding's held disable
    move_held: bool = False  # a federated UPN move waits for the User Administrator role
    initial_remote_id: str = ""
    adopting: dict[str, Any] | None = None  # the account taken over (written in `finish`)
    held_at: datetime | None = None  # the held password's `created_at` when it was read
    password_not_needed: bool = False  # federated or not in the tenant: nothing waits here
    password_gone: bool = False  # marked pending, but its held password expired or was erased

    def __post_init__(self) -> None:
        self.initial_remote_id = self.binding.remote_id


def plan_users(directory: Directory, ids: list[int]) -> list[Work]:
    bindings = list(
        UserBinding.objects.filter(id__in=ids).select_related("user").order_by("changed_at", "id")
    )
    domains = verified_domains(directory)
    federated = federated_domains(directory)
    user_ids = [b.user_id for b in bindings if b.user_id and b.password_pending]
    held = {
        p.user_id: p
        for p in PendingPassword.objects.filter(user_id__in=user_ids, expires_at__gt=timezone.now())
    }
    works: list[Work] = []
    managed = directory.managed()
    hold_passwords = passwords_held(directory)
    for binding in bindings:
        user: User | None = binding.user
        if binding.remote_deleted_at is not None:
            works.append(_remote_deleted(binding))
            continue
        if user is None or binding.unbound:
            operations = reconcile.plan_user(
                desired=None,
                remote_id=binding.remote_id,
                last_known=binding.last_applied,
                managed=managed,
                password=None,
                random_password=random_password,
            )
            works.append(Work(binding, binding.desired_version, kept_enabled(binding, operations)))
            continue
        domain = mapping.email_domain(user.email)
        if domain not in domains:
            binding.status = SyncStatus.NOT_SYNCED
            binding.last_error = "Not synced: email domain not in this tenant."
            works.append(Work(binding, binding.desired_version, [], password_not_needed=True))
            continue
        password = None
        pending = held.get(user.pk) if binding.password_pending else None
        if pending is not None and domain not in federated:  # a federated account takes no password
            password = crypto.decrypt(pending.ciphertext, context=password_context(user.pk))
        operations = reconcile.plan_user(
            desired=mapping.desired_user(user),
            remote_id=binding.remote_id,
            last_known=binding.last_applied,
            managed=managed,
            password=password,
            random_password=random_password,
            federated=domain in federated,
            federated_before=_remote_domain(binding, domain) in federated,
        )
        move_held = False
        if hold_passwords:
            # No User Administrator role (Verify said so): the password waits, the account syncs.
            kept, move_held = password_hold.without_password_writes(operations)
            if move_held or len(kept) != len(operations):
                password = None  # not sent (a create still carries it: no role needed)
            operations = kept
        work = Work(binding, binding.desired_version, kept_enabled(binding, operations))
        work.password_sent = password is not None
        work.held_at = pending.created_at if pending is not None else None
        work.password_not_needed = domain in federated
        work.password_gone = binding.password_pending and pending is None
        work.move_held = move_held
        works.append(work)
    return works


def _remote_domain(binding: UserBinding, default: str) -> str:
    """The domain of the account's UPN as last known (its domain may differ from Lockstep's)."""
    upn = str(binding.last_applied.get("userPrincipalName") or binding.remote_upn or "")
    return mapping.email_domain(upn) if "@" in upn else default


def passwords_held(directory: Directory) -> bool:
    """True when the last Verify found no role allowing password changes (graph-facts §9)."""
    return bool((directory.verification or {}).get("missing_roles"))


def _remote_deleted(binding: UserBinding) -> Work:
    """A binding whose account was deleted in Microsoft 365: no write, never a re-create."""
    work = Work(binding, binding.desired_version, [])
    if binding.user is None or binding.unbound:
        return work  # nothing left to block: forget the binding
    work.done = False
    binding.status = SyncStatus.ERROR
    if binding.last_error_code not in ("deleted_in_m365", "purged_in_m365"):
        binding.last_error, binding.last_error_code = REMOTE_DELETED_WORDS, "deleted_in_m365"
    binding.retry_at = timezone.now() + PARK_FOR
    return work


def kept_enabled(binding: UserBinding, operations: list[reconcile.Operation]) -> list[reconcile.Operation]:
    """Drop the disable (and its session revoke) an admin rejected, until the next Lockstep change."""
    if binding.keep_enabled_version is None or binding.keep_enabled_version != binding.desired_version:
        return operations
    kept: list[reconcile.Operation] = []
    for op in operations:
        if op.kind == "revoke_sessions":
            continue
        if op.disables:
            body = {k: v for k, v in (op.body or {}).items() if k != "accountEnabled"}
            if not body:
                continue
            op = reconcile.Operation(op.kind, op.method, op.url, body)
        kept.append(op)
    return kept


def deleted_match(deleted: list[dict[str, Any]], immutable_id: str) -> dict[str, Any] | None:
    """The soft-deleted account that is this user's: the one with its immutable id.

    Never by address: a deleted user's UPN is prefixed with its object id (graph-facts §12.3),
    and an address alone may belong to someone else's deleted account (an address reused for a
    new person), whose restore would hand that person's mailbox and files to this user.
    """
    if not immutable_id:
        return None
    for item in deleted:
        if item.get("onPremisesImmutableId") == immutable_id:
            return item
    return None


# The recycle bin is read before creating accounts; passes are chunks of a few dozen users, so
# one listing serves the passes of this long (a pass of 500 users used to take about as long).
DELETED_LISTING_REUSE_SECONDS = 20.0


def deleted_users(port: GraphPort, result: PassResult, *, fresh: bool = False) -> list[dict[str, Any]]:
    if result.deleted_users is None or fresh:
        try:
            result.deleted_users = port.deleted_users(
                max_age_seconds=0.0 if fresh else DELETED_LISTING_REUSE_SECONDS
            )
        except FatalForDirectory:
            raise
        except GraphError as exc:  # e.g. no read access to deleted items: create as before
            log.warning("could not list deleted users: %s", exc)
            result.deleted_users = []
    return result.deleted_users


def offer_restore(binding: UserBinding, item: dict[str, Any]) -> None:
    """Point the binding at a soft-deleted account instead of creating a duplicate."""
    deleted_on = str(item.get("deletedDateTime") or "")[:10]
    binding.status = SyncStatus.RESTORE_OFFERED
    binding.restore_candidate_id = str(item.get("id", ""))
    binding.last_error = (
        f"A deleted Microsoft 365 account with this address ({item.get('userPrincipalName')}"
        + (f", deleted on {deleted_on}" if deleted_on else "")
        + ") is in the recycle bin, where it stays restorable for 30 days after deletion. Restore it "
        "instead of creating a duplicate; nothing is created until you decide."
    )
    binding.last_error_code = "restore_offered"
    binding.retry_at = timezone.now() + PARK_FOR


def offer_restores(works: list[Work], port: GraphPort, result: PassResult) -> None:
    """Before creating accounts, look for soft-deleted matches (one recycle-bin listing per pass)."""
    creating = [w for w in works if w.operations and w.operations[0].kind == "create_user"]
    if not creating:
        return
    deleted = deleted_users(port, result)
    for work in creating:
        body = work.operations[0].body or {}
        item = deleted_match(deleted, str(body.get("onPremisesImmutableId") or ""))
        if item is None:
            work.binding.restore_candidate_id = ""
            continue
        offer_restore(work.binding, item)
        work.operations = []
        work.done = False
        work.password_sent = False
        result.restore_offered += 1


def apply_brake(directory: Directory, works: list[Work], result: PassResult) -> brake_window.Admission | None:
    """Hold disables beyond the brake's thresholds (count AND percentage, over its sliding window).

    A paused pass sends nothing, so its disables are neither decided nor counted.
    """
    if result.paused:
        return None
    approved = set(
        HeldWrite.objects.filter(
            directory=directory, binding_id__in=[w.binding.pk for w in works], decision="approved"
        ).values_list("binding_id", flat=True)
    )
    for work in works:
        work.approved_hold = work.binding.pk in approved
    pending = [w for w in works if w.binding.pk not in approved and any(op.disables for op in w.operations)]
    if not pending:
        return None
    bound = UserBinding.objects.filter(directory=directory).count()
    admission = brake_window.admit(directory, [w.binding.remote_id for w in pending], bound)
    for work in pending:
        if work.binding.remote_id not in admission.held:
            continue  # within the thresholds over the sliding window, or let through before (a retry)
        HeldWrite.objects.get_or_create(
            directory=directory, binding=work.binding, decision="", defaults={"operation": "disable"}
        )
        work.operations = []
        work.binding.status = SyncStatus.HELD
        work.done = False
        result.held += 1
    return admission

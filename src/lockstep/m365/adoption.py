"""Adopt-on-bind inside a sync pass: a create conflicted with the account already holding the address.

The engine decides during the pass (`problem`: a read-only check, nothing written) and writes the
adoption when it records the pass (`apply`, called inside `user_finish.finish`'s transaction, just
before the binding is saved), so the user's new immutable id and the binding that explains it are
committed together or not at all: an exception anywhere in the pass never leaves the user with the
account's immutable id while its binding still points at nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.utils import timezone

from lockstep.directory import audit
from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict
from lockstep.m365 import immutable_ids
from lockstep.m365.models import Directory, SyncStatus, UserBinding

CONFLICT_CODE = "immutable_id_conflict"
USER_CHANGED_WORDS = (
    "The Lockstep user changed while Microsoft 365's account was being taken over; Lockstep tries again."
)


def problem(directory: Directory, binding: UserBinding, account: Mapping[str, Any]) -> str:
    """Why the binding's user cannot take the account's immutable id over ("" when it can)."""
    user = binding.user
    value = immutable_ids.account_value(account)
    if user is None or not value or value == user.immutable_id:
        return ""
    return immutable_ids.TakeoverCheck.load(directory, [value], [user.pk]).problem(user, value)


def adopt(binding: UserBinding, account: Mapping[str, Any], desired_immutable_id: str) -> bool:
    """Point the binding (in memory) at the account; returns whether the account is Lockstep's own."""
    binding.remote_id = str(account["id"])
    binding.remote_upn = str(account.get("userPrincipalName", ""))
    binding.last_applied = {k: v for k, v in account.items() if k != "id"}
    ours = account.get("onPremisesImmutableId") == desired_immutable_id
    binding.adopted = not ours
    binding.remote_created_at = timezone.now()  # perhaps our own create whose answer was lost
    return ours


def apply(
    *,
    actor: Actor,
    directory: Directory,
    binding: UserBinding,
    account: Mapping[str, Any],
    park_until: datetime,
    retry_at: datetime,
) -> str:
    """Give the user the account's immutable id and audit the adoption (call it inside the
    transaction that saves the binding). Returns "" when done; else why not, with the binding
    (in memory) pointing at no account again, parked until `park_until` (a clash) or retried at
    `retry_at` (the user was deleted meanwhile)."""
    try:
        with transaction.atomic():
            if binding.user is not None:
                immutable_ids.take_over(actor=actor, user=binding.user, directory=directory, account=account)
            audit.record(
                actor=actor,
                action="m365.user.adopt",
                target_type="user",
                target_id=binding.user_id or "",
                target_label=binding.user.username if binding.user else binding.remote_upn,
                after={"directory": binding.directory_id, "remote_id": binding.remote_id},
            )
    except Conflict as refused:  # a clash found late: nothing is adopted
        _undo(binding)
        binding.status, binding.last_error_code = SyncStatus.ERROR, CONFLICT_CODE
        binding.last_error, binding.retry_at = refused.message, park_until
        return refused.message
    except ObjectDoesNotExist:  # the user was deleted meanwhile: the next pass sees what is left
        _undo(binding)
        binding.status, binding.last_error_code = SyncStatus.PENDING, "user_changed"
        binding.last_error, binding.retry_at = USER_CHANGED_WORDS, retry_at
        return USER_CHANGED_WORDS
    if binding.adopted:
        binding.password_pending = False  # adopted: no password is dispatched (SPEC 2.3)
    return ""


def _undo(binding: UserBinding) -> None:
    binding.remote_id = binding.remote_upn = ""
    binding.last_applied = {}
    binding.adopted = False
    binding.remote_created_at = None

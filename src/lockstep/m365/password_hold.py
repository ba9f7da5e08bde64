"""Writes held while the app lacks the User Administrator role (Verify found it missing).

A password change is dropped (the binding keeps `password_pending`). A UPN move out of a
federated domain must carry a password in the same PATCH (graph-facts §12.3), so the move
waits: the UPN and the password leave the PATCH, the rest of it syncs, and the binding is
parked with its own code until a Verify finds the role again (which plans it at once).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from lockstep.m365 import reconcile
from lockstep.m365.models import SyncStatus, UserBinding

MOVE_HELD_CODE = "upn_move_needs_password"
MOVE_HELD_WORDS = (
    "Moving this account out of a federated domain needs a password, which needs the User "
    "Administrator role for the app. Assign the role to Lockstep's app and verify the directory: "
    "the move then syncs. The account's other attributes keep syncing meanwhile."
)


def without_password_writes(operations: list[reconcile.Operation]) -> tuple[list[reconcile.Operation], bool]:
    """The operations that need no password role; True when a federated move was held back."""
    kept: list[reconcile.Operation] = []
    move_held = False
    for operation in operations:
        if operation.kind == "set_password":
            continue
        body = operation.body or {}
        if operation.kind == "update_user" and "passwordProfile" in body:
            move_held = True
            rest = {k: v for k, v in body.items() if k not in ("passwordProfile", "userPrincipalName")}
            if not rest:
                continue
            operation = replace(operation, body=rest, random_password=False)
        kept.append(operation)
    return kept, move_held


def park(binding: UserBinding, until: datetime) -> None:
    """The binding's other writes are done; its held move waits (the binding stays dirty)."""
    binding.status = SyncStatus.ERROR
    binding.last_error = MOVE_HELD_WORDS
    binding.last_error_code = MOVE_HELD_CODE
    binding.retry_at = until

"""Audit rows of drift repairs: what someone changed by hand in Microsoft 365 that Lockstep puts back.

The row (action `m365.drift_repair`) holds, per property, the value found in Microsoft 365
(`before`) and Lockstep's value the engine writes back (`after`); the audit log shows it as
"Job title: Manager — put back: was Director in Microsoft 365".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lockstep.directory import audit
from lockstep.directory.actors import Actor
from lockstep.m365 import reconcile
from lockstep.m365.models import Directory, UserBinding

ACTION = "m365.drift_repair"
NEVER_SHOWN = frozenset({"passwordProfile"})


def repaired(
    operations: Iterable[reconcile.Operation], last_known: Mapping[str, Any], remote: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(found in Microsoft 365, put back) for the properties changed there since Lockstep last
    knew them and that the engine now writes back. A property Lockstep itself is about to change
    (an edit not yet written) is not a repair and is left out."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for operation in operations:
        if operation.kind != "update_user":
            continue
        for name, value in (operation.body or {}).items():
            if name in NEVER_SHOWN or remote.get(name) == last_known.get(name):
                continue
            before[name] = remote.get(name)
            after[name] = value
    return before, after


def record(directory: Directory, binding: UserBinding, before: dict[str, Any], after: dict[str, Any]) -> None:
    actor = Actor.system(directory.organization_id, f"Microsoft 365 sync ({directory.name})")
    audit.record(
        actor=actor,
        action=ACTION,
        target_type="user",
        target_id=binding.user_id or "",
        target_label=binding.user.username if binding.user else binding.remote_upn,
        before=before,
        after={"directory": directory.pk, "remote_id": binding.remote_id, **after},
    )

"""The writes waiting for a directory, and those a change of its managed attributes would make,
for the plan pages and `lockstep m365 plan` (in plain words through `write_words`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lockstep.m365 import mapping, reconcile
from lockstep.m365.models import Directory, GroupBinding, SyncStatus, UserBinding
from lockstep.m365.overview import pending_filter


@dataclass(frozen=True)
class PendingWrite:
    kind: str  # user, group
    object_id: int | None
    label: str
    status: str
    operation: str  # reconcile operation kind
    description: str  # method, URL and body; passwords never shown
    request: reconcile.Operation | None = None  # the write itself (for `write_words.describe`)
    before: Mapping[str, Any] | None = None  # what Microsoft 365 held, as last known


def _hidden(op: reconcile.Operation) -> str:
    return op.describe()


def pending_writes(directory: Directory, limit: int = 1000) -> tuple[list[PendingWrite], int]:
    """The Microsoft 365 writes the sync engine would make now for the pending bindings.

    Returns (writes, total). Passwords are never shown: a pending password is listed as
    "password not shown". Group membership is read from Microsoft 365 during the pass,
    so a pending group lists its attribute writes and a membership reconciliation line.
    """
    managed = directory.managed()
    verified = set(directory.domains.filter(is_verified=True).values_list("name", flat=True))
    federated = set(directory.domains.filter(authentication_type="Federated").values_list("name", flat=True))
    writes: list[PendingWrite] = []
    total = 0

    def add(write: PendingWrite) -> None:
        nonlocal total
        total += 1
        if len(writes) < limit:
            writes.append(write)

    for b in (
        UserBinding.objects.filter(pending_filter(), directory=directory)
        .select_related("user")
        .order_by("changed_at", "id")
        .iterator(chunk_size=500)
    ):
        label = b.user.username if b.user else (b.remote_upn or b.remote_id)
        if b.remote_deleted_at is not None:
            continue
        if b.status == SyncStatus.HELD:
            add(PendingWrite("user", b.user_id, label, b.status, "held", "held by the deletion brake"))
            continue
        if b.user is None or b.unbound:
            ops = reconcile.plan_user(
                desired=None,
                remote_id=b.remote_id,
                last_known=b.last_applied,
                managed=managed,
                password=None,
                random_password=lambda: "",
            )
        else:
            domain = mapping.email_domain(b.user.email)
            if domain not in verified:
                continue  # not synced to this directory: no write
            ops = reconcile.plan_user(
                desired=mapping.desired_user(b.user),
                remote_id=b.remote_id,
                last_known=b.last_applied,
                managed=managed,
                password=None,
                random_password=lambda: "",
                federated=domain in federated,
            )
            if b.password_pending and b.remote_id and domain not in federated:
                ops.append(
                    reconcile.Operation(
                        "set_password",
                        "PATCH",
                        f"/users/{b.remote_id}",
                        {"passwordProfile": {"password": "", "forceChangePasswordNextSignIn": False}},
                    )
                )
        for op in ops:
            add(PendingWrite("user", b.user_id, label, b.status, op.kind, _hidden(op), op, b.last_applied))
    for g in (
        GroupBinding.objects.filter(pending_filter(), directory=directory)
        .select_related("group")
        .order_by("changed_at", "id")
    ):
        if g.group is None or g.unbound:
            continue
        label = g.group.name
        desired = mapping.desired_group(g.group, frozenset())
        ops = reconcile.plan_group(
            desired=desired, remote_id=g.remote_id, last_known=g.last_applied, remote_member_ids=None
        )
        for op in ops:
            add(PendingWrite("group", g.group_id, label, g.status, op.kind, _hidden(op), op, g.last_applied))
        if g.remote_id:
            add(
                PendingWrite(
                    "group",
                    g.group_id,
                    label,
                    g.status,
                    "membership",
                    f"membership of /groups/{g.remote_id} made equal to the bound members",
                )
            )
    return writes, total


def managed_change_writes(
    directory: Directory, attributes: list[str], limit: int = 1000
) -> tuple[list[PendingWrite], int]:
    """The writes a change of the managed attributes to `attributes` causes (plan preview).

    Newly managed attributes are written to every bound account whose value differs from
    Lockstep's; no longer managed ones are simply left alone (no write). Unknown names are
    the service's to refuse; here they are ignored.
    """
    added = set(attributes) - set(directory.managed())
    writes: list[PendingWrite] = []
    total = 0
    if not added:
        return writes, total
    verified = set(directory.domains.filter(is_verified=True).values_list("name", flat=True))
    federated = set(directory.domains.filter(authentication_type="Federated").values_list("name", flat=True))
    bound = (
        UserBinding.objects.filter(
            directory=directory, unbound=False, user__isnull=False, remote_deleted_at=None
        )
        .exclude(remote_id="")
        .select_related("user")
        .order_by("id")
    )
    for b in bound.iterator(chunk_size=500):
        assert b.user is not None
        domain = mapping.email_domain(b.user.email)
        if domain not in verified:
            continue
        ops = reconcile.plan_user(
            desired=mapping.desired_user(b.user),
            remote_id=b.remote_id,
            last_known=b.last_applied,
            managed=[a for a in attributes if a in added],
            password=None,
            random_password=lambda: "",
            federated=domain in federated,
        )
        for op in ops:
            body = {k: v for k, v in (op.body or {}).items() if k in added}
            if op.kind != "update_user" or not body:
                continue
            total += 1
            if len(writes) < limit:
                shown = reconcile.Operation(op.kind, op.method, op.url, body)
                row = (b.user_id, b.user.username, b.status, op.kind, shown.describe())
                writes.append(PendingWrite("user", *row, shown, b.last_applied))
    return writes, total

"""Read-only views of the Microsoft 365 integration for the Admin Portal, the REST API and the CLI.

Nothing here writes: these are queries over the integration's tables (sync health, the queue,
per-binding status in plain words, the pending writes, the bindings export). The services in
`lockstep.m365.services` stay the only code that changes integration state.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import F, Min, Q, QuerySet
from django.utils import timezone

from lockstep.directory.actors import Actor
from lockstep.directory.errors import NotFound
from lockstep.directory.models import Group, User
from lockstep.m365 import mapping, reconcile
from lockstep.m365.budget import DatabaseBudget
from lockstep.m365.models import (
    Directory,
    GroupBinding,
    Health,
    HeldWrite,
    SyncStatus,
    UserBinding,
)
from lockstep.m365.services.bindings import get_directory

RECYCLE_BIN_DAYS = 30

# What each sync status means for an admin, and what to do about it.
STATUS_WORDS: dict[str, str] = {
    SyncStatus.PENDING: "Waiting to be written to Microsoft 365.",
    SyncStatus.SYNCED: "In step with Microsoft 365.",
    SyncStatus.WAITING_LOGIN: "Waiting for the user's first User Portal login to deliver the password.",
    SyncStatus.ERROR: "Microsoft 365 refused the last write.",
    SyncStatus.NOT_SYNCED: "Not synced: email domain not in this tenant.",
    SyncStatus.HELD: "A disable waits for an admin in the deletion-brake queue.",
    SyncStatus.RESTORE_OFFERED: "A deleted Microsoft 365 account matches: restore it instead of creating a duplicate.",
}


def _pending(now: datetime | None = None) -> Q:
    return Q(desired_version__gt=F("applied_version"))


def directory_for(actor: Actor, ref: str) -> Directory:
    """A directory of the actor's organization named by id or by name (case-insensitive)."""
    text = str(ref).strip()
    queryset = Directory.objects.filter(organization_id=actor.organization_id)
    if text.isdigit():
        found = queryset.filter(pk=int(text)).first()
        if found is not None:
            return found
    found = queryset.filter(name__iexact=text).first()
    if found is None:
        raise NotFound("directory", text)
    return found


@dataclass(frozen=True)
class SyncHealth:
    """A directory's health and its sync queue (SPEC 2.7)."""

    directory_id: int
    name: str
    health: str
    health_label: str
    health_reason: str
    sync_enabled: bool
    verified_at: datetime | None
    users_bound: int
    groups_bound: int
    queue_depth: int  # bindings with a change not yet applied
    oldest_pending_at: datetime | None
    oldest_pending_seconds: int | None
    errors: int  # bindings whose last write was refused
    held: int  # held writes waiting for an admin
    restore_offered: int
    budget_in_use: dict[str, float] = field(default_factory=dict)  # 0 idle .. 1 exhausted

    @property
    def paused(self) -> bool:
        return self.health == Health.RED or not self.sync_enabled


def sync_health(directory: Directory) -> SyncHealth:
    users = UserBinding.objects.filter(directory=directory)
    groups = GroupBinding.objects.filter(directory=directory)
    pending_users = users.filter(_pending())
    pending_groups = groups.filter(_pending())
    oldest_candidates = [
        pending_users.aggregate(at=Min("changed_at"))["at"],
        pending_groups.aggregate(at=Min("changed_at"))["at"],
    ]
    oldest = min((at for at in oldest_candidates if at is not None), default=None)
    age = int((timezone.now() - oldest).total_seconds()) if oldest else None
    return SyncHealth(
        directory_id=directory.pk,
        name=directory.name,
        health=directory.health,
        health_label=Health(directory.health).label,
        health_reason=directory.health_reason,
        sync_enabled=directory.sync_enabled,
        verified_at=directory.verified_at,
        users_bound=users.filter(unbound=False, user__isnull=False).count(),
        groups_bound=groups.filter(unbound=False, group__isnull=False).count(),
        queue_depth=pending_users.count() + pending_groups.count(),
        oldest_pending_at=oldest,
        oldest_pending_seconds=max(age, 0) if age is not None else None,
        errors=users.filter(status=SyncStatus.ERROR).count() + groups.filter(status=SyncStatus.ERROR).count(),
        held=HeldWrite.objects.filter(directory=directory, decision="").count(),
        restore_offered=users.filter(status=SyncStatus.RESTORE_OFFERED).count(),
        budget_in_use=DatabaseBudget(directory.tenant_id).in_use(),
    )


def age_words(seconds: int | None) -> str:
    if seconds is None:
        return "nothing pending"
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


@dataclass(frozen=True)
class ErrorRow:
    kind: str  # user, group
    object_id: int | None
    label: str
    status: str
    message: str
    code: str
    changed_at: datetime


def recent_errors(directory: Directory, limit: int = 20) -> list[ErrorRow]:
    """Bindings in error (newest change first), with the plain-words message."""
    rows: list[ErrorRow] = []
    for b in (
        UserBinding.objects.filter(directory=directory, status=SyncStatus.ERROR)
        .select_related("user")
        .order_by("-changed_at", "-id")[:limit]
    ):
        label = b.user.username if b.user else (b.remote_upn or b.remote_id)
        rows.append(
            ErrorRow("user", b.user_id, label, b.status, b.last_error, b.last_error_code, b.changed_at)
        )
    for g in (
        GroupBinding.objects.filter(directory=directory, status=SyncStatus.ERROR)
        .select_related("group")
        .order_by("-changed_at", "-id")[:limit]
    ):
        label = g.group.name if g.group else g.remote_id
        rows.append(
            ErrorRow("group", g.group_id, label, g.status, g.last_error, g.last_error_code, g.changed_at)
        )
    rows.sort(key=lambda r: r.changed_at, reverse=True)
    return rows[:limit]


def status_words(binding: UserBinding | GroupBinding) -> str:
    """The binding's status for an admin: the last error in plain words, else what the status means."""
    if binding.unbound:
        return "Unbinding: Microsoft 365 sign-in is being blocked, then the binding is forgotten."
    if binding.last_error and binding.status in (
        SyncStatus.ERROR,
        SyncStatus.NOT_SYNCED,
        SyncStatus.PENDING,
        SyncStatus.RESTORE_OFFERED,
    ):
        return binding.last_error
    return STATUS_WORDS.get(binding.status, binding.status)


@dataclass(frozen=True)
class UserDirectoryRow:
    """One directory of the organization as seen from a user's page."""

    directory: Directory
    binding: UserBinding | None
    status: str
    status_label: str
    words: str
    domain_ok: bool  # the user's email domain is a verified domain of the tenant
    can_delete_account: bool
    restore_offered: bool


def user_directories(actor: Actor, user: User) -> list[UserDirectoryRow]:
    """Every directory of the user's organization with the user's binding there (if any)."""
    if user.organization_id != actor.organization_id:
        raise NotFound("user", user.pk)
    domain = mapping.email_domain(user.email)
    bindings = {b.directory_id: b for b in UserBinding.objects.filter(user=user)}
    rows = []
    for directory in Directory.objects.filter(organization_id=actor.organization_id).order_by("name"):
        binding = bindings.get(directory.pk)
        verified = directory.domains.filter(is_verified=True, name=domain).exists()
        if binding is None:
            rows.append(UserDirectoryRow(directory, None, "", "Not bound", "", verified, False, False))
            continue
        rows.append(
            UserDirectoryRow(
                directory=directory,
                binding=binding,
                status=binding.status,
                status_label=SyncStatus(binding.status).label if not binding.unbound else "Unbinding",
                words=status_words(binding),
                domain_ok=verified,
                can_delete_account=bool(binding.remote_id)
                and not binding.unbound
                and binding.remote_deleted_at is None,
                restore_offered=binding.status == SyncStatus.RESTORE_OFFERED
                and bool(binding.restore_candidate_id),
            )
        )
    return rows


@dataclass(frozen=True)
class GroupDirectoryRow:
    directory: Directory
    binding: GroupBinding | None
    status_label: str
    words: str


def group_directories(actor: Actor, group: Group) -> list[GroupDirectoryRow]:
    if group.organization_id != actor.organization_id:
        raise NotFound("group", group.pk)
    bindings = {b.directory_id: b for b in GroupBinding.objects.filter(group=group)}
    rows = []
    for directory in Directory.objects.filter(organization_id=actor.organization_id).order_by("name"):
        binding = bindings.get(directory.pk)
        if binding is None:
            rows.append(GroupDirectoryRow(directory, None, "Not bound", ""))
        else:
            label = "Unbinding" if binding.unbound else SyncStatus(binding.status).label
            rows.append(GroupDirectoryRow(directory, binding, label, status_words(binding)))
    return rows


# --- pending writes (the plan of what the next passes write) --------------------------------------


@dataclass(frozen=True)
class PendingWrite:
    kind: str  # user, group
    object_id: int | None
    label: str
    status: str
    operation: str  # reconcile operation kind
    description: str  # method, URL and body; passwords never shown


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
        UserBinding.objects.filter(_pending(), directory=directory)
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
            add(PendingWrite("user", b.user_id, label, b.status, op.kind, _hidden(op)))
    for g in (
        GroupBinding.objects.filter(_pending(), directory=directory)
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
            add(PendingWrite("group", g.group_id, label, g.status, op.kind, _hidden(op)))
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


# --- export -----------------------------------------------------------------------------------------

EXPORT_COLUMNS = [
    "kind",
    "lockstep_id",
    "name",
    "email",
    "remote_id",
    "remote_upn",
    "status",
    "last_error",
    "adopted",
    "synced_at",
    "created_at",
]


def export_rows(directory: Directory) -> Iterator[list[str]]:
    yield EXPORT_COLUMNS
    for b in UserBinding.objects.filter(directory=directory).select_related("user").order_by("id").iterator():
        yield [
            "user",
            str(b.user_id or ""),
            b.user.username if b.user else "",
            b.user.email if b.user else "",
            b.remote_id,
            b.remote_upn,
            "unbinding" if b.unbound else b.status,
            b.last_error,
            "yes" if b.adopted else "no",
            b.synced_at.isoformat() if b.synced_at else "",
            b.created_at.isoformat(),
        ]
    for g in (
        GroupBinding.objects.filter(directory=directory).select_related("group").order_by("id").iterator()
    ):
        yield [
            "group",
            str(g.group_id or ""),
            g.group.name if g.group else "",
            "",
            g.remote_id,
            "",
            "unbinding" if g.unbound else g.status,
            g.last_error,
            "",
            g.synced_at.isoformat() if g.synced_at else "",
            g.created_at.isoformat(),
        ]


def _safe_cell(value: str) -> str:
    """Spreadsheet formula injection guard: a cell starting with = + - @ is prefixed with '."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def export_csv_lines(directory: Directory) -> Iterator[str]:
    """The directory's bindings as CSV text, one line at a time (streams at any size)."""
    for row in export_rows(directory):
        buffer = io.StringIO()
        csv.writer(buffer).writerow([_safe_cell(cell) for cell in row])
        yield buffer.getvalue()


def export_for(actor: Actor, directory_id: int) -> tuple[Directory, Iterator[str]]:
    directory = get_directory(actor=actor, directory_id=directory_id)
    return directory, export_csv_lines(directory)


def user_bindings(directory: Directory) -> QuerySet[UserBinding]:
    return UserBinding.objects.filter(directory=directory).select_related("user")


def verification_view(directory: Directory) -> dict[str, Any]:
    """The stored verification result with display-ready parts (empty dict: never verified)."""
    data = dict(directory.verification or {})
    if not data:
        return {}
    data.setdefault("missing_permissions", [])
    data.setdefault("granted_permissions", [])
    data.setdefault("roles", [])
    data.setdefault("missing_roles", [])
    data.setdefault("problems", [])
    data.setdefault("godaddy_signals", [])
    return data

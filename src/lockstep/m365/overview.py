"""Read-only views of the Microsoft 365 integration for the Admin Portal, the REST API and the CLI.

Nothing here writes: these are queries over the integration's tables (sync health, the queue,
per-binding status in plain words, the pending writes, the bindings export). The services in
`lockstep.m365.services` stay the only code that changes integration state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import F, Q

from lockstep.directory.actors import Actor
from lockstep.directory.errors import NotFound
from lockstep.directory.models import Group, User
from lockstep.m365 import mapping, password_status
from lockstep.m365.health import (
    BindingHealth,
    DirectoryHealth,
    group_binding_health,
    health_of,
    user_binding_health,
)
from lockstep.m365.models import Directory, GroupBinding, SyncStatus, UserBinding

RECYCLE_BIN_DAYS = 30

# What each sync status means for an admin, and what to do about it.
STATUS_WORDS: dict[str, str] = {
    SyncStatus.PENDING: "Waiting to be written to Microsoft 365.",
    SyncStatus.SYNCED: "In step with Microsoft 365.",
    SyncStatus.WAITING_LOGIN: (
        "The account exists and waits for the user's first User Portal login, which sends their "
        "Lockstep password to it (until then it keeps a password nobody knows, or its old one)."
    ),
    SyncStatus.ERROR: "Microsoft 365 refused the last write.",
    SyncStatus.NOT_SYNCED: "Not synced: email domain not in this tenant.",
    SyncStatus.HELD: "A disable waits for an admin in the deletion-brake queue.",
    SyncStatus.RESTORE_OFFERED: "A deleted Microsoft 365 account matches: restore it instead of creating a duplicate.",
}


def pending_filter(now: datetime | None = None) -> Q:
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
class DirectorySummary:
    """A directory's sync health (`lockstep.m365.health`) with how many users and groups are bound."""

    health: DirectoryHealth
    users_bound: int
    groups_bound: int


def summary(directory: Directory) -> DirectorySummary:
    return DirectorySummary(
        health=health_of(directory),
        users_bound=UserBinding.objects.filter(
            directory=directory, unbound=False, user__isnull=False
        ).count(),
        groups_bound=GroupBinding.objects.filter(
            directory=directory, unbound=False, group__isnull=False
        ).count(),
    )


def age_words(age: float | None) -> str:
    if not age:
        return "nothing pending"
    seconds = int(age)
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
    advice: str = ""  # what to do about it


def recent_errors(directory: Directory, limit: int = 20) -> list[ErrorRow]:
    """Bindings in error (newest change first), with the plain-words message."""
    rows: list[ErrorRow] = []
    for b in (
        UserBinding.objects.filter(directory=directory, status=SyncStatus.ERROR)
        .select_related("user")
        .order_by("-changed_at", "-id")[:limit]
    ):
        label = b.user.username if b.user else (b.remote_upn or b.remote_id)
        advice = user_binding_health(b).what_to_do
        rows.append(
            ErrorRow(
                "user", b.user_id, label, b.status, b.last_error, b.last_error_code, b.changed_at, advice
            )
        )
    for g in (
        GroupBinding.objects.filter(directory=directory, status=SyncStatus.ERROR)
        .select_related("group")
        .order_by("-changed_at", "-id")[:limit]
    ):
        label = g.group.name if g.group else g.remote_id
        advice = group_binding_health(g).what_to_do
        rows.append(
            ErrorRow(
                "group", g.group_id, label, g.status, g.last_error, g.last_error_code, g.changed_at, advice
            )
        )
    rows.sort(key=lambda r: r.changed_at, reverse=True)
    return rows[:limit]


def binding_health(binding: UserBinding | GroupBinding) -> BindingHealth:
    if isinstance(binding, UserBinding):
        return user_binding_health(binding)
    return group_binding_health(binding)


def status_words(binding: UserBinding | GroupBinding) -> str:
    """The binding's status for an admin: the last error in plain words and what to do about it,
    else what the status means."""
    if binding.unbound:
        return "Unbinding: Microsoft 365 sign-in is being blocked, then the binding is forgotten."
    state = binding_health(binding)
    if state.last_error and state.status != SyncStatus.SYNCED:
        advice = state.what_to_do
        return (
            f"{state.last_error} {advice}".strip()
            if advice and advice not in state.last_error
            else state.last_error
        )
    return state.what_to_do or STATUS_WORDS.get(state.status, state.status)


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
    password_state: str = ""  # a password_status.PasswordState value ("" when not bound)
    password_words: str = ""


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
        status = user_binding_health(binding).status
        state = password_status.password_state(binding)
        rows.append(
            UserDirectoryRow(
                directory=directory,
                binding=binding,
                status=status,
                status_label=SyncStatus(status).label if not binding.unbound else "Unbinding",
                words=status_words(binding),
                domain_ok=verified,
                can_delete_account=bool(binding.remote_id)
                and not binding.unbound
                and binding.remote_deleted_at is None,
                restore_offered=binding.status == SyncStatus.RESTORE_OFFERED
                and bool(binding.restore_candidate_id),
                password_state=str(state),
                password_words=password_status.admin_words(binding, state),
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
            label = "Unbinding" if binding.unbound else SyncStatus(group_binding_health(binding).status).label
            rows.append(GroupDirectoryRow(directory, binding, label, status_words(binding)))
    return rows


# --- pending writes (the plan of what the next passes write) --------------------------------------


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
    data.setdefault("pending", [])
    data.setdefault("disabled_features", [])
    return data

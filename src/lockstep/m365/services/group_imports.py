"""Take over existing Microsoft 365 security groups (SPEC 2.5); other kinds are listed read-only.

Re-exported by `lockstep.m365.services.imports`, the import wizard's service module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from lockstep.directory import audit
from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict, ServiceError, ValidationFailed
from lockstep.directory.models import Group
from lockstep.directory.services import groups as group_service
from lockstep.m365 import mapping, reconcile, wakeup
from lockstep.m365.budget import DatabaseBudget
from lockstep.m365.credentials import connection_for
from lockstep.m365.graph.client import GraphClient
from lockstep.m365.graph.errors import GraphError
from lockstep.m365.graph.errors import NotFound as GraphNotFound
from lockstep.m365.models import Directory, GroupBinding, UserBinding
from lockstep.m365.services.bindings import get_directory
from lockstep.m365.services.errors import microsoft_refusals

MAX_GROUPS = 500


def _plain(problem: ServiceError) -> str:
    if isinstance(problem, Conflict):
        return problem.message
    if isinstance(problem, ValidationFailed):
        return "; ".join(f"{f}: {' '.join(m)}" for f, m in problem.errors.items())
    return str(problem)


# --- 5. security groups --------------------------------------------------------------------------

GROUP_KINDS = {
    "security": "Security group",
    "unified": "Microsoft 365 group",
    "mail_enabled_security": "Mail-enabled security group",
    "distribution": "Distribution list",
    "other": "Other group",
}


def group_kind(group: dict[str, Any]) -> str:
    """The kind of a Graph group (graph-facts §2.1)."""
    if "Unified" in (group.get("groupTypes") or []):
        return "unified"
    mail, security = bool(group.get("mailEnabled")), bool(group.get("securityEnabled"))
    if security and not mail:
        return "security"
    if security and mail:
        return "mail_enabled_security"
    if mail:
        return "distribution"
    return "other"


def _refusal(group: dict[str, Any]) -> str:
    kind = group_kind(group)
    if kind != "security":
        return (
            f"{GROUP_KINDS[kind]}s are listed read-only: Lockstep imports and manages security groups only, "
            "and never changes this group."
        )
    if "DynamicMembership" in (group.get("groupTypes") or []):
        return "Its membership is dynamic (a rule decides it), so it cannot be managed by Lockstep."
    if group.get("onPremisesSyncEnabled"):
        return "It is synchronized from on-premises Active Directory and read-only in the cloud."
    return ""


@dataclass(frozen=True)
class RemoteGroup:
    remote_id: str
    display_name: str
    description: str
    kind: str  # security, unified, mail_enabled_security, distribution, other
    kind_label: str
    importable: bool
    reason: str  # why it cannot be imported ("" if it can)
    bound_group_id: int | None  # the Lockstep group already bound to it


def _remote_group(group: dict[str, Any], bound: Mapping[str, int | None]) -> RemoteGroup:
    remote_id = str(group.get("id", ""))
    reason = _refusal(group)
    bound_to = bound.get(remote_id)
    if not reason and remote_id in bound:
        reason = "Already imported."
    kind = group_kind(group)
    return RemoteGroup(
        remote_id=remote_id,
        display_name=str(group.get("displayName") or ""),
        description=str(group.get("description") or ""),
        kind=kind,
        kind_label=GROUP_KINDS[kind],
        importable=not reason,
        reason=reason,
        bound_group_id=bound_to,
    )


def list_remote_groups(
    *, actor: Actor, directory_id: int, client: GraphClient | None = None
) -> list[RemoteGroup]:
    """The tenant's groups with their kind; only plain security groups are importable."""
    directory = get_directory(actor=actor, directory_id=directory_id)
    bound = dict(
        GroupBinding.objects.filter(directory=directory)
        .exclude(remote_id="")
        .values_list("remote_id", "group_id")
    )
    with microsoft_refusals("directory_id"), _maybe_client(directory, client) as graph:
        groups = [_remote_group(dict(g), bound) for g in graph.list_groups()]
    return sorted(groups, key=lambda g: (g.display_name.lower(), g.remote_id))


class _maybe_client:
    def __init__(self, directory: Directory, client: GraphClient | None) -> None:
        self.client = client
        self.own = client is None
        self.directory = directory

    def __enter__(self) -> GraphClient:
        if self.client is None:
            self.client = GraphClient(
                connection_for(self.directory), rate_limiter=DatabaseBudget(self.directory.tenant_id)
            )
        return self.client

    def __exit__(self, *exc: object) -> None:
        if self.own and self.client is not None:
            self.client.close()


@dataclass(frozen=True)
class GroupImportOutcome:
    remote_id: str
    display_name: str
    outcome: str  # imported, already_imported, refused
    reason: str = ""
    group_id: int | None = None
    members_added: int = 0
    # Members that are not bound users (or not users at all): the next sync removes them.
    members_not_managed: int = 0


@dataclass(frozen=True)
class GroupWrite:
    """One Microsoft 365 write the sync engine makes after a group import."""

    method: str
    url: str
    body: dict[str, Any] | None


@dataclass(frozen=True)
class GroupImportPlan:
    """What importing one group would do: refused (with the reason) or the writes that follow."""

    remote_id: str
    display_name: str
    importable: bool
    reason: str
    members_kept: int  # members who are bound users of this directory
    members_removed: int  # the other members: Lockstep's membership wins
    writes: list[GroupWrite]


@dataclass
class _Fetched:
    """One remote group read for an import: the group, its members, which are bound users."""

    remote_id: str
    group: dict[str, Any] | None = None
    refusal: str = ""
    existing: GroupBinding | None = None
    member_ids: list[str] = field(default_factory=list)  # every direct member (users, groups, ...)
    bound: dict[str, int] = field(default_factory=dict)  # remote id -> Lockstep user id

    @property
    def name(self) -> str:
        return str((self.group or {}).get("displayName") or "")


def _fetch(directory: Directory, graph: GraphClient, remote_id: str) -> _Fetched:
    fetched = _Fetched(remote_id)
    try:
        fetched.group = dict(graph.get_group(remote_id))
    except GraphNotFound:
        fetched.refusal = "No such group in Microsoft 365."
        return fetched
    except GraphError as error:
        fetched.refusal = error.plain_words or error.message
        return fetched
    fetched.existing = GroupBinding.objects.filter(directory=directory, remote_id=remote_id).first()
    fetched.refusal = _refusal(fetched.group)
    if fetched.existing is not None or fetched.refusal:
        return fetched
    try:
        everyone = list(graph.list_group_members(remote_id, select=("id",)))
    except GraphError as error:
        fetched.refusal = error.plain_words or error.message
        return fetched
    fetched.member_ids = [str(m["id"]) for m in everyone]
    users = [
        str(m["id"]) for m in everyone if str(m.get("@odata.type", "#microsoft.graph.user")).endswith(".user")
    ]
    fetched.bound = {
        remote: int(user_id)
        for remote, user_id in UserBinding.objects.filter(
            directory=directory, remote_id__in=users, unbound=False, user__isnull=False
        ).values_list("remote_id", "user_id")
    }
    return fetched


def _clean_ids(remote_ids: Sequence[str]) -> list[str]:
    ids = list(dict.fromkeys(remote_ids or []))
    if not ids or not all(isinstance(i, str) and i.strip() for i in ids):
        raise ValidationFailed({"remote_ids": ["Give at least one Microsoft 365 group id."]})
    if len(ids) > MAX_GROUPS:
        raise ValidationFailed({"remote_ids": [f"At most {MAX_GROUPS} groups at a time."]})
    return ids


def preview_group_import(
    *, actor: Actor, directory_id: int, remote_ids: Sequence[str], client: GraphClient | None = None
) -> list[GroupImportPlan]:
    """The Microsoft 365 writes importing these groups would cause (SPEC 2.7); nothing is written.

    Taking a group over keeps its name and description, so the writes are the removals of
    members that are not bound users of this directory (Lockstep's membership wins).
    """
    directory = get_directory(actor=actor, directory_id=directory_id)
    plans = []
    with _maybe_client(directory, client) as graph:
        for remote_id in _clean_ids(remote_ids):
            fetched = _fetch(directory, graph, remote_id)
            reason = fetched.refusal or ("Already imported." if fetched.existing else "")
            if reason or fetched.group is None:
                plans.append(GroupImportPlan(remote_id, fetched.name, False, reason, 0, 0, []))
                continue
            group = fetched.group
            desired = mapping.desired_group(
                Group(name=fetched.name, description=str(group.get("description") or "")),
                frozenset(fetched.bound),
            )
            operations = reconcile.plan_group(
                desired=desired,
                remote_id=remote_id,
                last_known={"displayName": group.get("displayName"), "description": group.get("description")},
                remote_member_ids=frozenset(fetched.member_ids),
            )
            plans.append(
                GroupImportPlan(
                    remote_id,
                    fetched.name,
                    True,
                    "",
                    members_kept=len(fetched.bound),
                    members_removed=len(fetched.member_ids) - len(fetched.bound),
                    writes=[GroupWrite(o.method, o.url, o.body) for o in operations],
                )
            )
    return plans


def import_groups(
    *, actor: Actor, directory_id: int, remote_ids: Sequence[str], client: GraphClient | None = None
) -> list[GroupImportOutcome]:
    """Take over existing Microsoft 365 security groups, one outcome per id.

    Each becomes a Lockstep group bound to the remote group; its members who are bound
    users of this directory become members. From then on Lockstep keeps the membership
    equal to the group's bound members (members not managed by Lockstep are removed at the
    next sync, `members_not_managed` counts them; `preview_group_import` lists those writes).
    Other kinds are refused with the reason and never written.
    """
    actor.require_write()
    directory = get_directory(actor=actor, directory_id=directory_id)
    ids = _clean_ids(remote_ids)
    outcomes = []
    with microsoft_refusals("directory_id"), _maybe_client(directory, client) as graph:
        for remote_id in ids:
            outcomes.append(_import_group(actor, directory, _fetch(directory, graph, remote_id)))
    transaction.on_commit(wakeup.notify)
    return outcomes


def _import_group(actor: Actor, directory: Directory, fetched: _Fetched) -> GroupImportOutcome:
    remote_id, name, group = fetched.remote_id, fetched.name, fetched.group
    if fetched.existing is not None:
        return GroupImportOutcome(
            remote_id, name, "already_imported", "Already imported.", fetched.existing.group_id
        )
    if fetched.refusal or group is None:
        return GroupImportOutcome(remote_id, name, "refused", fetched.refusal)
    user_ids = sorted(set(fetched.bound.values()))
    try:
        with transaction.atomic():
            lockstep_group = group_service.create_group(
                actor=actor, fields={"name": name, "description": str(group.get("description") or "")}
            )
            GroupBinding.objects.create(
                directory=directory,
                group=lockstep_group,
                remote_id=remote_id,
                last_applied={
                    "displayName": group.get("displayName"),
                    "description": group.get("description"),
                },
            )
            if user_ids:
                group_service.add_members(actor=actor, group_id=lockstep_group.pk, user_ids=user_ids)
            audit.record(
                actor=actor,
                action="m365.group.import",
                target_type="group",
                target_id=lockstep_group.pk,
                target_label=lockstep_group.name,
                after={"directory": directory.name, "remote_id": remote_id, "members": len(user_ids)},
            )
    except ServiceError as problem:
        return GroupImportOutcome(remote_id, name, "refused", _plain(problem))
    return GroupImportOutcome(
        remote_id,
        name,
        "imported",
        "",
        lockstep_group.pk,
        members_added=len(user_ids),
        members_not_managed=len(fetched.member_ids) - len(fetched.bound),
    )

"""Take over existing Microsoft 365 security groups (SPEC 2.5); other kinds are listed read-only.

Re-exported by `lockstep.m365.services.imports`, the import wizard's service module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from lockstep.directory import audit
from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict, ServiceError, ValidationFailed
from lockstep.directory.services import groups as group_service
from lockstep.m365 import wakeup
from lockstep.m365.budget import DatabaseBudget
from lockstep.m365.credentials import connection_for
from lockstep.m365.graph.client import GraphClient
from lockstep.m365.graph.errors import GraphError
from lockstep.m365.graph.errors import NotFound as GraphNotFound
from lockstep.m365.models import Directory, GroupBinding, UserBinding
from lockstep.m365.services.bindings import get_directory

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
    with _maybe_client(directory, client) as graph:
        try:
            groups = [_remote_group(dict(g), bound) for g in graph.list_groups()]
        except GraphError as error:
            raise Conflict("directory_id", error.plain_words or error.message) from None
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
    members_not_managed: int = (
        0  # members that are not bound users (or not users): the next sync removes them
    )


def import_groups(
    *, actor: Actor, directory_id: int, remote_ids: Sequence[str], client: GraphClient | None = None
) -> list[GroupImportOutcome]:
    """Take over existing Microsoft 365 security groups, one outcome per id.

    Each becomes a Lockstep group bound to the remote group; its members who are bound
    users of this directory become members. From then on Lockstep keeps the membership
    equal to the group's bound members (members not managed by Lockstep are removed at the
    next sync, `members_not_managed` counts them). Other kinds are refused with the reason.
    """
    actor.require_write()
    directory = get_directory(actor=actor, directory_id=directory_id)
    ids = list(dict.fromkeys(remote_ids or []))
    if not ids or not all(isinstance(i, str) and i.strip() for i in ids):
        raise ValidationFailed({"remote_ids": ["Give at least one Microsoft 365 group id."]})
    if len(ids) > MAX_GROUPS:
        raise ValidationFailed({"remote_ids": [f"At most {MAX_GROUPS} groups at a time."]})
    outcomes = []
    with _maybe_client(directory, client) as graph:
        for remote_id in ids:
            outcomes.append(_import_group(actor, directory, graph, remote_id))
    transaction.on_commit(wakeup.notify)
    return outcomes


def _import_group(
    actor: Actor, directory: Directory, graph: GraphClient, remote_id: str
) -> GroupImportOutcome:
    try:
        group = dict(graph.get_group(remote_id))
    except GraphNotFound:
        return GroupImportOutcome(remote_id, "", "refused", "No such group in Microsoft 365.")
    except GraphError as error:
        return GroupImportOutcome(remote_id, "", "refused", error.plain_words or error.message)
    name = str(group.get("displayName") or "")
    existing = GroupBinding.objects.filter(directory=directory, remote_id=remote_id).first()
    if existing is not None:
        return GroupImportOutcome(remote_id, name, "already_imported", "Already imported.", existing.group_id)
    reason = _refusal(group)
    if reason:
        return GroupImportOutcome(remote_id, name, "refused", reason)
    try:
        everyone = list(graph.list_group_members(remote_id, select=("id",)))
    except GraphError as error:
        return GroupImportOutcome(remote_id, name, "refused", error.plain_words or error.message)
    members = [
        str(m["id"]) for m in everyone if str(m.get("@odata.type", "#microsoft.graph.user")).endswith(".user")
    ]
    bound = dict(
        UserBinding.objects.filter(
            directory=directory, remote_id__in=members, unbound=False, user__isnull=False
        ).values_list("remote_id", "user_id")
    )
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
            user_ids = sorted({int(u) for u in bound.values()})
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
        members_not_managed=len(everyone) - len(bound),
    )

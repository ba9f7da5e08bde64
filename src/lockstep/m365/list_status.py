"""The Microsoft 365 status column and filter of the Users and Groups lists.

Every binding falls in one category (not bound, pending, in sync, error, held, not synced); a
user or group matches a status when any of its bindings (in the chosen directory, if one is
chosen) is in it, and "not bound" when it has none. The filter is one `EXISTS` the database
answers with the query for the page; the column costs one query per page. Read-only.
"""

from __future__ import annotations

import functools
import operator
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.db.models import Exists, F, OuterRef, Q, QuerySet

from lockstep.directory.errors import ValidationFailed
from lockstep.directory.models import Group, User
from lockstep.m365 import password_status
from lockstep.m365.models import Directory, DirectoryDomain, GroupBinding, SyncStatus, UserBinding
from lockstep.m365.password_status import DirectoryFacts


class ListStatus(models.TextChoices):
    UNBOUND = "unbound", "Not bound"
    PENDING = "pending", "Pending"
    SYNCED = "synced", "In sync"
    ERROR = "error", "Error"
    HELD = "held", "Held"
    NOT_SYNCED = "not_synced", "Not synced"


def _dirty() -> Q:
    return Q(desired_version__gt=F("applied_version"))


def category_q(status: str) -> Q:
    """The bindings in a category, as a filter on UserBinding or GroupBinding."""
    settled = {
        ListStatus.HELD: Q(status=SyncStatus.HELD),
        ListStatus.ERROR: Q(status__in=[SyncStatus.ERROR, SyncStatus.RESTORE_OFFERED]),
        ListStatus.NOT_SYNCED: Q(status=SyncStatus.NOT_SYNCED, unbound=False),
        ListStatus.SYNCED: Q(status=SyncStatus.SYNCED, unbound=False) & ~_dirty(),
    }
    if status == ListStatus.PENDING:  # everything else: a write or an unbind still to go out
        return ~functools.reduce(operator.or_, settled.values())
    return settled[ListStatus(status)]


def category(status: str, *, dirty: bool, unbound: bool) -> str:
    """The category of one binding; the same rules as `category_q`, for rows already loaded."""
    if status == SyncStatus.HELD:
        return ListStatus.HELD
    if status in (SyncStatus.ERROR, SyncStatus.RESTORE_OFFERED):
        return ListStatus.ERROR
    if status == SyncStatus.NOT_SYNCED:
        return ListStatus.PENDING if unbound else ListStatus.NOT_SYNCED
    if status == SyncStatus.SYNCED and not dirty and not unbound:
        return ListStatus.SYNCED
    return ListStatus.PENDING


def _check(status: str | None, directory_id: int | None, organization_id: int) -> None:
    errors: dict[str, list[str]] = {}
    if status is not None and status not in ListStatus.values:
        errors["m365_status"] = [f"Must be one of: {', '.join(ListStatus.values)}."]
    if (
        directory_id is not None
        and not Directory.objects.filter(pk=directory_id, organization_id=organization_id).exists()
    ):
        errors["directory"] = ["No such Microsoft 365 directory in this organization."]
    if errors:
        raise ValidationFailed(errors)


def _filter(
    queryset: QuerySet[Any], bindings: QuerySet[Any], status: str | None, directory_id: int | None
) -> QuerySet[Any]:
    if directory_id is not None:
        bindings = bindings.filter(directory_id=directory_id)
    if status is None:
        return queryset.filter(Exists(bindings))
    if status == ListStatus.UNBOUND:
        return queryset.filter(~Exists(bindings))
    return queryset.filter(Exists(bindings.filter(category_q(status))))


def filter_users(
    queryset: QuerySet[User], *, organization_id: int, status: str | None, directory_id: int | None = None
) -> QuerySet[User]:
    """The users of `queryset` with a binding in `status` (in `directory_id` if given; no status:
    bound there at all)."""
    _check(status, directory_id, organization_id)
    return _filter(queryset, UserBinding.objects.filter(user=OuterRef("pk")), status, directory_id)


def filter_groups(
    queryset: QuerySet[Group], *, organization_id: int, status: str | None, directory_id: int | None = None
) -> QuerySet[Group]:
    _check(status, directory_id, organization_id)
    return _filter(queryset, GroupBinding.objects.filter(group=OuterRef("pk")), status, directory_id)


def directories(organization_id: int) -> list[tuple[int, str]]:
    """The organization's directories (id, name), A to Z."""
    return list(
        Directory.objects.filter(organization_id=organization_id).order_by("name").values_list("id", "name")
    )


@dataclass(frozen=True)
class StatusBadge:
    """One binding in a list row: `directory` is empty when the organization has only one."""

    directory: str
    status: str  # a ListStatus value (the colour)
    label: str  # the words shown


NOT_BOUND = StatusBadge("", ListStatus.UNBOUND, ListStatus.UNBOUND.label)


def _label(row: dict[str, Any], kind: str, owner: Any, facts: dict[int, DirectoryFacts]) -> str:
    dirty = row["desired_version"] > row["applied_version"]
    if row["unbound"] and row["status"] not in (SyncStatus.HELD, SyncStatus.ERROR):
        return "Unbinding"
    if row["status"] == SyncStatus.RESTORE_OFFERED:
        return "Restore offered"
    if row["status"] == SyncStatus.HELD:
        return "Held by the deletion brake"
    if kind == "user" and row["status"] == SyncStatus.SYNCED and not dirty:
        # synced: the account exists and the email domain was the tenant's at the last pass
        binding = UserBinding(user=owner, **{k: row[k] for k in USER_PASSWORD_FIELDS if k != "remote_id"})
        binding.directory_id, binding.remote_id = row["directory_id"], row["remote_id"] or "synced"
        fact = password_status.as_synced(facts[row["directory_id"]], owner.email)
        if password_status.waiting_for_login(binding, password_status.password_state(binding, fact), fact):
            return "In sync, waiting for first login"
    return ListStatus(category(row["status"], dirty=dirty, unbound=row["unbound"])).label


def _badges(
    owners: Iterable[Any], bindings: QuerySet[Any], key: str, kind: str, named: list[tuple[int, str]]
) -> dict[int, list[StatusBadge]]:
    by_pk = {owner.pk: owner for owner in owners}
    names = dict(named) if len(named) > 1 else {}
    fields = ["directory_id", "status", "desired_version", "applied_version", "unbound"]
    if kind == "user":
        fields += USER_PASSWORD_FIELDS
    selected = bindings.filter(**{f"{key}__in": list(by_pk)})
    if kind == "user":
        federation = DirectoryDomain.objects.filter(
            directory_id=OuterRef("directory_id"), authentication_type="Federated"
        )
        selected = selected.annotate(
            takeover=F("directory__organization__password_takeover"), has_federated=Exists(federation)
        )
        fields += ["takeover", "has_federated"]
    rows = list(selected.values(key, *fields).order_by(key, "directory_id"))
    facts = _facts(rows) if kind == "user" else {}
    badges: dict[int, list[StatusBadge]] = defaultdict(list)
    for row in rows:
        dirty = row["desired_version"] > row["applied_version"]
        badges[row[key]].append(
            StatusBadge(
                directory=names.get(row["directory_id"], ""),
                status=category(row["status"], dirty=dirty, unbound=row["unbound"]),
                label=_label(row, kind, by_pk[row[key]], facts),
            )
        )
    return {pk: badges.get(pk) or [NOT_BOUND] for pk in by_pk}


USER_PASSWORD_FIELDS = [
    "adopted",
    "remote_id",
    "password_pending",
    "password_synced_at",
    "password_expired_at",
]


def _facts(rows: list[dict[str, Any]]) -> dict[int, DirectoryFacts]:
    """The organization's takeover and the federated domains of the directories on the page (read
    with the bindings; one more query only when a directory has a federated domain)."""
    takeover = {r["directory_id"]: bool(r["takeover"]) for r in rows}
    federated: dict[int, set[str]] = {pk: set() for pk in takeover}
    with_federation = sorted({r["directory_id"] for r in rows if r["has_federated"]})
    if with_federation:
        names = DirectoryDomain.objects.filter(
            directory_id__in=with_federation, authentication_type="Federated"
        ).values_list("directory_id", "name")
        for directory_id, name in names:
            federated[directory_id].add(name)
    return {pk: DirectoryFacts(frozenset(), frozenset(federated[pk]), takeover[pk]) for pk in takeover}


def user_badges(users: Iterable[User], *, directories: list[tuple[int, str]]) -> dict[int, list[StatusBadge]]:
    """Each user's Microsoft 365 status per directory, in one query (pass `directories(org)`)."""
    return _badges(users, UserBinding.objects.all(), "user_id", "user", directories)


def group_badges(
    groups: Iterable[Group], *, directories: list[tuple[int, str]]
) -> dict[int, list[StatusBadge]]:
    return _badges(groups, GroupBinding.objects.all(), "group_id", "group", directories)

"""The Users and Groups lists' filters: the form from the query string, the rows that match
(shared by the page, its live search and the CSV export), and each row's Microsoft 365 status."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Count, QuerySet
from django.http import HttpRequest

from lockstep.console.access import actor_for
from lockstep.console.forms import ListFilterForm, UserFilterForm
from lockstep.directory.actors import Actor
from lockstep.directory.models import Group, User
from lockstep.directory.services import groups, user_queries
from lockstep.m365 import list_status

USER_FILTERS = ("q", "state", "group", "department", "domain", "m365_status", "directory")
GROUP_FILTERS = ("q", "m365_status", "directory")
# Where a service's complaint about a filter is shown.
ERROR_FIELDS = {"search": "q", "m365_status": "m365_status", "directory": "directory"}


def user_filter_form(request: HttpRequest, *, with_choices: bool = True) -> UserFilterForm:
    """The Users filter form bound to the query string; `with_choices=False` skips listing the
    departments and domains in use (the live search's table needs no drop-downs)."""
    actor = actor_for(request)
    return UserFilterForm(
        request.GET,
        groups=list(groups.list_groups(actor=actor).values_list("id", "name")),
        departments=user_queries.departments(actor=actor) if with_choices else [],
        domains=user_queries.email_domains(actor=actor) if with_choices else [],
        statuses=list_status.ListStatus.choices,
        directories=list_status.directories(actor.organization_id),
    )


def group_filter_form(request: HttpRequest) -> ListFilterForm:
    return ListFilterForm(
        request.GET,
        statuses=list_status.ListStatus.choices,
        directories=list_status.directories(actor_for(request).organization_id),
    )


def query_of(form: ListFilterForm, names: Iterable[str]) -> dict[str, Any]:
    """The filters in use, for page links and the export link (the page number left out)."""
    return {name: form.data[name] for name in names if form.data.get(name) not in (None, "")}


def _by_status(queryset: QuerySet[Any], actor: Actor, data: dict[str, Any], kind: str) -> QuerySet[Any]:
    if not data.get("m365_status") and data.get("directory") is None:
        return queryset
    narrow = list_status.filter_users if kind == "user" else list_status.filter_groups
    return narrow(
        queryset,
        organization_id=actor.organization_id,
        status=data.get("m365_status") or None,
        directory_id=data.get("directory"),
    )


def matching_users(actor: Actor, form: UserFilterForm, *, many: bool = False) -> QuerySet[User]:
    """The users the (valid) form's filters select, A to Z; raises ValidationFailed. `many`: the
    count said thousands match (the search then reads the page in order rather than sorting)."""
    data = form.cleaned_data
    queryset = user_queries.filter_users(
        many=many,
        actor=actor,
        search=data["q"] or None,
        state=data["state"] or None,
        group_id=data["group"],
        department=data["department"] or None,
        domain=data["domain"] or None,
    )
    return _by_status(queryset, actor, data, "user").order_by("username", "id")


def matching_groups(actor: Actor, form: ListFilterForm) -> QuerySet[Group]:
    data = form.cleaned_data
    queryset = groups.list_groups(actor=actor, search=data["q"] or None)
    return _by_status(queryset, actor, data, "group").annotate(member_count=Count("members"))


def with_status(rows: list[Any], form: ListFilterForm, kind: str) -> list[Any]:
    """Set `m365` on each row: its status per directory (one query for the page)."""
    directories = form.directory_choices
    if not directories:
        return rows  # no directory: the list shows no Microsoft 365 column
    badges = (
        list_status.user_badges(rows, directories=directories)
        if kind == "user"
        else list_status.group_badges(rows, directories=directories)
    )
    for row in rows:
        row.m365 = badges[row.pk]
    return rows

"""Bulk actions on the Users list: activate, suspend, add to group, bind, unbind, send activation email.

The list's bulk bar posts the ticked users (or "all users matching the search and filters",
resolved with the list's own filter code) to `bulk_confirm`, which asks for the group or
directory when the action needs one and states the effect in Lockstep and in Microsoft 365.
Its form carries the exact ids it showed to `bulk_apply`, which calls the service and lists
what changed and which users were left as they were, and why.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from lockstep.console import bulk_words, list_filters
from lockstep.console.access import actor_for
from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict, ValidationFailed
from lockstep.directory.services import bulk, groups, users
from lockstep.directory.services.bulk import BULK_LIMIT, BulkPlan, BulkResult
from lockstep.m365.models import Directory
from lockstep.m365.services import bulk_bindings
from lockstep.m365.services.bindings import get_directory
from lockstep.portal.services import invitations

SHOWN = 200  # users listed by name on the confirmation and result pages


@dataclass(frozen=True)
class BulkAction:
    verb: str  # "Suspend"
    done: str  # "suspended"
    target: str = ""  # "group" or "directory": what the action needs chosen
    danger: bool = False


ACTIONS: dict[str, BulkAction] = {
    "activate": BulkAction("Activate", "activated"),
    "suspend": BulkAction("Suspend", "suspended", danger=True),
    "add_to_group": BulkAction("Add to group", "added to the group", target="group"),
    "bind": BulkAction("Bind", "bound", target="directory"),
    "unbind": BulkAction("Unbind", "unbound", target="directory", danger=True),
    "send_activation": BulkAction("Email", "emailed"),  # the activation or welcome email
}


def _matching_ids(request: HttpRequest, query: str) -> list[int]:
    """Every user the Users list shows for this query string (all pages), through the list's own filters."""
    listing = copy.copy(request)
    listing.GET = QueryDict(query)
    form = list_filters.user_filter_form(listing, with_choices=False)
    if not form.is_valid():
        raise ValidationFailed({"query": ["The search or filters are not valid: search again."]})
    queryset = list_filters.matching_users(actor_for(request), form)
    return list(queryset.values_list("id", flat=True)[: BULK_LIMIT + 1])


def _selected_ids(request: HttpRequest) -> list[str]:
    if request.POST.get("scope") == "matching":
        return [str(i) for i in _matching_ids(request, request.POST.get("query", ""))]
    listed = [v for v in request.POST.get("user_ids_csv", "").split(",") if v]
    return listed or request.POST.getlist("user_ids")


def _target(request: HttpRequest, action: BulkAction) -> int | None:
    raw = request.POST.get(action.target, "") if action.target else ""
    return int(raw) if raw.isdigit() else None


def _choices(actor: Actor, action: BulkAction) -> list[tuple[int, str]]:
    if action.target == "group":
        return list(groups.list_groups(actor=actor).values_list("id", "name")[:1000])
    if action.target == "directory":
        return list(
            Directory.objects.filter(organization_id=actor.organization_id)
            .order_by("name")
            .values_list("id", "name")
        )
    return []


def _plan(actor: Actor, name: str, ids: list[str], target: int | None) -> tuple[BulkPlan, list[str], str]:
    """The plan, its words, and the name of the group or directory."""
    if name in ("activate", "suspend"):
        to_state = "active" if name == "activate" else "suspended"
        plan = bulk.plan_state_change(actor=actor, user_ids=ids, to_state=to_state)
        return plan, bulk_words.state_words(actor, to_state, plan), ""
    if name == "send_activation":
        plan = invitations.plan_activation(actor=actor, user_ids=ids)
        return plan, bulk_words.activation_words(plan), ""
    assert target is not None
    if name == "add_to_group":
        group = groups.get_group(actor=actor, group_id=target)
        plan = bulk.plan_add_to_group(actor=actor, user_ids=ids, group_id=group.pk)
        return plan, bulk_words.group_words(actor, group, plan), group.name
    directory = get_directory(actor=actor, directory_id=target)
    if name == "bind":
        plan = bulk_bindings.plan_bind_users(actor=actor, user_ids=ids, directory_id=directory.pk)
        return plan, bulk_words.bind_words(directory, plan), directory.name
    plan = bulk_bindings.plan_unbind_users(actor=actor, user_ids=ids, directory_id=directory.pk)
    return plan, bulk_words.unbind_words(directory, plan), directory.name


def _apply(actor: Actor, name: str, ids: list[str], target: int | None) -> BulkResult:
    if name in ("activate", "suspend"):
        to_state = "active" if name == "activate" else "suspended"
        return bulk.change_states(actor=actor, user_ids=ids, to_state=to_state)
    if name == "send_activation":
        sent = invitations.send_activation(actor=actor, user_ids=ids)
        return BulkResult(changed=sent.changed, skipped=sent.skipped)
    assert target is not None
    if name == "add_to_group":
        return bulk.add_users_to_group(actor=actor, user_ids=ids, group_id=target)
    if name == "bind":
        return bulk_bindings.bind_users(actor=actor, user_ids=ids, directory_id=target)
    return bulk_bindings.unbind_users(actor=actor, user_ids=ids, directory_id=target)


def _target_name(actor: Actor, action: BulkAction, target: int | None) -> str:
    if target is None:
        return ""
    if action.target == "group":
        return groups.get_group(actor=actor, group_id=target).name
    return get_directory(actor=actor, directory_id=target).name


def _back_url(request: HttpRequest) -> str:
    query = QueryDict(request.POST.get("query", ""), mutable=True)
    query.pop("cursor", None)
    return f"{reverse('console:users')}?{query.urlencode()}" if query else reverse("console:users")


def _problem(request: HttpRequest, error: ValidationFailed | Conflict) -> HttpResponse:
    if isinstance(error, ValidationFailed):
        message = " ".join(m for messages in error.errors.values() for m in messages)
    else:
        message = error.message
    context = {"title": "Nothing was changed", "message": message, "back_url": _back_url(request)}
    return render(request, "console/users/bulk_problem.html", context, status=422)


def _common(request: HttpRequest, name: str, action: BulkAction) -> dict[str, Any]:
    return {
        "action_name": name,
        "action": action,
        "query": request.POST.get("query", ""),
        "back_url": _back_url(request),
    }


@require_POST
def bulk_confirm(request: HttpRequest) -> HttpResponse:
    """The one confirmation page of a bulk action (nothing is written here)."""
    actor = actor_for(request)
    name = request.POST.get("action", "")
    action = ACTIONS.get(name)
    if action is None:
        return _problem(request, ValidationFailed({"action": ["Choose an action."]}))
    try:
        ids = [str(i) for i in bulk.clean_ids(_selected_ids(request))]
    except ValidationFailed as error:
        return _problem(request, error)
    context = {**_common(request, name, action), "user_ids_csv": ",".join(ids), "count": len(ids)}
    target = _target(request, action)
    if action.target and target is None:
        context["choices"] = _choices(actor, action)
        context["target_missing"] = "target_chosen" in request.POST
        return render(request, "console/users/bulk_confirm.html", context)
    try:
        plan, words, target_name = _plan(actor, name, ids, target)
    except (ValidationFailed, Conflict) as error:
        return _problem(request, error)
    context.update(
        {
            "plan": plan,
            "words": words,
            "target": target,
            "target_name": target_name,
            "shown": plan.changing[:SHOWN],
            "skipped": plan.skipped[:SHOWN],
        }
    )
    return render(request, "console/users/bulk_confirm.html", context)


@require_POST
def bulk_apply(request: HttpRequest) -> HttpResponse:
    """Apply a confirmed bulk action to exactly the users its confirmation showed."""
    actor = actor_for(request)
    name = request.POST.get("action", "")
    action = ACTIONS.get(name)
    if action is None:
        return _problem(request, ValidationFailed({"action": ["Choose an action."]}))
    ids = [v for v in request.POST.get("user_ids_csv", "").split(",") if v]
    target = _target(request, action)
    if action.target and target is None:
        return _problem(request, ValidationFailed({action.target: [f"Choose a {action.target}."]}))
    try:
        result = _apply(actor, name, ids, target)
    except (ValidationFailed, Conflict) as error:
        return _problem(request, error)
    changed = users.filter_users(actor=actor).filter(pk__in=result.changed[:SHOWN]).order_by("username")
    context = {
        **_common(request, name, action),
        "result": result,
        "changed_names": list(changed.values_list("username", flat=True)),
        "skipped": result.skipped[:SHOWN],
        "target_name": _target_name(actor, action, target),
    }
    return render(request, "console/users/bulk_result.html", context)

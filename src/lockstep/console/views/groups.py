"""Groups: list, create, edit, delete, members (several added at once)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from lockstep.console import list_filters
from lockstep.console.access import actor_for, write_page
from lockstep.console.directories.context import group_directories_context
from lockstep.console.forms import GroupForm, MemberSearchForm
from lockstep.console.paging import numbered_page
from lockstep.directory.errors import Conflict, NotFound, ValidationFailed
from lockstep.directory.form_errors import show_service_error
from lockstep.directory.models import GroupMembership
from lockstep.directory.services import bulk, groups, users

PAGE_SIZE = 50
MEMBERS_PAGE = 100
CANDIDATES = 20
CHOSEN_MAX = 200  # users ticked across searches before pressing "Add"


def group_list(request: HttpRequest) -> HttpResponse:
    form = list_filters.group_filter_form(request)
    query = list_filters.query_of(form, list_filters.GROUP_FILTERS)
    page = None
    if form.is_valid():
        try:
            queryset = list_filters.matching_groups(actor_for(request), form)
        except ValidationFailed as failed:
            show_service_error(form, failed, list_filters.ERROR_FIELDS)
        else:
            page = numbered_page(queryset, number=form.cleaned_data["page"] or 1, size=PAGE_SIZE, query=query)
            list_filters.with_status(page.items, form, "group")
    context = {
        "form": form,
        "page": page,
        "total_words": f"{page.total:,} group{'' if page.total == 1 else 's'}" if page else "",
        "m365_column": bool(form.directory_choices),
        "filtered": bool(query),
    }
    return render(request, "console/groups/list.html", context)


@write_page
def group_new(request: HttpRequest) -> HttpResponse:
    form = GroupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            group = groups.create_group(actor=actor_for(request), fields=dict(form.cleaned_data))
        except (ValidationFailed, Conflict) as error:
            show_service_error(form, error)
        else:
            messages.success(request, f"Group {group.name} created.")
            return redirect("console:group_detail", pk=group.pk)
    return render(request, "console/groups/form.html", {"form": form, "group": None})


@write_page
def group_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    group = groups.get_group(actor=actor, group_id=pk)
    form = GroupForm(request.POST or None, initial={"name": group.name, "description": group.description})
    if request.method == "POST" and form.is_valid():
        try:
            groups.update_group(actor=actor, group_id=group.pk, changes=dict(form.cleaned_data))
        except (ValidationFailed, Conflict) as error:
            show_service_error(form, error)
        else:
            messages.success(request, f"Group {form.cleaned_data['name']} saved.")
            return redirect("console:group_detail", pk=group.pk)
    return render(request, "console/groups/form.html", {"form": form, "group": group})


@write_page
def group_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    group = groups.get_group(actor=actor, group_id=pk)
    if request.method == "POST":
        groups.delete_group(actor=actor, group_id=group.pk)
        messages.success(request, f"Group {group.name} deleted.")
        return redirect("console:groups")
    return render(request, "console/groups/delete.html", {"group": group})


def group_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The group, a page of its members, and (with ?q=) users to add."""
    actor = actor_for(request)
    group = groups.get_group(actor=actor, group_id=pk)
    cursor = request.GET.get("cursor") or None
    try:
        page = users.list_users(actor=actor, group_id=group.pk, cursor=cursor, limit=MEMBERS_PAGE)
    except ValidationFailed:
        page = users.list_users(actor=actor, group_id=group.pk, limit=MEMBERS_PAGE)
    search = MemberSearchForm(request.GET or None)
    # Users ticked before this search (HTMX sends them along), kept ticked at the top.
    chosen_ids = [int(v) for v in request.GET.getlist("user_ids") if v.isdigit()][:CHOSEN_MAX]
    chosen = list(users.filter_users(actor=actor).filter(pk__in=chosen_ids).order_by("username"))
    candidates = []
    if search.is_valid() and search.cleaned_data["q"].strip():
        found = users.list_users(actor=actor, search=search.cleaned_data["q"], limit=CANDIDATES).items
        candidates = [person for person in found if person.pk not in set(chosen_ids)]
    member_ids = set(
        GroupMembership.objects.filter(group=group, user_id__in=[p.pk for p in candidates]).values_list(
            "user_id", flat=True
        )
    )
    context = {
        "group": group,
        "page": page,
        "search": search,
        "candidates": candidates,
        "chosen": chosen,
        "member_ids": member_ids,
        **group_directories_context(actor, group),
    }
    htmx = getattr(request, "htmx", None)
    if htmx and htmx.target == "candidates":
        return render(request, "console/groups/_candidates.html", context)
    return render(request, "console/groups/detail.html", context)


@require_POST
def member_add(request: HttpRequest, pk: int) -> HttpResponse:
    """Add the ticked users (or the one `user_id`) to the group: one audit row per new member."""
    actor = actor_for(request)
    group = groups.get_group(actor=actor, group_id=pk)
    raw = request.POST.getlist("user_ids") or [v for v in [request.POST.get("user_id", "")] if v]
    if not raw:
        messages.error(request, "Tick at least one user to add.")
        return redirect("console:group_detail", pk=group.pk)
    try:
        result = bulk.add_users_to_group(actor=actor, user_ids=raw, group_id=group.pk)
    except ValidationFailed:
        raise NotFound("user", ", ".join(raw)) from None  # not a user of this organization
    names = dict(users.filter_users(actor=actor).filter(pk__in=result.changed).values_list("pk", "username"))
    added = [names[user_id] for user_id in result.changed]
    if len(added) == 1:
        messages.success(request, f"{added[0]} added to {group.name}.")
    elif added:
        messages.success(request, f"{len(added)} users added to {group.name}: {', '.join(sorted(added))}.")
    if result.skipped:
        already = ", ".join(s.username for s in result.skipped)
        verb = "is already a member" if len(result.skipped) == 1 else "are already members"
        messages.info(request, f"{already} {verb} of {group.name}.")
    return redirect("console:group_detail", pk=group.pk)


@require_POST
def member_remove(request: HttpRequest, pk: int, user_pk: int) -> HttpResponse:
    actor = actor_for(request)
    group = groups.get_group(actor=actor, group_id=pk)
    user = users.get_user(actor=actor, user_id=user_pk)
    groups.remove_members(actor=actor, group_id=group.pk, user_ids=[user.pk])
    messages.success(request, f"{user.username} removed from {group.name}.")
    return redirect("console:group_detail", pk=group.pk)

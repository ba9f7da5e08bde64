"""Groups: list, create, edit, delete, members."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from lockstep.console import list_filters
from lockstep.console.access import actor_for, write_page
from lockstep.console.directories.context import group_directories_context
from lockstep.console.forms import GroupForm, MemberSearchForm, show_service_error
from lockstep.console.paging import numbered_page
from lockstep.directory.errors import Conflict, ValidationFailed
from lockstep.directory.services import groups, users

PAGE_SIZE = 50
MEMBERS_PAGE = 100
CANDIDATES = 20


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
    candidates = []
    if search.is_valid() and search.cleaned_data["q"].strip():
        candidates = users.list_users(actor=actor, search=search.cleaned_data["q"], limit=CANDIDATES).items
    context = {
        "group": group,
        "page": page,
        "search": search,
        "candidates": candidates,
        **group_directories_context(actor, group),
    }
    htmx = getattr(request, "htmx", None)
    if htmx and htmx.target == "candidates":
        return render(request, "console/groups/_candidates.html", context)
    return render(request, "console/groups/detail.html", context)


@require_POST
def member_add(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    group = groups.get_group(actor=actor, group_id=pk)
    user = users.get_user(actor=actor, user_id=request.POST.get("user_id", ""))  # type: ignore[arg-type]
    added = groups.add_members(actor=actor, group_id=group.pk, user_ids=[user.pk])
    if added:
        messages.success(request, f"{user.username} added to {group.name}.")
    else:
        messages.info(request, f"{user.username} is already a member of {group.name}.")
    return redirect("console:group_detail", pk=group.pk)


@require_POST
def member_remove(request: HttpRequest, pk: int, user_pk: int) -> HttpResponse:
    actor = actor_for(request)
    group = groups.get_group(actor=actor, group_id=pk)
    user = users.get_user(actor=actor, user_id=user_pk)
    groups.remove_members(actor=actor, group_id=group.pk, user_ids=[user.pk])
    messages.success(request, f"{user.username} removed from {group.name}.")
    return redirect("console:group_detail", pk=group.pk)

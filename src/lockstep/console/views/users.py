"""Users: list (search, filters, keyset pages, HTMX live search), CSV export, entry, detail, edit."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from lockstep.console.access import actor_for, write_page
from lockstep.console.directories.context import user_directories_context
from lockstep.console.effects import bound_directories, password_set, state_changed, sync_note
from lockstep.console.forms import (
    USER_FIELD_LABELS,
    PasswordForm,
    UserCreateForm,
    UserFieldsForm,
    UserFilterForm,
    show_service_error,
)
from lockstep.directory.errors import Conflict, ValidationFailed
from lockstep.directory.models import ALLOWED_TRANSITIONS, UserState
from lockstep.directory.password_policy import describe_policy
from lockstep.directory.services import groups, organizations, passwords, users
from lockstep.m365.services import bindings, directories

PAGE_SIZE = 50
CSV_COLUMNS = (
    "immutable_id",
    *USER_FIELD_LABELS,
    "state",
    "password_setup",
    "has_password",
    "created_at",
    "updated_at",
)


def _filters(request: HttpRequest) -> tuple[UserFilterForm, dict[str, Any]]:
    actor = actor_for(request)
    choices = list(groups.list_groups(actor=actor).values_list("id", "name"))
    form = UserFilterForm(request.GET, groups=choices)
    values: dict[str, Any] = {}
    if form.is_valid():
        values = {
            "search": form.cleaned_data["q"] or None,
            "state": form.cleaned_data["state"] or None,
            "group_id": form.cleaned_data["group"],
        }
    return form, values


def _query(form: UserFilterForm, **extra: str) -> str:
    data = form.cleaned_data if form.is_bound and hasattr(form, "cleaned_data") else {}
    params = {k: data.get(k) for k in ("q", "state", "group") if data.get(k) not in (None, "")}
    params.update(extra)
    return urlencode(params)


def user_list(request: HttpRequest) -> HttpResponse:
    form, values = _filters(request)
    page = None
    if form.is_valid():
        try:
            page = users.list_users(
                actor=actor_for(request),
                cursor=form.cleaned_data["cursor"] or None,
                limit=PAGE_SIZE,
                **values,
            )
        except ValidationFailed as failed:
            show_service_error(form, failed, {"cursor": "q"})
    context = {
        "form": form,
        "page": page,
        "first_url": f"?{_query(form)}",
        "next_url": f"?{_query(form, cursor=page.next_cursor)}" if page and page.next_cursor else "",
        "export_url": f"{reverse('console:users_export')}?{_query(form)}",
        "paged": bool(request.GET.get("cursor")),
    }
    htmx = getattr(request, "htmx", None)
    if htmx and not htmx.history_restore_request:
        response = render(request, "console/users/_table.html", context)
    else:
        response = render(request, "console/users/list.html", context)
    response["Vary"] = "HX-Request"
    return response


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: object) -> str:
    """Text for a CSV cell; a leading = + - @ is neutralised so spreadsheets do not run it."""
    text = "" if value is None else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def user_export(request: HttpRequest) -> StreamingHttpResponse:
    form, values = _filters(request)
    if not form.is_valid():
        values = {}
    queryset = users.filter_users(actor=actor_for(request), **values).order_by("username", "id")

    def rows() -> Iterator[str]:
        writer = csv.writer(_Echo())
        yield writer.writerow(CSV_COLUMNS)
        for user in queryset.iterator(chunk_size=2000):
            yield writer.writerow([_cell(getattr(user, column)) for column in CSV_COLUMNS])

    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="lockstep-users-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response


def _policy_rules(request: HttpRequest) -> list[str]:
    organization = organizations.get_organization(actor=actor_for(request))
    return describe_policy(passwords.policy_for(organization))


@write_page
def user_new(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request)
    form = UserCreateForm(request.POST or None)
    available = list(directories.list_directories(actor=actor))
    chosen = {int(v) for v in request.POST.getlist("bind_directory") if v.isdigit()}
    if request.method == "POST" and form.is_valid():
        try:
            # Creation and the Directories tab's binds succeed or fail together.
            with transaction.atomic():
                user = users.create_user(
                    actor=actor,
                    fields=form.user_fields(),
                    state=form.cleaned_data["state"],
                    initial_password=form.initial_password_or_none(),
                )
                for directory_id in sorted(chosen):
                    bindings.bind_user(actor=actor, user_id=user.pk, directory_id=directory_id)
        except (ValidationFailed, Conflict) as error:
            show_service_error(form, error)
        else:
            messages.success(request, f"User {user.username} created.")
            return redirect("console:user_detail", pk=user.pk)
    return render(
        request,
        "console/users/new.html",
        {"form": form, "rules": _policy_rules(request), "directories": available, "chosen": chosen},
    )


def user_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    user = users.get_user(actor=actor, user_id=pk)
    member_of = list(user.groups.order_by("name").values_list("id", "name"))
    attributes = [(label, getattr(user, name)) for name, label in USER_FIELD_LABELS.items()]
    transitions = [(state, UserState(state).label) for state in ALLOWED_TRANSITIONS[user.state]]
    return render(
        request,
        "console/users/detail.html",
        {
            "person": user,
            "attributes": attributes,
            "member_of": member_of,
            "transitions": transitions,
            **user_directories_context(actor, user),
        },
    )


@write_page
def user_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    user = users.get_user(actor=actor, user_id=pk)
    initial = {name: getattr(user, name) for name in USER_FIELD_LABELS}
    form = UserFieldsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            users.update_user(actor=actor, user_id=user.pk, changes=form.user_fields())
        except (ValidationFailed, Conflict) as error:
            show_service_error(form, error)
        else:
            messages.success(request, f"{user.username} saved.{sync_note(user)}")
            return redirect("console:user_detail", pk=user.pk)
    return render(request, "console/users/edit.html", {"form": form, "person": user})


@require_POST
def user_state(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    user = users.get_user(actor=actor, user_id=pk)
    try:
        user = users.change_state(actor=actor, user_id=user.pk, to_state=request.POST.get("to_state", ""))
    except Conflict as conflict:
        return render(
            request,
            "console/message.html",
            {"title": "That change is not allowed", "message": conflict.message, "back": user},
            status=409,
        )
    messages.success(request, state_changed(user))
    return redirect("console:user_detail", pk=user.pk)


@write_page
def user_password(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    user = users.get_user(actor=actor, user_id=pk)
    form = PasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            users.set_password(actor=actor, user_id=user.pk, password=form.cleaned_data["password"])
        except ValidationFailed as error:
            show_service_error(form, error)
        else:
            messages.success(request, password_set(user))
            return redirect("console:user_detail", pk=user.pk)
    return render(
        request,
        "console/users/password.html",
        {"form": form, "person": user, "rules": _policy_rules(request)},
    )


@write_page
def user_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    user = users.get_user(actor=actor, user_id=pk)
    if request.method == "POST":
        bound = bool(bound_directories(user))
        users.delete_user(actor=actor, user_id=user.pk)
        tail = " Microsoft 365 sign-in is blocked and its sessions end within seconds." if bound else ""
        messages.success(request, f"User {user.username} deleted.{tail}")
        return redirect("console:users")
    return render(request, "console/users/delete.html", {"person": user})

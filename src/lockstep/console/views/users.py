"""Users: list (search, filters, numbered pages, HTMX live search), CSV export, entry, detail, edit."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from urllib.parse import urlencode

from django.contrib import messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from lockstep.console import list_filters
from lockstep.console.access import actor_for, write_page
from lockstep.console.directories.context import user_directories_context
from lockstep.console.effects import bound_directories, password_set, state_changed, sync_note
from lockstep.console.forms import (
    USER_FIELD_LABELS,
    PasswordForm,
    UserCreateForm,
    UserFieldsForm,
    UserFilterForm,
)
from lockstep.console.paging import numbered_page
from lockstep.console.views.user_emails import sign_in_context
from lockstep.directory.csv_cells import Echo, safe_cell
from lockstep.directory.errors import Conflict, ValidationFailed
from lockstep.directory.form_errors import show_service_error
from lockstep.directory.models import ALLOWED_TRANSITIONS, User, UserState
from lockstep.directory.password_policy import describe_policy
from lockstep.directory.services import organizations, passwords, users
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


def _matching(request: HttpRequest, form: UserFilterForm) -> QuerySet[User] | None:
    """The users the filters select, or None (the errors are shown beside the fields)."""
    if not form.is_valid():
        return None
    try:
        return list_filters.matching_users(actor_for(request), form)
    except ValidationFailed as failed:
        show_service_error(form, failed, list_filters.ERROR_FIELDS)
        return None


def user_list(request: HttpRequest) -> HttpResponse:
    htmx = getattr(request, "htmx", None)
    live = bool(htmx and not htmx.history_restore_request)  # the live search wants the table only
    form = list_filters.user_filter_form(request, with_choices=not live)
    queryset = _matching(request, form)
    query = list_filters.query_of(form, list_filters.USER_FILTERS)
    page = None
    if queryset is not None:
        page = numbered_page(
            queryset,
            number=form.cleaned_data["page"] or 1,
            size=PAGE_SIZE,
            query=query,
            many=lambda: list_filters.matching_users(actor_for(request), form, many=True),
        )
        list_filters.with_status(page.items, form, "user")
    context = {
        "form": form,
        "page": page,
        "total_words": f"{page.total:,} user{'' if page.total == 1 else 's'}" if page else "",
        "export_url": f"{reverse('console:users_export')}?{urlencode(query)}",
        "m365_column": bool(form.directory_choices),
    }
    template = "console/users/_table.html" if live else "console/users/list.html"
    response = render(request, template, context)
    response["Vary"] = "HX-Request"
    return response


def user_export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """The users the list's filters select, as CSV; filters it cannot use are said, not ignored."""
    form = list_filters.user_filter_form(request, with_choices=False)
    queryset = _matching(request, form)
    if queryset is None:
        errors = "; ".join(
            f"{name}: {' '.join(map(str, messages))}" for name, messages in form.errors.items()
        )
        return HttpResponse(f"Cannot export: {errors}", status=400, content_type="text/plain; charset=utf-8")

    def rows() -> Iterator[str]:
        writer = csv.writer(Echo())
        yield writer.writerow(CSV_COLUMNS)
        for user in queryset.iterator(chunk_size=2000):
            yield writer.writerow([safe_cell(getattr(user, column)) for column in CSV_COLUMNS])

    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="lockstep-users-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response


def _policy_rules(request: HttpRequest) -> list[str]:
    organization = organizations.get_organization(actor=actor_for(request))
    return describe_policy(passwords.policy_for(organization))


@sensitive_post_parameters()
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
            **sign_in_context(actor, user),
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


@sensitive_post_parameters()
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

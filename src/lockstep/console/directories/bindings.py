"""Bind, unbind, delete and restore accounts from a user's or a group's page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from lockstep.console.access import actor_for
from lockstep.console.directories import context as portal_context
from lockstep.console.directories.access import portal_view
from lockstep.console.directories.forms import (
    BindForm,
    DeleteAccountForm,
)
from lockstep.directory.errors import Conflict, NotFound, ServiceError, ValidationFailed
from lockstep.directory.form_errors import show_service_error
from lockstep.directory.models import User
from lockstep.directory.services import groups as group_service
from lockstep.directory.services import users as user_service
from lockstep.m365.models import UserBinding
from lockstep.m365.services import accounts
from lockstep.m365.services.bindings import (
    bind_group,
    bind_user,
    get_directory,
    unbind_group,
    unbind_user,
)

# --- users and groups: bind, unbind, delete and restore accounts ---------------------------------------


def _back(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    """Back to the page the action was taken on: the user's (group's) own page, where the
    Directories section lives, or the separate directories page (`next=m365`)."""
    if request.POST.get("next") == "m365":
        return redirect(f"directories:{kind}", pk)
    return redirect(f"console:{kind}_detail", pk)


def _user_page(
    request: HttpRequest, user: User, form: BindForm | None = None, status: int = 200
) -> HttpResponse:
    actor = actor_for(request)
    context = {"person": user, **portal_context.user_directories_context(actor, user, form=form)}
    return render(request, "console/directories/user_directories.html", context, status=status)


@portal_view()
def user_directories(request: HttpRequest, user_pk: int) -> HttpResponse:
    user = user_service.get_user(actor=actor_for(request), user_id=user_pk)
    return _user_page(request, user)


@portal_view(post_only=True)
def user_bind(request: HttpRequest, user_pk: int) -> HttpResponse:
    actor = actor_for(request)
    user = user_service.get_user(actor=actor, user_id=user_pk)
    form = portal_context.bind_form(actor, request.POST)
    if not form.is_valid():
        return _user_page(request, user, form, status=422)
    directory = get_directory(actor=actor, directory_id=form.cleaned_data["directory_id"])
    try:
        bind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    except (ValidationFailed, Conflict) as error:
        show_service_error(form, error, {"email": "directory_id"})
        return _user_page(request, user, form, status=409)
    messages.success(
        request, f"{user.username} bound to {directory.name}; the account follows within seconds."
    )
    return _back(request, "user", user.pk)


@portal_view(post_only=True)
def user_unbind(request: HttpRequest, user_pk: int, pk: int) -> HttpResponse:
    actor = actor_for(request)
    user = user_service.get_user(actor=actor, user_id=user_pk)
    directory = get_directory(actor=actor, directory_id=pk)
    unbind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    messages.success(
        request,
        f"{user.username} unbound from {directory.name}: Microsoft 365 sign-in is blocked and sessions revoked.",
    )
    return _back(request, "user", user.pk)


@portal_view(write_page=True)
def user_delete_account(request: HttpRequest, user_pk: int, pk: int) -> HttpResponse:
    actor = actor_for(request)
    user = user_service.get_user(actor=actor, user_id=user_pk)
    directory = get_directory(actor=actor, directory_id=pk)
    binding = UserBinding.objects.filter(directory=directory, user=user, unbound=False).first()
    if binding is None:
        raise NotFound("binding", f"{user.pk}@{directory.pk}")
    form = DeleteAccountForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            deleted = accounts.delete_remote_account(
                actor=actor,
                user_id=user.pk,
                directory_id=directory.pk,
                confirm=bool(form.cleaned_data["confirm"]),
            )
        except (ValidationFailed, Conflict) as error:
            show_service_error(form, error, {"user_id": "confirm"})
        else:
            messages.success(request, deleted.message)
            return redirect("console:user_detail", user.pk)
    context = {
        "person": user,
        "directory": directory,
        "binding": binding,
        "form": form,
        "recycle_days": accounts.RECYCLE_BIN_DAYS,
        "purge_on": timezone.now() + timedelta(days=accounts.RECYCLE_BIN_DAYS),
    }
    status = 200 if request.method != "POST" else 422
    return render(request, "console/directories/delete_account.html", context, status=status)


@portal_view(post_only=True)
def binding_restore(request: HttpRequest, binding_pk: int) -> HttpResponse:
    actor = actor_for(request)
    binding = UserBinding.objects.filter(
        pk=binding_pk, directory__organization_id=actor.organization_id, user__isnull=False
    ).first()
    if binding is None or binding.user_id is None:
        raise NotFound("binding", binding_pk)
    try:
        accounts.restore_remote_account(actor=actor, binding_id=binding.pk)
    except Conflict as conflict:
        messages.error(request, conflict.message)
    else:
        messages.success(request, "The deleted Microsoft 365 account is restored and adopted.")
    return _back(request, "user", binding.user_id)


def _group_page(
    request: HttpRequest, group: Any, form: BindForm | None = None, status: int = 200
) -> HttpResponse:
    actor = actor_for(request)
    context = {"group": group, **portal_context.group_directories_context(actor, group, form=form)}
    return render(request, "console/directories/group_directories.html", context, status=status)


@portal_view()
def group_directories(request: HttpRequest, group_pk: int) -> HttpResponse:
    group = group_service.get_group(actor=actor_for(request), group_id=group_pk)
    return _group_page(request, group)


@portal_view(post_only=True)
def group_bind(request: HttpRequest, group_pk: int) -> HttpResponse:
    actor = actor_for(request)
    group = group_service.get_group(actor=actor, group_id=group_pk)
    form = portal_context.bind_form(actor, request.POST)
    if not form.is_valid():
        return _group_page(request, group, form, status=422)
    directory = get_directory(actor=actor, directory_id=form.cleaned_data["directory_id"])
    try:
        bind_group(actor=actor, group_id=group.pk, directory_id=directory.pk)
    except ServiceError as error:
        show_service_error(form, error)
        return _group_page(request, group, form, status=409)
    messages.success(request, f"{group.name} bound to {directory.name}: it becomes a security group there.")
    return _back(request, "group", group.pk)


@portal_view(post_only=True)
def group_unbind(request: HttpRequest, group_pk: int, pk: int) -> HttpResponse:
    actor = actor_for(request)
    group = group_service.get_group(actor=actor, group_id=group_pk)
    directory = get_directory(actor=actor, directory_id=pk)
    try:
        unbind_group(actor=actor, group_id=group.pk, directory_id=directory.pk)
    except Conflict as conflict:
        messages.error(request, conflict.message)
    else:
        messages.success(
            request,
            f"{group.name} unbound from {directory.name}: the security group stays in Microsoft 365 as it is; "
            "Lockstep no longer changes it.",
        )
    return _back(request, "group", group.pk)

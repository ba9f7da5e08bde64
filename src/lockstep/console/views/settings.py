"""Settings: organization, administrators, API keys, and the signed-in admin's own MFA."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from lockstep.console.access import actor_for, current_admin
from lockstep.console.forms import AdminCreateForm, ApiKeyForm, RoleForm, SettingsForm
from lockstep.directory.errors import Conflict, ValidationFailed
from lockstep.directory.form_errors import show_service_error
from lockstep.directory.models import AdminRole
from lockstep.directory.password_policy import describe_policy
from lockstep.directory.services import admin_recovery, admins, api_keys, organizations, passwords, users_self


def organization_settings(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request)
    organization = organizations.get_organization(actor=actor)
    initial = organizations.settings_of(organization)
    initial["portal_editable_fields"] = users_self.parse_editable(organization.portal_editable_fields)
    form = SettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            organizations.update_settings(actor=actor, changes=dict(form.cleaned_data))
        except ValidationFailed as error:
            show_service_error(form, error, {"password_policy": "password_min_length"})
        else:
            messages.success(request, "Settings saved.")
            return redirect("console:settings")
    if not actor.can_write:
        for field in form.fields.values():
            field.disabled = True
    return render(
        request,
        "console/settings/organization.html",
        {
            "form": form,
            "rules": describe_policy(passwords.policy_for(organization)),
            "me": current_admin(request),
            "recovery_codes_left": admin_recovery.remaining(current_admin(request)),
            "mfa_enabled_now": request.GET.get("mfa") == "enabled",
        },
    )


def administrators(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request)
    form = AdminCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            admin = admins.create_admin(
                organization=organizations.get_organization(actor=actor),
                email=form.cleaned_data["email"],
                name=form.cleaned_data["name"],
                role=form.cleaned_data["role"],
                password=form.cleaned_data["password"],
                actor=actor,
            )
        except (ValidationFailed, Conflict) as error:
            show_service_error(form, error)
        else:
            messages.success(request, f"Administrator {admin.email} added.")
            return redirect("console:administrators")
    return render(
        request,
        "console/settings/administrators.html",
        {
            "admins": admins.list_admins(actor=actor),
            "form": form,
            "roles": AdminRole.choices,
            "is_owner": actor.is_owner,
        },
    )


@require_POST
def administrator_role(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    form = RoleForm(request.POST)
    role = form.cleaned_data["role"] if form.is_valid() else request.POST.get("role", "")
    try:
        admin = admins.set_role(actor=actor, admin_id=pk, role=role)
    except (ValidationFailed, Conflict) as error:
        message = error.message if isinstance(error, Conflict) else str(error)
        return render(
            request,
            "console/message.html",
            {"title": "The role was not changed", "message": message},
            status=409 if isinstance(error, Conflict) else 400,
        )
    messages.success(request, f"{admin.email} is now {AdminRole(admin.role).label.lower()}.")
    return redirect("console:administrators")


def _refused(request: HttpRequest, title: str, error: Conflict) -> HttpResponse:
    """A rule kept the action from happening (the last owner, one's own account): 409, said plainly."""
    return render(request, "console/message.html", {"title": title, "message": error.message}, status=409)


@require_POST
def administrator_active(request: HttpRequest, pk: int) -> HttpResponse:
    """Deactivate (`active=0`) or reactivate (`active=1`) an administrator (owners)."""
    active = request.POST.get("active") == "1"
    try:
        admin = admins.set_active(actor=actor_for(request), admin_id=pk, active=active)
    except Conflict as error:
        return _refused(request, "Nothing was changed", error)
    messages.success(request, f"{admin.email} is {'active again' if active else 'deactivated'}.")
    return redirect("console:administrators")


@require_POST
def administrator_remove(request: HttpRequest, pk: int) -> HttpResponse:
    """Remove an administrator for good; their API keys are revoked (owners)."""
    try:
        email = admins.remove_admin(actor=actor_for(request), admin_id=pk)
    except Conflict as error:
        return _refused(request, "Nothing was removed", error)
    messages.success(request, f"Administrator {email} removed; their API keys are revoked.")
    return redirect("console:administrators")


@never_cache
def api_key_list(request: HttpRequest) -> HttpResponse:
    """List and create; a new key's secret appears once, in the response to the POST."""
    actor = actor_for(request)
    form = ApiKeyForm(request.POST or None)
    status = 200
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            key, secret = api_keys.create_api_key(
                actor=actor,
                name=form.cleaned_data["name"],
                role=form.cleaned_data["role"],
                expires_in_days=form.cleaned_data["expires_in_days"],
            )
        except ValidationFailed as error:
            show_service_error(form, error)
        else:
            created = (key, secret)
            messages.success(request, f"API key {key.name} created: copy it now, it is shown only this once.")
            form = ApiKeyForm()
            status = 201
    response = render(
        request,
        "console/settings/api_keys.html",
        {
            "keys": api_keys.list_api_keys(actor=actor).select_related("created_by"),
            "form": form,
            "created": created,
            "now": timezone.now(),
        },
        status=status,
    )
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def api_key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    key = api_keys.revoke_api_key(actor=actor_for(request), key_id=pk)
    messages.success(request, f"API key {key.name} revoked.")
    return redirect("console:api_keys")

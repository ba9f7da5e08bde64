"""Changing one's password: the current one, the new one twice; it then syncs (SPEC 3)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from lockstep.directory.actors import Actor
from lockstep.directory.errors import ServiceError
from lockstep.directory.password_policy import describe_policy
from lockstep.directory.services import passwords, users
from lockstep.directory.services.passwords import verify_user_password
from lockstep.portal import devices, sessions, throttle
from lockstep.portal.client_address import client_address
from lockstep.portal.forms import PasswordChangeForm
from lockstep.portal.sessions import current_user, portal_login_required


@sensitive_post_parameters()
@never_cache
@portal_login_required
def change_password(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    assert user is not None
    form = PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        lock = throttle.password_check_lock(
            user, address=client_address(request), known_device=devices.is_known(request, user)
        )
        if lock is not None:
            form.add_error("current_password", lock.words)
        elif not verify_user_password(user, form.cleaned_data["current_password"]):
            throttle.record_failure(
                users=[user], address=client_address(request), organization_id=user.organization_id
            )
            form.add_error("current_password", "This is not your current password.")
        else:
            try:
                changed = users.set_password(
                    actor=Actor.for_user(user),
                    user_id=user.pk,
                    password=form.cleaned_data["new_password"],
                    how="change",
                )
            except ServiceError as error:
                form.show_service_error(error, {"password": "new_password"})
            else:
                sessions.refresh_fingerprint(request, changed)  # this session goes on, others end
                messages.success(
                    request,
                    "Your password is changed. It is on its way to Microsoft 365; "
                    "you were signed out everywhere else.",
                )
                return redirect("portal:home")
    return render(
        request,
        "portal/password.html",
        {
            "portal_user": user,
            "form": form,
            "rules": describe_policy(passwords.policy_for(user.organization)),
        },
    )

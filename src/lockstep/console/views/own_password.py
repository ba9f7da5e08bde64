"""An administrator's own password: changed from Settings, and forced after a one-time password
(`must_change_password`, set for the owner that `lockstep run`/`demo` print a password for)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from lockstep.console import throttle
from lockstep.console.access import current_admin, password_step, self_service
from lockstep.console.forms import OwnPasswordForm
from lockstep.directory.errors import ValidationFailed
from lockstep.directory.form_errors import show_service_error
from lockstep.directory.services import admins


@sensitive_post_parameters("current_password", "new_password")
@password_step
@self_service
@never_cache
def own_password(request: HttpRequest) -> HttpResponse:
    admin = current_admin(request)
    forced = admin.must_change_password
    form = OwnPasswordForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        source = throttle.source_of(request)
        if throttle.is_blocked(account=admin.email, source=source, known_browser=False):
            form.add_error(None, throttle.BLOCKED_MESSAGE)
            status = 429
        else:
            try:
                changed = admins.change_own_password(
                    admin=admin,
                    current_password=form.cleaned_data["current_password"],
                    new_password=form.cleaned_data["new_password"],
                )
            except ValidationFailed as failed:
                if "current_password" in failed.errors:
                    throttle.record_failure(account=admin.email, source=source, step="password change")
                show_service_error(form, failed)
            else:
                update_session_auth_hash(request, changed)  # this session goes on; the others end
                messages.success(request, "Your password is changed. Your other sessions have ended.")
                return redirect("console:index" if forced else "console:settings")
    return render(
        request, "console/settings/own_password.html", {"form": form, "forced": forced}, status=status
    )

"""The user's profile: every attribute shown, the ones the organization allows editable."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from lockstep.directory.actors import Actor
from lockstep.directory.errors import ServiceError
from lockstep.directory.models import User
from lockstep.directory.services import users_self
from lockstep.directory.services.passwords import verify_user_password
from lockstep.portal import devices, throttle
from lockstep.portal.client_address import client_address
from lockstep.portal.forms import ALTERNATE_EMAIL, FIELD_LABELS, PortalForm, profile_form
from lockstep.portal.sessions import current_user, portal_login_required


def _alternate_email_refused(
    request: HttpRequest, user: User, form: PortalForm, changes: dict[str, str]
) -> bool:
    """The alternate email receives password resets: a new one needs the current password
    (checked under the sign-in locks), so a borrowed session cannot take the account over."""
    if (
        ALTERNATE_EMAIL not in changes
        or changes[ALTERNATE_EMAIL].strip().lower() == user.alternate_email.lower()
    ):
        return False
    address = client_address(request)
    lock = throttle.password_check_lock(user, address=address, known_device=devices.is_known(request, user))
    if lock is not None:
        form.add_error("current_password", lock.words)
        return True
    if verify_user_password(user, str(form.cleaned_data.get("current_password") or "")):
        return False
    throttle.record_failure(users=[user], address=address, organization_id=user.organization_id)
    form.add_error("current_password", "Enter your current password to change your alternate email.")
    return True


@sensitive_post_parameters("current_password")
@never_cache
@portal_login_required
def profile(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    assert user is not None
    editable = users_self.editable_fields(user)
    form = profile_form(editable, request.POST or None, initial={n: getattr(user, n) for n in editable})
    if request.method == "POST" and editable and form.is_valid():
        changes = {name: form.cleaned_data.get(name, "") for name in editable}
        refused = _alternate_email_refused(request, user, form, changes)
        try:
            if not refused:
                users_self.update_own_profile(actor=Actor.for_user(user), user=user, changes=changes)
        except ServiceError as error:
            form.show_service_error(error)
        else:
            if not refused:
                messages.success(request, "Your profile is saved.")
                return redirect("portal:profile")
    rows = [(FIELD_LABELS[name], getattr(user, name)) for name in FIELD_LABELS if name not in editable]
    return render(
        request,
        "portal/profile.html",
        {"portal_user": user, "form": form, "rows": rows, "editable": editable},
    )

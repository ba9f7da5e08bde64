"""The user's profile: every attribute shown, the ones the organization allows editable."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from lockstep.directory.actors import Actor
from lockstep.directory.errors import ServiceError
from lockstep.directory.services import users_self
from lockstep.portal.forms import FIELD_LABELS, profile_form
from lockstep.portal.sessions import current_user, portal_login_required


@never_cache
@portal_login_required
def profile(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    assert user is not None
    editable = users_self.editable_fields(user)
    form = profile_form(editable, request.POST or None, initial={n: getattr(user, n) for n in editable})
    if request.method == "POST" and editable and form.is_valid():
        changes = {name: form.cleaned_data.get(name, "") for name in editable}
        try:
            users_self.update_own_profile(actor=Actor.for_user(user), user=user, changes=changes)
        except ServiceError as error:
            form.show_service_error(error)
        else:
            messages.success(request, "Your profile is saved.")
            return redirect("portal:profile")
    rows = [(FIELD_LABELS[name], getattr(user, name)) for name in FIELD_LABELS if name not in editable]
    return render(
        request,
        "portal/profile.html",
        {"portal_user": user, "form": form, "rows": rows, "editable": editable},
    )

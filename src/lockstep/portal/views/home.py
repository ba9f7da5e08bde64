"""The User Portal's home page: the first-sync notice, the directories the user is in, links."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from lockstep.m365 import portal_status
from lockstep.portal import recovery
from lockstep.portal.sessions import current_user, portal_login_required
from lockstep.saml.decisions import sign_in_choices


@never_cache
@portal_login_required
def home(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    assert user is not None
    return render(
        request,
        "portal/home.html",
        {
            "portal_user": user,
            "synced_to": portal_status.take_first_sync_notice(user),
            "directories": portal_status.bound_directories(user),
            "saml_choices": sign_in_choices(user),
            "recovery_left": recovery.remaining(user) if user.totp_enabled else None,
        },
    )

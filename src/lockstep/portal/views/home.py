"""The User Portal's home page: who you are and the directories you are in."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from lockstep.portal.sessions import current_user, portal_login_required


@portal_login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/home.html", {"portal_user": current_user(request)})

"""Who is signed in to the Admin Portal, and the markers that say which views need what.

Every console view needs a signed-in administrator who has passed MFA, unless marked:
`public` (the login page), `sign_in_step` (the MFA steps, reachable before `mfa_passed`),
`self_service` (POSTs a read-only administrator may make about their own account),
`write_page` (a form page that only serves a change: a read-only administrator gets 403 even
on GET, so they never see write forms).
`AdminSessionMiddleware` enforces this for every console URL, so no view can forget.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from lockstep.directory.actors import Actor
from lockstep.directory.models import Administrator

MFA_PASSED = "mfa_passed"
PENDING_TOTP_SECRET = "pending_totp_secret"

View = TypeVar("View", bound=Callable[..., Any])


def public(view: View) -> View:
    """Reachable without signing in (the login page)."""
    view.console_public = True  # type: ignore[attr-defined]
    return view


def sign_in_step(view: View) -> View:
    """Reachable after the password but before the second factor."""
    view.console_sign_in_step = True  # type: ignore[attr-defined]
    return view


def password_step(view: View) -> View:
    """Reachable while the administrator must still replace a one-time password."""
    view.console_password_step = True  # type: ignore[attr-defined]
    return view


def self_service(view: View) -> View:
    """A read-only administrator may POST here (it only concerns their own account)."""
    view.console_self_service = True  # type: ignore[attr-defined]
    return view


def write_page(view: View) -> View:
    """A page that exists only to change something (an entry form): read-only admins get 403."""
    view.console_write_page = True  # type: ignore[attr-defined]
    return view


def current_admin(request: HttpRequest) -> Administrator:
    """The signed-in administrator (the middleware guarantees there is one)."""
    admin = request.user
    if not isinstance(admin, Administrator):
        raise RuntimeError("console view reached without a signed-in administrator")
    return admin


def actor_for(request: HttpRequest) -> Actor:
    return Actor.for_admin(current_admin(request))


def forbidden(request: HttpRequest, message: str = "") -> HttpResponse:
    """The 403 page."""
    return render(
        request,
        "console/403.html",
        {"message": message or "Your role does not allow this change."},
        status=403,
    )


def not_found(request: HttpRequest) -> HttpResponse:
    return render(request, "console/404.html", status=404)

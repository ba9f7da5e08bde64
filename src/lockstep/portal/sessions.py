"""User Portal sessions, kept apart from Admin Portal sessions (SPEC 1, 4).

`SplitSessionMiddleware` is Django's session middleware with a second cookie: requests under a
User Portal path read and write the `lockstep_portal` cookie, every other request the Admin
Portal's `sessionid`. A portal sign-in therefore never carries an admin's `_auth_user_id` and an
admin sign-in never carries `portal_user_id`: neither session can act as the other, and
signing out of one leaves the other alone.

A signed-in portal session expires after `PORTAL_IDLE_SECONDS` without a request (sliding:
every request saves it again), and it ends when the user's password or state changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.crypto import constant_time_compare

from lockstep.directory.models import User, UserState

PORTAL_PATHS = ("/portal/", "/saml/")  # the IdP signs users in with the portal's session
PORTAL_USER = "portal_user_id"
PORTAL_FINGERPRINT = "portal_fingerprint"  # changes with the password: other sessions end
PORTAL_MFA = "portal_mfa_passed"


def is_portal_path(path: str) -> bool:
    return path.startswith(PORTAL_PATHS)


class SplitSessionMiddleware(SessionMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        if is_portal_path(request.path):
            request.session = self.SessionStore(request.COOKIES.get(settings.PORTAL_SESSION_COOKIE_NAME))
        else:
            super().process_request(request)

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if not is_portal_path(request.path):
            return super().process_response(request, response)  # type: ignore[no-any-return]
        # Django's code reads and writes settings.SESSION_COOKIE_NAME: let it see the portal
        # cookie under that name, then rename what it wrote.
        admin_name, portal_name = settings.SESSION_COOKIE_NAME, settings.PORTAL_SESSION_COOKIE_NAME
        real = request.COOKIES
        seen = {k: v for k, v in real.items() if k != admin_name}
        if portal_name in real:
            seen[admin_name] = real[portal_name]
        request.COOKIES = seen
        try:
            response = super().process_response(request, response)
        finally:
            request.COOKIES = real
        morsel = response.cookies.pop(admin_name, None)
        if morsel is not None:
            if morsel["max-age"] == 0 or morsel.value == "":
                response.delete_cookie(portal_name, path="/", samesite="Lax")
            else:
                response.set_cookie(
                    portal_name,
                    morsel.value,
                    max_age=morsel["max-age"] or None,
                    expires=morsel["expires"] or None,
                    path="/",
                    secure=bool(settings.SESSION_COOKIE_SECURE),
                    httponly=True,
                    samesite="Lax",
                )
        return response


def fingerprint(user: User) -> str:
    """Changes whenever the password or the state changes, so old sessions end."""
    return hashlib.sha256(f"{user.pk}:{user.password_hash}:{user.state}".encode()).hexdigest()


def sign_in(request: HttpRequest, user: User, *, mfa_passed: bool) -> None:
    """Start a fresh portal session for `user` (a new session key: no fixation)."""
    request.session.cycle_key()
    request.session[PORTAL_USER] = user.pk
    request.session[PORTAL_FINGERPRINT] = fingerprint(user)
    request.session[PORTAL_MFA] = mfa_passed
    request.session.set_expiry(settings.PORTAL_IDLE_SECONDS)


def refresh_fingerprint(request: HttpRequest, user: User) -> None:
    """After the user changed their own password: this session goes on, the others end."""
    request.session.cycle_key()
    request.session[PORTAL_FINGERPRINT] = fingerprint(user)


def sign_out(request: HttpRequest) -> None:
    request.session.flush()


def current_user(request: HttpRequest) -> User | None:
    """The signed-in directory user of this portal request, or None."""
    if hasattr(request, "_portal_user"):
        cached: User | None = request._portal_user
        return cached
    user: User | None = None
    user_id = request.session.get(PORTAL_USER)
    if user_id is not None:
        found = User.objects.select_related("organization").filter(pk=user_id).first()
        if (
            found is not None
            and found.state == UserState.ACTIVE
            and constant_time_compare(str(request.session.get(PORTAL_FINGERPRINT, "")), fingerprint(found))
        ):
            user = found
        else:
            request.session.flush()
    request._portal_user = user  # type: ignore[attr-defined]
    return user


def portal_login_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The view needs a signed-in portal user (else: the portal's sign-in page)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if current_user(request) is None:
            return redirect(f"{settings.PORTAL_LOGIN_PATH}?next={request.path}")
        return view(request, *args, **kwargs)

    return wrapped

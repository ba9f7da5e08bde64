"""The Admin Portal's "known browser" cookie: which administrators completed a sign-in here,
with which password.

Signed (django.core.signing: nobody can forge an entry), HttpOnly, Secure when cookies are,
SameSite=Strict. Each entry is the administrator's id and a short digest of their password
hash and active flag, so a password change or a deactivation makes it worthless. A browser
known to an administrator passes that account's lock and its address's lock (`throttle`):
a guesser on the same network, or behind the same proxy, can slow strangers down but never
lock an administrator out of the browser they already use.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse

from lockstep.directory.models import Administrator
from lockstep.portal.devices import signed_entries

COOKIE = "lockstep_admin_device"
SALT = "lockstep.console.known-device.v1"
MAX_AGE = 180 * 24 * 3600
MAX_ACCOUNTS = 5


def entry(admin: Administrator) -> str:
    digest = hashlib.sha256(f"{admin.pk}:{admin.password}:{admin.is_active}".encode()).hexdigest()
    return f"{admin.pk}:{digest[:16]}"


def known_entries(request: HttpRequest) -> list[str]:
    return signed_entries(request, COOKIE, salt=SALT, max_age=MAX_AGE)


def is_known(request: HttpRequest, admin: Administrator | None) -> bool:
    return admin is not None and entry(admin) in known_entries(request)


def remember(request: HttpRequest, response: HttpResponse, admin: Administrator) -> None:
    """After a completed sign-in (password and, when needed, the code)."""
    prefix = f"{admin.pk}:"
    kept = [e for e in known_entries(request) if not e.startswith(prefix)]
    response.set_cookie(
        COOKIE,
        signing.dumps([entry(admin), *kept][:MAX_ACCOUNTS], salt=SALT),
        max_age=MAX_AGE,
        path="/",
        secure=bool(settings.SESSION_COOKIE_SECURE),
        httponly=True,
        samesite="Strict",
    )

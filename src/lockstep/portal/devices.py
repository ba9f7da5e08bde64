"""The "known device" cookie: which accounts signed in from this browser, with which password.

Signed (django.core.signing, so nobody can forge one), HttpOnly, Secure when the deployment
uses secure cookies, SameSite=Lax, scoped to /portal/. Each entry is the account's id and a
short digest of its session fingerprint (password and state), so a password change or a
suspension makes the entry worthless. A browser known to an account is exempt from that
account's lock and from its address's lock (`throttle`): failures by strangers, even on the same
office network, never lock a person out of their own browser. Only someone who signed in with
the current password holds such an entry.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse

from lockstep.directory.models import User
from lockstep.portal.sessions import fingerprint

COOKIE = "lockstep_portal_device"
SALT = "lockstep.portal.known-device.v2"  # v1 held bare ids: those cookies no longer count
MAX_AGE = 180 * 24 * 3600
MAX_ACCOUNTS = 10  # the most recent accounts this browser signed in to


def entry(user: User) -> str:
    return f"{user.pk}:{fingerprint(user)[:16]}"


def signed_entries(request: HttpRequest, cookie: str, *, salt: str, max_age: int) -> list[str]:
    """The strings of a signed list cookie ([] when absent, forged, expired or malformed).
    The Admin Portal's known-browser cookie (`lockstep.console.devices`) reads the same way."""
    raw = request.COOKIES.get(cookie)
    if not raw:
        return []
    try:
        value = signing.loads(raw, salt=salt, max_age=max_age)
    except signing.BadSignature:
        return []
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, str)]


def known_entries(request: HttpRequest) -> list[str]:
    return signed_entries(request, COOKIE, salt=SALT, max_age=MAX_AGE)


def knows(entries: list[str], user: User) -> bool:
    return entry(user) in entries


def is_known(request: HttpRequest, user: User) -> bool:
    return knows(known_entries(request), user)


def remember(request: HttpRequest, response: HttpResponse, user: User) -> None:
    """After a completed sign-in: this browser now knows `user` with its current password."""
    own = entry(user)
    prefix = f"{user.pk}:"
    kept = [e for e in known_entries(request) if not e.startswith(prefix)]
    response.set_cookie(
        COOKIE,
        signing.dumps([own, *kept][:MAX_ACCOUNTS], salt=SALT),
        max_age=MAX_AGE,
        path="/portal/",
        secure=bool(settings.SESSION_COOKIE_SECURE),
        httponly=True,
        samesite="Lax",
    )

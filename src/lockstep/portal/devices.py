"""The "known device" cookie: which accounts signed in from this browser before.

Signed (django.core.signing, so nobody can forge one), HttpOnly, Secure when the deployment
uses secure cookies, SameSite=Lax, scoped to /portal/. It exempts this browser from an account
lock (`throttle.account_lock`): failures by strangers never lock a person out of their own browser.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse

COOKIE = "lockstep_portal_device"
SALT = "lockstep.portal.known-device"
MAX_AGE = 180 * 24 * 3600
MAX_ACCOUNTS = 10  # the most recent accounts this browser signed in to


def known_user_ids(request: HttpRequest) -> list[int]:
    raw = request.COOKIES.get(COOKIE)
    if not raw:
        return []
    try:
        value = signing.loads(raw, salt=SALT, max_age=MAX_AGE)
    except signing.BadSignature:
        return []
    if not isinstance(value, list):
        return []
    return [int(v) for v in value if isinstance(v, int)]


def is_known(request: HttpRequest, user_id: int) -> bool:
    return user_id in known_user_ids(request)


def remember(request: HttpRequest, response: HttpResponse, user_id: int) -> None:
    """After a completed sign-in: this browser now knows `user_id`."""
    ids = [user_id, *(i for i in known_user_ids(request) if i != user_id)][:MAX_ACCOUNTS]
    response.set_cookie(
        COOKIE,
        signing.dumps(ids, salt=SALT),
        max_age=MAX_AGE,
        path="/portal/",
        secure=bool(settings.SESSION_COOKIE_SECURE),
        httponly=True,
        samesite="Lax",
    )

"""Who is calling: an organization's API key (Bearer) or a signed-in Admin Portal session."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from lockstep.api.errors import CsrfFailed, NotAuthenticated
from lockstep.directory.actors import Actor
from lockstep.directory.models import Administrator
from lockstep.directory.services import api_keys


class ApiKeyAuth(HttpBearer):
    """`Authorization: Bearer lsk_...`: a key scoped to one organization."""

    def __call__(self, request: HttpRequest) -> Actor | None:
        header = request.headers.get(self.header)
        if not header:
            return None  # let the session scheme try
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated("The Authorization header must be 'Bearer <key>'.")
        return self.authenticate(request, token.strip())

    def authenticate(self, request: HttpRequest, token: str) -> Actor:
        key = api_keys.authenticate(token)
        if key is None:
            raise NotAuthenticated("This API key is not valid (unknown or revoked).")
        return Actor.for_api_key(key)


class AdminSessionAuth(APIKeyCookie):
    """A signed-in Admin Portal session that passed MFA; writes need the CSRF token."""

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self) -> None:
        super().__init__(csrf=True)

    def _get_key(self, request: HttpRequest) -> str | None:
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request: HttpRequest, key: str | None) -> Actor | None:
        admin: Any = getattr(request, "user", None)
        if not key or not isinstance(admin, Administrator) or not admin.is_active:
            return None
        if not request.session.get("mfa_passed"):
            raise NotAuthenticated("This Admin Portal session has not completed sign-in (MFA).")
        if not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request) is not None:
            raise CsrfFailed()
        return Actor.for_admin(admin)


def actor_of(request: HttpRequest) -> Actor:
    """The Actor that authentication attached to this request."""
    actor = getattr(request, "auth", None)
    if not isinstance(actor, Actor):
        raise NotAuthenticated()
    return actor


def writer(request: HttpRequest) -> Actor:
    """The caller, who must be allowed to write (checked before anything else is looked at)."""
    actor = actor_of(request)
    actor.require_write()
    return actor


AUTH = [ApiKeyAuth(), AdminSessionAuth()]

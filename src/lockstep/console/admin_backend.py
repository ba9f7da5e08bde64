"""Admin Portal sign-in by email and password when one email may administer several organizations.

An administrator's email is unique per organization only, so that adding an administrator
never reveals whether the address administers another organization. Signing in checks the
password against every active administrator with that email: exactly one fits, it is the one;
several fit (the same person, the same password in two organizations), the sign-in page asks
which organization, listing only those whose password was just proven; none fits, the usual
"not right". When no administrator has the email, a password is still hashed once so the
answer takes as long as a wrong password.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import BaseBackend
from django.http import HttpRequest

from lockstep.directory.models import Administrator

CHOICES_ATTRIBUTE = "lockstep_admin_choices"


def matching_admins(email: str, password: str, organization: str = "") -> list[Administrator]:
    """The active administrators with this email whose password it is (of one organization, by slug)."""
    candidates = Administrator.objects.filter(email__iexact=email.strip(), is_active=True).select_related(
        "organization"
    )
    if organization:
        candidates = candidates.filter(organization__slug=organization)
    found = list(candidates.order_by("organization__name", "pk"))
    if not found:
        Administrator().set_password(password)  # the same work as a wrong password
        return []
    return [admin for admin in found if admin.check_password(password)]


class AdminBackend(BaseBackend):
    def authenticate(  # type: ignore[override]
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        organization: str = "",
        **kwargs: Any,
    ) -> Administrator | None:
        if not username or password is None:
            return None
        matches = matching_admins(username, password, organization)
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1 and request is not None:
            setattr(request, CHOICES_ATTRIBUTE, matches)
        return None

    def get_user(self, user_id: int) -> Administrator | None:
        return Administrator.objects.filter(pk=user_id, is_active=True).first()

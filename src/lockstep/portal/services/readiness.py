"""Can a user sign in to the User Portal yet, and if not, why (Admin Portal, API)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.utils import timezone

from lockstep.directory.models import User, UserState
from lockstep.portal.models import SignInThrottle, ThrottleScope

YES = "Yes."


def _words(user: User, locked_until: datetime | None) -> tuple[bool, str]:
    if user.state == UserState.STAGED:
        return False, "No, because the user is staged: activate the user first."
    if user.state == UserState.SUSPENDED:
        return False, "No, because the user is suspended."
    if not user.password_hash:
        return False, "No, because the user has no password yet: send the activation email or set one."
    if locked_until is not None:
        return False, (
            f"No, because sign-in is locked after failed attempts until {locked_until:%Y-%m-%d %H:%M} UTC "
            "(an administrator can clear the lock)."
        )
    return True, YES


def locks_of(user_ids: Sequence[int]) -> dict[int, datetime]:
    """Each user's current account lock (one query for all of them)."""
    rows = SignInThrottle.objects.filter(
        scope=ThrottleScope.ACCOUNT, key__in=[str(i) for i in user_ids], locked_until__gt=timezone.now()
    ).values_list("key", "locked_until")
    return {int(key): until for key, until in rows if until is not None}


def can_sign_in(user: User) -> tuple[bool, str]:
    """(True, "Yes.") or (False, words saying why not): active, has a password, not locked."""
    return _words(user, locks_of([user.pk]).get(user.pk))


def for_users(users: Sequence[User]) -> dict[int, tuple[bool, str]]:
    """`can_sign_in` for a page of users in one query."""
    locks = locks_of([user.pk for user in users])
    return {user.pk: _words(user, locks.get(user.pk)) for user in users}

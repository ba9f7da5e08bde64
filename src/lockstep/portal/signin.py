"""Checking a User Portal sign-in: who the login names, whether they may try, the password.

The same words answer an unknown login, a wrong password, and an account that cannot sign in
(staged, suspended, without a password): nothing tells whether an account exists. The work is
the same too: with no account to check, a dummy Argon2 hash is verified instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache

from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.db.models import Q

from lockstep.directory import events
from lockstep.directory.models import Organization, User, UserState
from lockstep.directory.services.passwords import verify_user_password
from lockstep.portal import devices, throttle

FAILED_WORDS = "The username, email or password is not right."
CHOOSE_ORGANIZATION_WORDS = "This sign-in belongs to more than one organization: choose yours."


class Outcome(Enum):
    SIGNED_IN = "signed_in"  # password right (the TOTP step may follow)
    FAILED = "failed"
    LOCKED = "locked"
    CHOOSE_ORGANIZATION = "choose_organization"


@dataclass
class Attempt:
    outcome: Outcome
    words: str = ""
    user: User | None = None
    organizations: list[Organization] = field(default_factory=list)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return make_password("lockstep-no-such-account")


def _spend_one_check(password: str) -> None:
    check_password(password, _dummy_hash())


def candidates(login: str, organization_slug: str = "") -> list[User]:
    """Users whose username (any case) or company email is `login`, in the organization given."""
    login = login.strip()
    if not login:
        return []
    found = User.objects.select_related("organization").filter(
        Q(username__iexact=login) | Q(email=login.lower())
    )
    if organization_slug:
        found = found.filter(organization__slug=organization_slug)
    return list(found.order_by("organization_id", "pk"))


def authenticate(
    *, login: str, password: str, organization_slug: str, address: str, known_devices: list[str]
) -> Attempt:
    """One sign-in attempt; on a right password `password_presented` is sent (takeover).

    A locked address refuses every attempt except for the accounts this browser is known to
    with their current password (`devices`): only those are tried then."""
    found = candidates(login, organization_slug)
    locked = throttle.source_lock(address)
    if locked is not None:
        found = [u for u in found if devices.knows(known_devices, u)]
        if not found:
            return Attempt(Outcome.LOCKED, locked.words)
    eligible = [u for u in found if u.state == UserState.ACTIVE and u.has_password]
    trying: list[User] = []
    lock_words = ""
    for user in eligible:
        account_locked = throttle.account_lock(user, known_device=devices.knows(known_devices, user))
        if account_locked is None:
            trying.append(user)
        else:
            lock_words = account_locked.words
    if not trying:
        _spend_one_check(password)
        organization_id = found[0].organization_id if len({u.organization_id for u in found}) == 1 else None
        # Every refused attempt counts against the address, a locked account's too.
        throttle.record_failure(users=[], address=address, organization_id=organization_id)
        if lock_words:
            return Attempt(Outcome.LOCKED, lock_words)
        phantom = throttle.phantom_lock(login=login)
        if phantom is not None:  # as locked as a real account would be: nothing to learn
            return Attempt(Outcome.LOCKED, phantom.words)
        throttle.phantom_failure(login=login)
        return Attempt(Outcome.FAILED, FAILED_WORDS)
    matches = [user for user in trying if verify_user_password(user, password)]
    if not matches:
        throttle.record_failure(users=trying, address=address, organization_id=None)
        throttle.phantom_failure(login=login)
        return Attempt(Outcome.FAILED, FAILED_WORDS)
    if len(matches) > 1:
        return Attempt(
            Outcome.CHOOSE_ORGANIZATION,
            CHOOSE_ORGANIZATION_WORDS,
            organizations=[user.organization for user in matches],
        )
    user = matches[0]
    if not user.totp_enabled:  # else only once the second factor passed (views.auth._finish)
        present_password(user, password)
    return Attempt(Outcome.SIGNED_IN, user=user)


def present_password(user: User, password: str) -> None:
    """The sign-in is complete: Microsoft 365 may get the password (SPEC 3, takeover)."""
    with transaction.atomic():
        events.emit(
            events.password_presented,
            organization_id=user.organization_id,
            user_id=user.pk,
            password=password,
        )

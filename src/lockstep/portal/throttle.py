"""User Portal sign-in throttling (SPEC 4), kept in the database (`SignInThrottle`), so every
web process and thread shares the counters.

- Per client address (`source`): SOURCE_LIMIT failures within WINDOW lock the address for
  LOCK; nothing is checked from a locked address.
- Per account: ACCOUNT_LIMIT failures within WINDOW lock the account for LOCK, but only for
  browsers that never signed in to it. A browser that did carries a signed "known device"
  cookie (`lockstep.portal.devices`) and is exempt from the account lock (never from the source
  lock): an attacker can lock an account for strangers, never its owner out of their own browser.
- A successful sign-in resets the account's counter. Admins see the locks and may clear them.
- An IPv6 client is counted by its /64 network: one host holds a whole /64 and may pick any
  address in it, so counting single addresses would let it dodge the address lock.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from lockstep.directory import audit
from lockstep.directory.actors import Actor
from lockstep.directory.errors import NotFound
from lockstep.directory.models import User
from lockstep.portal.models import SignInThrottle, ThrottleScope

WINDOW = timedelta(minutes=15)
LOCK = timedelta(minutes=15)
ACCOUNT_LIMIT = 5  # failed passwords or codes for one account within WINDOW
SOURCE_LIMIT = 20  # failed attempts from one address within WINDOW, whatever the account


@dataclass(frozen=True)
class Locked:
    scope: str
    until: datetime

    @property
    def words(self) -> str:
        minutes = max(1, int((self.until - timezone.now()).total_seconds() + 59) // 60)
        if self.scope == ThrottleScope.SOURCE:
            return (
                "Too many failed sign-in attempts came from your network. "
                f"Wait {minutes} minutes and try again, or ask your administrator to clear the lock."
            )
        return (
            "This account is locked after too many failed sign-in attempts. "
            f"Wait {minutes} minutes and try again, or ask your administrator to clear the lock."
        )


def source_key(address: str) -> str:
    """What an address is counted as: an IPv4 address itself, an IPv6 address its /64."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:100]
    if parsed.version == 6 and parsed.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed.ipv4_mapped or parsed) if parsed.version == 6 else str(parsed)


def _active_lock(scope: str, key: str) -> datetime | None:
    row = SignInThrottle.objects.filter(scope=scope, key=key).only("locked_until").first()
    if row is not None and row.locked_until is not None and row.locked_until > timezone.now():
        return row.locked_until
    return None


def locked_until(user: User) -> datetime | None:
    """The account's lock, if any (shown in the Admin Portal)."""
    return _active_lock(ThrottleScope.ACCOUNT, str(user.pk))


def source_lock(address: str) -> Locked | None:
    until = _active_lock(ThrottleScope.SOURCE, source_key(address))
    return Locked(ThrottleScope.SOURCE, until) if until else None


def account_lock(user: User, *, known_device: bool) -> Locked | None:
    """The account's lock as this browser meets it: none for a browser known to the account."""
    if known_device:
        return None
    until = locked_until(user)
    return Locked(ThrottleScope.ACCOUNT, until) if until else None


def password_check_lock(user: User, *, address: str, known_device: bool) -> Locked | None:
    """The lock a signed-in page's password check (change password, turn off two-step
    verification) obeys: the same as signing in, so a stolen session cannot guess on."""
    if known_device:
        return None
    return source_lock(address) or account_lock(user, known_device=False)


def _bump(*, scope: str, key: str, label: str, organization_id: int | None, limit: int) -> None:
    now = timezone.now()
    with transaction.atomic():
        row, _created = SignInThrottle.objects.select_for_update().get_or_create(
            scope=scope,
            key=key,
            defaults={"label": label, "organization_id": organization_id, "window_started_at": now},
        )
        if row.window_started_at <= now - WINDOW and not (row.locked_until and row.locked_until > now):
            row.failures = 0
            row.window_started_at = now
        row.failures += 1
        row.last_failure_at = now
        row.label = label or row.label
        if organization_id is not None:
            row.organization_id = organization_id
        if row.failures >= limit:
            row.locked_until = now + LOCK
        row.save()


def prune() -> int:
    """Forget counters that can no longer matter (window and lock long over); keeps the table small."""
    stale = timezone.now() - WINDOW - LOCK
    deleted, _ = SignInThrottle.objects.filter(last_failure_at__lt=stale).delete()
    return deleted


def record_failure(*, users: list[User], address: str, organization_id: int | None) -> None:
    """A wrong password or code: one failure for the address and for each account it tried."""
    prune()
    for user in users:
        _bump(
            scope=ThrottleScope.ACCOUNT,
            key=str(user.pk),
            label=user.username,
            organization_id=user.organization_id,
            limit=ACCOUNT_LIMIT,
        )
    if organization_id is None and len({u.organization_id for u in users}) == 1:
        organization_id = users[0].organization_id
    key = source_key(address)
    _bump(
        scope=ThrottleScope.SOURCE,
        key=key,
        label=key,
        organization_id=organization_id,
        limit=SOURCE_LIMIT,
    )


def record_success(user: User) -> None:
    """A completed sign-in resets the account's counter (never the address's)."""
    SignInThrottle.objects.filter(scope=ThrottleScope.ACCOUNT, key=str(user.pk)).delete()


def _phantom_key(login: str) -> str:
    digest = hashlib.sha256(login.strip().lower().encode()).hexdigest()
    return f"lockstep:portal-phantom:{digest}"


def phantom_failure(*, login: str) -> Locked | None:
    """Every failed attempt also counts against the login as typed, so a login that names no
    account able to sign in "locks" after as many failures as a real one and the answers tell
    nothing (the count is consulted only when no such account is found). Kept in the cache:
    there is no account for an administrator to clear."""
    key = _phantom_key(login)
    now = timezone.now()
    failures, until = cache.get(key, (0, None))
    if until is not None and until > now:
        return Locked(ThrottleScope.ACCOUNT, until)
    failures += 1
    until = now + LOCK if failures >= ACCOUNT_LIMIT else None
    cache.set(key, (0 if until else failures, until), int((LOCK if until else WINDOW).total_seconds()))
    return None


def phantom_lock(*, login: str) -> Locked | None:
    _failures, until = cache.get(_phantom_key(login), (0, None))
    return Locked(ThrottleScope.ACCOUNT, until) if until is not None and until > timezone.now() else None


def visible_to(actor: Actor) -> QuerySet[SignInThrottle]:
    """The throttle rows an organization's administrators see: their users' accounts, and
    addresses whose failures were aimed at their organization (or at no known one)."""
    return SignInThrottle.objects.filter(
        Q(organization_id=actor.organization_id) | Q(scope=ThrottleScope.SOURCE, organization__isnull=True)
    )


def current_locks(*, actor: Actor) -> QuerySet[SignInThrottle]:
    return visible_to(actor).filter(locked_until__gt=timezone.now()).order_by("-locked_until", "-id")


@transaction.atomic
def clear(*, actor: Actor, throttle_id: int) -> None:
    """Release a lock (and forget its failures); audited."""
    actor.require_write()
    row = visible_to(actor).select_for_update().filter(pk=throttle_id).first()
    if row is None:
        raise NotFound("sign_in_lock", throttle_id)
    audit.record(
        actor=actor,
        action="portal.clear_sign_in_lock",
        target_type="user" if row.scope == ThrottleScope.ACCOUNT else "address",
        target_id=row.key,
        target_label=row.label,
        before={
            "scope": row.scope,
            "failures": row.failures,
            "locked_until": row.locked_until.isoformat() if row.locked_until else None,
        },
    )
    row.delete()

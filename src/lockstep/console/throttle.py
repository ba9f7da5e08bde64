"""Admin Portal sign-in throttle: failed attempts counted per email as typed and per client
address, in the database (`AdminSignInThrottle`), so every web process and thread shares them.

- ACCOUNT_LIMIT failures for one email within WINDOW lock that email for LOCK; unknown emails
  count exactly like real ones, so the answers reveal nothing.
- SOURCE_LIMIT failures from one client address (IPv6: its /64) within WINDOW lock the address.
- The address is the real client's: behind LOCKSTEP_TRUSTED_PROXIES the X-Forwarded-For hop
  before the proxies (`lockstep.portal.client_address`), never a header a client wrote itself.
- A browser known to the administrator (`devices`: it completed a sign-in with the current
  password) passes both locks for that administrator. So one source spraying wrong passwords,
  or a whole office behind one proxy, cannot lock an owner out of the browser they use.
- A completed sign-in clears the email's counter, never the address's.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from lockstep.directory.models import AdminSignInThrottle, AdminThrottleScope
from lockstep.portal.client_address import client_address
from lockstep.portal.throttle import source_key

logger = logging.getLogger(__name__)

WINDOW = timedelta(minutes=15)
LOCK = timedelta(minutes=15)
WINDOW_SECONDS = int(WINDOW.total_seconds())
ACCOUNT_LIMIT = 5  # failed passwords or codes for one email within WINDOW
SOURCE_LIMIT = 20  # failed attempts from one address within WINDOW, whatever the email


def source_of(request: HttpRequest) -> str:
    return source_key(client_address(request))


def _account_key(account: str) -> str:
    return account.strip().lower()[:254]


def _locked(scope: str, key: str) -> bool:
    row = AdminSignInThrottle.objects.filter(scope=scope, key=key).only("locked_until").first()
    return row is not None and row.locked_until is not None and row.locked_until > timezone.now()


def is_blocked(*, account: str, source: str, known_browser: bool = False) -> bool:
    """True when the email or the address is locked for this browser; the password is then
    not even checked."""
    if known_browser:
        return False
    return _locked(AdminThrottleScope.ACCOUNT, _account_key(account)) or _locked(
        AdminThrottleScope.SOURCE, source
    )


def _bump(scope: str, key: str, limit: int) -> None:
    now = timezone.now()
    with transaction.atomic():
        row, _ = AdminSignInThrottle.objects.select_for_update().get_or_create(
            scope=scope, key=key, defaults={"window_started_at": now}
        )
        if row.window_started_at <= now - WINDOW and not (row.locked_until and row.locked_until > now):
            row.failures = 0
            row.window_started_at = now
        row.failures += 1
        row.last_failure_at = now
        if row.failures >= limit:
            row.locked_until = now + LOCK
        row.save()


def prune() -> int:
    """Forget counters that can no longer matter (window and lock long over)."""
    stale = timezone.now() - WINDOW - LOCK
    deleted, _ = AdminSignInThrottle.objects.filter(last_failure_at__lt=stale).delete()
    return deleted


def record_failure(*, account: str, source: str, step: str) -> None:
    prune()
    _bump(AdminThrottleScope.ACCOUNT, _account_key(account), ACCOUNT_LIMIT)
    _bump(AdminThrottleScope.SOURCE, source, SOURCE_LIMIT)
    logger.warning("admin sign-in failed at the %s step from %s", step, source)


def record_success(*, account: str) -> None:
    """A completed sign-in clears the email's counter (not the address's)."""
    AdminSignInThrottle.objects.filter(scope=AdminThrottleScope.ACCOUNT, key=_account_key(account)).delete()


BLOCKED_MESSAGE = (
    f"Too many failed sign-in attempts. Wait {WINDOW_SECONDS // 60} minutes before trying again."
)

"""Sign-in brute-force throttle: failed attempts counted per account and per source address.

Counters live in Django's cache under fixed windows. The default cache (LocMemCache) is per
process: right for `lockstep run` (one web process, many threads). A deployment with several
web processes should configure a shared cache (database or Redis cache backend) so the
counters are shared; nothing else changes. The source is REMOTE_ADDR: Lockstep does not trust
X-Forwarded-For (a proxy in front must set REMOTE_ADDR, e.g. through its WSGI server).
"""

from __future__ import annotations

import hashlib
import logging

from django.core.cache import cache
from django.http import HttpRequest

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 15 * 60
ACCOUNT_LIMIT = 5  # failed passwords or codes for one account per window
SOURCE_LIMIT = 20  # failed attempts from one address per window, whatever the account


def _key(kind: str, value: str) -> str:
    return f"lockstep:console-throttle:{kind}:{hashlib.sha256(value.strip().lower().encode()).hexdigest()}"


def source_of(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def is_blocked(*, account: str, source: str) -> bool:
    """True when either counter reached its limit; the password is then not even checked."""
    return (
        int(cache.get(_key("account", account), 0)) >= ACCOUNT_LIMIT
        or int(cache.get(_key("source", source), 0)) >= SOURCE_LIMIT
    )


def _bump(key: str) -> None:
    if not cache.add(key, 1, WINDOW_SECONDS):
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, WINDOW_SECONDS)


def record_failure(*, account: str, source: str, step: str) -> None:
    _bump(_key("account", account))
    _bump(_key("source", source))
    logger.warning("admin sign-in failed at the %s step from %s", step, source)


def record_success(*, account: str) -> None:
    """A successful sign-in clears the account's counter (not the source's)."""
    cache.delete(_key("account", account))


BLOCKED_MESSAGE = (
    f"Too many failed sign-in attempts. Wait {WINDOW_SECONDS // 60} minutes before trying again."
)

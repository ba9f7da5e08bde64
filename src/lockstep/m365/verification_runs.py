"""Directory verifications off the web threads: short timeouts, a bounded wait, a per-organization limit.

A verification reads Microsoft 365 (a token, the app's roles, the domains) at endpoints an
administrator chose, and Microsoft can be slow, so no web request waits on it unbounded:

* the Microsoft reads run on a small pool of background threads, every request with a short
  timeout (`LOCKSTEP_VERIFY_TIMEOUT_SECONDS`) and at most one quick retry;
* the caller waits at most `LOCKSTEP_VERIFY_WAIT_SECONDS`; past that it hears "still running" and
  the pool thread stores the result (report, domains, health, audit) when Microsoft answers;
* an organization has at most `LOCKSTEP_VERIFY_PER_ORGANIZATION` verifications running, counted
  in the database (`Directory.verification_started_at`) so that every web process sees them; a
  second request for a directory already being verified joins that run instead of starting one.

A run whose process died is forgotten after `STALE_AFTER`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from lockstep.directory.errors import TooBusy
from lockstep.directory.models import Organization
from lockstep.m365.graph.auth import LOGIN_TIMEOUT
from lockstep.m365.graph.client import GraphClient
from lockstep.m365.graph.connection import DirectoryConnection
from lockstep.m365.graph.transport import RetryPolicy
from lockstep.m365.models import Directory
from lockstep.m365.verification import VerificationReport, verify

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(minutes=2)
POOL_THREADS = 4
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=POOL_THREADS, thread_name_prefix="lockstep-verify")
        return _pool


@dataclass(frozen=True)
class Inputs:
    """What a run needs from the database, read by the caller before the background part."""

    connection: DirectoryConnection
    client_id: str
    consent_at: datetime | None


# (directory, report) -> None: stores the report; runs in the caller or, late, in a pool thread
Store = Callable[[Directory, VerificationReport], None]


def read_microsoft(inputs: Inputs) -> VerificationReport:
    """The Microsoft reads of a verification: short timeouts, one quick retry, no database."""
    timeout = settings.M365_VERIFY_TIMEOUT_SECONDS
    short_logins = LOGIN_TIMEOUT.set(timeout)  # this pool thread's token requests
    try:
        with GraphClient(
            inputs.connection,
            timeout=httpx.Timeout(timeout),
            retry=RetryPolicy(max_attempts=2, max_delay=1.0, max_retry_after=2.0),
        ) as client:
            return verify(client, inputs.client_id, consent_granted_at=inputs.consent_at)
    finally:
        LOGIN_TIMEOUT.reset(short_logins)


def reserve(directory: Directory) -> bool:
    """Mark the directory's verification as running; False when one already runs (join it).

    Raises `TooBusy` when the organization already runs its limit of verifications.
    """
    now = timezone.now()
    fresh = now - STALE_AFTER
    limit = settings.M365_VERIFY_PER_ORGANIZATION
    with transaction.atomic():
        # serialises the count-then-mark of one organization's web processes (PostgreSQL)
        Organization.objects.select_for_update().filter(pk=directory.organization_id).first()
        running = Directory.objects.filter(
            organization_id=directory.organization_id, verification_started_at__gt=fresh
        )
        if running.filter(pk=directory.pk).exists():
            return False
        if running.count() >= limit:
            raise TooBusy(
                "directory_id",
                f"This organization already has {limit} directory verifications running "
                "(LOCKSTEP_VERIFY_PER_ORGANIZATION); try again when one has finished.",
            )
        Directory.objects.filter(pk=directory.pk).update(verification_started_at=now)
    directory.verification_started_at = now
    return True


def release(directory_id: int) -> None:
    Directory.objects.filter(pk=directory_id).update(verification_started_at=None)


def is_running(directory: Directory) -> bool:
    started = directory.verification_started_at
    return started is not None and started > timezone.now() - STALE_AFTER


def run(
    directory: Directory, inputs: Inputs, store: Store, *, late: Store, wait: float | None
) -> VerificationReport | None:
    """Verify `directory`; the report, or None when the run goes on in the background.

    `store` keeps a report that came within `wait` seconds (None: wait until the run ends, for
    the CLI); `late` keeps one that came after, in the pool thread. A Graph error of the run is
    raised to the caller when it comes within the wait.
    """
    if not reserve(directory):
        return None
    future = _executor().submit(read_microsoft, inputs)
    try:
        report = future.result(timeout=wait)
    except FutureTimeout:
        future.add_done_callback(lambda done: _store_late(directory.pk, done, late))
        return None
    except BaseException:
        release(directory.pk)
        raise
    try:
        store(directory, report)
    finally:
        release(directory.pk)
        directory.verification_started_at = None
    return report


def _store_late(directory_id: int, done: Future[VerificationReport], store: Store) -> None:
    """In the pool thread, once Microsoft answered (or the short timeouts ran out)."""
    close_old_connections()
    try:
        directory = Directory.objects.filter(pk=directory_id).first()
        if directory is None:
            return
        try:
            report = done.result()
        except Exception as error:  # a Graph failure the caller no longer waits for
            words = getattr(error, "plain_words", "") or str(error)
            report = VerificationReport(token_error=words, problems=[f"Verification failed: {words}"])
        store(directory, report)
    except Exception:
        log.exception("could not store the verification of directory %s", directory_id)
    finally:
        try:
            release(directory_id)
        finally:
            connection.close()

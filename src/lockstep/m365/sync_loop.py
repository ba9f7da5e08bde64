"""The sync loop: runs user and group passes for every active directory, woken by changes.

Each worker process runs one loop (a thread beside the task worker). It offers every active
directory to its sync threads (`sync_threads`) whenever woken — `wakeup.notify()` (same
process) or every `wakeup.POLL_SECONDS` (other processes' changes) — and keeps one long-lived
Graph client per directory. A thread runs one round of a directory (`run_directory`: a chunk
of its user pass and of its group pass, its restore pass, its drift round when due), so
directories take turns and each goes at its own tenant's pace. `run_once` is the same work
done in the calling thread, one directory after another, up to `ROUND_LIMIT` bindings each.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from lockstep.m365 import drift, import_restore, reachability, startup_check, wakeup
from lockstep.m365.budget import BudgetLimits, DatabaseBudget
from lockstep.m365.credentials import connection_for
from lockstep.m365.engine import run_user_pass
from lockstep.m365.graph.client import GraphClient
from lockstep.m365.graph_port import GraphClientPort
from lockstep.m365.group_engine import run_group_pass
from lockstep.m365.models import Directory, GroupBinding, Health, UserBinding
from lockstep.m365.sync_pass import CLAIM_LIMIT, GROUP_CLAIM_LIMIT, PassResult
from lockstep.m365.sync_threads import DirectoryThreads, SyncStopped

log = logging.getLogger(__name__)


class PortCache:
    """One Graph client per directory, rebuilt when its credential or endpoints change.

    Its clients' budget waits end early with `SyncStopped` once `interrupt()` is called, so a
    stopping worker does not sit out a tenant's long Retry-After; `close()` ends that.
    """

    def __init__(self, limits: BudgetLimits | None = None) -> None:
        self._ports: dict[int, tuple[tuple[str, ...], GraphClientPort]] = {}
        self._lock = threading.Lock()
        self._limits = limits
        self._interrupted = threading.Event()

    def interrupt(self) -> None:
        self._interrupted.set()

    def _budget_sleep(self, seconds: float) -> None:
        if self._interrupted.wait(seconds):
            raise SyncStopped()

    @staticmethod
    def _fingerprint(directory: Directory) -> tuple[str, ...]:
        return (
            directory.tenant_id,
            directory.client_id,
            directory.client_secret_encrypted,
            directory.private_key_encrypted,
            directory.cloud,
            directory.login_base_url,
            directory.graph_base_url,
        )

    def port_for(self, directory: Directory) -> GraphClientPort:
        fingerprint = self._fingerprint(directory)
        with self._lock:
            cached = self._ports.get(directory.pk)
            if cached and cached[0] == fingerprint:
                return cached[1]
            if cached:
                cached[1].client.close()
            budget = DatabaseBudget(directory.tenant_id, self._limits, sleep=self._budget_sleep)
            client = GraphClient(connection_for(directory), rate_limiter=budget)
            port = GraphClientPort(client)
            self._ports[directory.pk] = (fingerprint, port)
            return port

    def forget(self, directory_id: int) -> None:
        """Close and drop a directory's client (deactivated directories)."""
        with self._lock:
            cached = self._ports.pop(directory_id, None)
        if cached:
            cached[1].client.close()

    def close(self) -> None:
        with self._lock:
            for _, port in self._ports.values():
                port.client.close()
            self._ports.clear()
        self._interrupted.clear()


PORTS = PortCache()


def active_directories_query() -> QuerySet[Directory]:
    return Directory.objects.filter(sync_enabled=True).exclude(health=Health.RED).order_by("id")


def active_directories() -> list[Directory]:
    return list(active_directories_query())


def drift_interval() -> float:
    """Seconds between two drift (delta) rounds of one directory: `M365_DRIFT_SECONDS`, default 60."""
    return float(getattr(settings, "M365_DRIFT_SECONDS", 60))


# While a directory's own writes are queued, drift waits (reading back writes still in flight
# costs Graph requests and finds nothing to correct), but never longer than this many intervals.
DRIFT_DEFERRAL_LIMIT = 10


def claim_drift(directory: Directory, *, busy: bool = False) -> bool:
    """Take this directory's drift round if it is due; one worker wins (a conditional update).

    `busy`: the directory still has queued writes; the round then waits until the queue is
    drained, or until it is `DRIFT_DEFERRAL_LIMIT` intervals overdue.
    """
    now = timezone.now()
    if busy:
        cutoff = now - timedelta(seconds=drift_interval() * DRIFT_DEFERRAL_LIMIT)
        due = Q(drift_checked_at__isnull=True, created_at__lte=cutoff) | Q(drift_checked_at__lte=cutoff)
    else:
        cutoff = now - timedelta(seconds=drift_interval())
        due = Q(drift_checked_at__isnull=True) | Q(drift_checked_at__lte=cutoff)
    return bool(Directory.objects.filter(due, pk=directory.pk).update(drift_checked_at=now))


# Bindings of each kind (users, groups) one directory's round handles at most in `run_once`.
ROUND_LIMIT = 500


def run_directory(directory: Directory, ports: PortCache, *, worker: str, limit: int = 0) -> int:
    """One round of one directory; returns how many bindings were handled.

    Its user pass, then its group pass, in chunks (`CLAIM_LIMIT`, `GROUP_CLAIM_LIMIT`) until
    `limit` bindings of each kind (0: one chunk each), the queue runs dry or the directory
    pauses; then its restore pass and, when due (`drift_interval`), its drift round.
    """
    before: dict[str, float] | None = None
    handled = 0
    try:
        port = ports.port_for(directory)
        before = port.client.stats.snapshot()
        users = _chunks(run_user_pass, directory, port, worker, CLAIM_LIMIT, limit)
        groups = _chunks(run_group_pass, directory, port, worker, GROUP_CLAIM_LIMIT, limit)
        claimed = users.claimed + groups.claimed
        handled += claimed
        if not (users.paused or groups.paused):  # an undone import's old values, put back
            handled += import_restore.run_restore_pass(directory, port)
        if not (users.paused or groups.paused) and claim_drift(directory, busy=claimed > 0):
            drift.run_drift(directory, port.client)
    except Exception:
        log.exception("sync pass for directory %s failed", directory.pk)
    finally:
        if before is not None:
            _record_reachability(directory, before, port.client.stats.snapshot())
    return handled


def _chunks(
    run_pass: Callable[..., PassResult],
    directory: Directory,
    port: GraphClientPort,
    worker: str,
    chunk: int,
    limit: int,
) -> PassResult:
    """Chunks of one pass until `limit` bindings (at least one chunk), a short chunk or a pause."""
    total = PassResult()
    while True:
        result = run_pass(directory, port, worker=worker)
        total.claimed += result.claimed
        total.paused = result.paused
        if result.paused or result.claimed < chunk or total.claimed >= limit:
            return total


def run_once(*, worker: str = "worker", ports: PortCache = PORTS) -> int:
    """One round over every active directory, one after another; returns how many bindings were handled."""
    return sum(
        run_directory(directory, ports, worker=worker, limit=ROUND_LIMIT)
        for directory in active_directories()
    )


def sync_threads() -> int:
    """Directories one worker syncs at the same time: `LOCKSTEP_SYNC_THREADS`, default 8."""
    return max(1, int(getattr(settings, "SYNC_THREADS", 8)))


def _record_reachability(directory: Directory, before: dict[str, float], after: dict[str, float]) -> None:
    try:
        reachability.record(directory, reachability.verdict(before, after))
    except Exception:
        log.exception("could not record whether directory %s answered", directory.pk)


class SyncLoop(threading.Thread):
    """Offers the active directories to its `DirectoryThreads` whenever woken, until stopped."""

    def __init__(
        self, *, worker: str, stop: threading.Event, ports: PortCache = PORTS, threads: int | None = None
    ) -> None:
        super().__init__(name=f"lockstep-sync-{worker}", daemon=True)
        self.worker = worker
        self.stop_event = stop
        self.ports = ports
        self.pool = DirectoryThreads(
            self.run_round, size=threads or sync_threads(), stop=stop, name=f"sync-{worker}"
        )
        self.checked: set[int] = set()  # directories whose start-up check this loop has run

    def run_round(self, directory_id: int) -> int:
        directory = active_directories_query().filter(pk=directory_id).first()
        if directory is None:  # deactivated or red since it was offered
            return 0
        if directory_id not in self.checked:  # objects deleted while Lockstep was down
            self.checked.add(directory_id)  # in the directory's own thread: a slow tenant delays no other
            startup_check.check_all([directory], self.ports)
        return run_directory(directory, self.ports, worker=self.worker)

    def run(self) -> None:
        try:
            while not self.stop_event.is_set():
                close_old_connections()
                self.pool.offer([directory.pk for directory in active_directories()])
                wakeup.wait(wakeup.POLL_SECONDS)
        finally:
            self.stop_event.set()
            self.ports.interrupt()  # budget waits end now
            self.pool.join()
            release_leases(self.worker)
            self.ports.close()
            connection.close()


def release_leases(worker: str) -> None:
    """A stopping worker hands back what it had claimed but not written."""
    for model in (UserBinding, GroupBinding):
        try:
            model.objects.filter(lease_owner=worker).update(lease_until=None, lease_owner="")
        except Exception:
            log.exception("could not release the leases of worker %s", worker)

"""The sync loop: runs user and group passes for every active directory, woken by changes.

Each worker process runs one loop (a thread beside the task worker). It sleeps until
`wakeup.notify()` (same process) or `wakeup.POLL_SECONDS` (other processes' changes),
and keeps one long-lived Graph client per directory.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connection
from django.db.models import Q
from django.utils import timezone

from lockstep.m365 import drift, import_restore, reachability, startup_check, wakeup
from lockstep.m365.budget import DatabaseBudget
from lockstep.m365.credentials import connection_for
from lockstep.m365.engine import run_user_pass
from lockstep.m365.graph.client import GraphClient
from lockstep.m365.graph_port import GraphClientPort
from lockstep.m365.group_engine import run_group_pass
from lockstep.m365.models import Directory, Health

log = logging.getLogger(__name__)


class PortCache:
    """One Graph client per directory, rebuilt when its credential or endpoints change."""

    def __init__(self) -> None:
        self._ports: dict[int, tuple[tuple[str, ...], GraphClientPort]] = {}
        self._lock = threading.Lock()

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
            client = GraphClient(connection_for(directory), rate_limiter=DatabaseBudget(directory.tenant_id))
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


PORTS = PortCache()


def active_directories() -> list[Directory]:
    return list(Directory.objects.filter(sync_enabled=True).exclude(health=Health.RED).order_by("id"))


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


def run_once(*, worker: str = "worker", ports: PortCache = PORTS) -> int:
    """One round over every active directory; returns how many bindings were handled.

    After the directory's passes, its drift round runs when due (`drift_interval`).
    """
    handled = 0
    for directory in active_directories():
        before: dict[str, float] | None = None
        try:
            port = ports.port_for(directory)
            before = port.client.stats.snapshot()
            users = run_user_pass(directory, port, worker=worker)
            groups = run_group_pass(directory, port, worker=worker)
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


def _record_reachability(directory: Directory, before: dict[str, float], after: dict[str, float]) -> None:
    try:
        reachability.record(directory, reachability.verdict(before, after))
    except Exception:
        log.exception("could not record whether directory %s answered", directory.pk)


class SyncLoop(threading.Thread):
    def __init__(self, *, worker: str, stop: threading.Event) -> None:
        super().__init__(name=f"lockstep-sync-{worker}", daemon=True)
        self.worker = worker
        self.stop_event = stop

    def run(self) -> None:
        try:
            startup_check.check_all(active_directories(), PORTS)  # objects deleted while Lockstep was down
            while not self.stop_event.is_set():
                close_old_connections()
                handled = run_once(worker=self.worker)
                if not handled:
                    wakeup.wait(wakeup.POLL_SECONDS)
        finally:
            PORTS.close()
            connection.close()

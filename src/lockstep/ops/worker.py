"""The Lockstep worker: django-tasks-db's Worker plus a tick thread (heartbeat, periodic jobs).

* `LockstepWorker.serve()` runs the django-tasks-db claim/run loop in the calling thread and
  the tick in a second thread: every `heartbeat_interval` seconds it records this worker's
  heartbeat and runs periodic jobs that are due (the reaper among them).
* `reap_stale_tasks()` puts RUNNING tasks back to READY when the worker that claimed them
  has not sent a heartbeat for `stale_after` (it was killed, or its machine died).
* `EmbeddedWorker` runs the same in a background thread of the web process.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import datetime, timedelta
from types import FrameType

from django.db import DatabaseError, close_old_connections, connection, transaction
from django.utils import timezone
from django.utils.crypto import get_random_string
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from lockstep.ops import background
from lockstep.ops.models import PeriodicJobState, WorkerHeartbeat

logger = logging.getLogger("lockstep.ops.worker")

DEFAULT_STALE_AFTER = timedelta(minutes=2)
"""Heartbeats come every 5 s; a worker silent for this long is taken for dead."""
HEARTBEAT_INTERVAL = 5.0
MAX_CLAIMS = 5
"""A task whose workers died this many times is failed instead of re-queued (it may be the cause)."""


class WorkerLost(Exception):
    """Recorded on a task whose workers died `MAX_CLAIMS` times while running it."""


def new_worker_id() -> str:
    return f"{socket.gethostname()[:30]}-{os.getpid()}-{get_random_string(8)}"


def beat(worker_id: str, *, started_at: datetime, now: datetime | None = None) -> None:
    now = now or timezone.now()
    WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id,
        defaults={"last_seen": now, "hostname": socket.gethostname()[:255], "pid": os.getpid()},
        create_defaults={
            "last_seen": now,
            "started_at": started_at,
            "hostname": socket.gethostname()[:255],
            "pid": os.getpid(),
        },
    )


configured_stale_after: timedelta = DEFAULT_STALE_AFTER
"""What the periodic reaper uses: the `stale_after` of the worker running in this process."""


def configure_stale_after(value: timedelta) -> None:
    global configured_stale_after
    configured_stale_after = value


def reap_stale_tasks(*, stale_after: timedelta | None = None, now: datetime | None = None) -> list[str]:
    """Re-queue RUNNING tasks whose worker has been silent for `stale_after`; return their ids."""
    stale_after = configured_stale_after if stale_after is None else stale_after
    now = now or timezone.now()
    cutoff = now - stale_after
    live = set(WorkerHeartbeat.objects.filter(last_seen__gte=cutoff).values_list("worker_id", flat=True))
    reaped: list[str] = []
    with transaction.atomic():
        candidates = (
            DBTaskResult.objects.running().filter(started_at__lt=cutoff).select_for_update(skip_locked=True)
        )
        for row in candidates:
            if row.worker_ids and row.worker_ids[-1] in live:
                continue  # a long task of a live worker
            if len(row.worker_ids) >= MAX_CLAIMS:
                row.set_failed(WorkerLost(f"{len(row.worker_ids)} workers died while running this task"))
                logger.error(
                    "task %s (%s) failed: its workers died %d times", row.id, row.task_path, MAX_CLAIMS
                )
                continue
            row.status = "READY"
            row.started_at = None
            row.save(update_fields=["status", "started_at"])
            reaped.append(str(row.id))
            logger.warning(
                "re-queued task %s (%s): worker %s stopped sending heartbeats",
                row.id,
                row.task_path,
                row.worker_ids[-1] if row.worker_ids else "?",
            )
    return reaped


def run_due_periodic_jobs(*, worker_id: str, now: datetime | None = None) -> list[str]:
    """Claim and run every periodic job that is due; return the names run."""
    now = now or timezone.now()
    ran: list[str] = []
    for job in list(background.PERIODIC_JOBS.values()):
        PeriodicJobState.objects.get_or_create(name=job.name, defaults={"next_run_at": now})
        claimed = PeriodicJobState.objects.filter(name=job.name, next_run_at__lte=now).update(
            next_run_at=now + job.every, last_run_at=now, last_worker_id=worker_id
        )
        if not claimed:
            continue  # not due, or another worker took this run
        try:
            job.run()
            ran.append(job.name)
        except Exception:
            logger.exception("periodic job %s failed", job.name)
    return ran


class Ticker(threading.Thread):
    """Heartbeat plus periodic jobs, every `interval` seconds until `stop` is set."""

    def __init__(
        self, *, worker_id: str, interval: float, stop: threading.Event, periodic: bool = True
    ) -> None:
        super().__init__(name=f"lockstep-tick-{worker_id}", daemon=True)
        self.worker_id = worker_id
        self.interval = interval
        self.stop_event = stop
        self.periodic = periodic
        self.started = timezone.now()

    def tick(self) -> None:
        close_old_connections()
        beat(self.worker_id, started_at=self.started)
        if self.periodic:
            run_due_periodic_jobs(worker_id=self.worker_id)

    def run(self) -> None:
        try:
            while not self.stop_event.is_set():
                try:
                    self.tick()
                except DatabaseError:
                    logger.exception("worker tick failed; retrying in %.0f s", self.interval)
                self.stop_event.wait(self.interval)
        finally:
            connection.close()


class LockstepWorker(Worker):
    """django-tasks-db's Worker with a heartbeat/periodic tick and a stop() usable from any thread."""

    def __init__(
        self,
        *,
        worker_id: str | None = None,
        queue_names: list[str] | None = None,
        interval: float = 1.0,
        batch: bool = False,
        max_tasks: int | None = None,
        startup_delay: bool = False,
        tick: bool = True,
        heartbeat_interval: float = HEARTBEAT_INTERVAL,
        stale_after: timedelta = DEFAULT_STALE_AFTER,
    ) -> None:
        super().__init__(
            queue_names=queue_names or ["*"],
            interval=interval,
            batch=batch,
            backend_name="default",
            startup_delay=startup_delay,
            max_tasks=max_tasks,
            worker_id=worker_id or new_worker_id(),
            excluded_queue_names=[],
        )
        self.tick_enabled = tick
        self.heartbeat_interval = heartbeat_interval
        self.stale_after = stale_after
        configure_stale_after(stale_after)
        self.stop_event = threading.Event()
        self.ticker: Ticker | None = None
        self.services: list[threading.Thread] = []

    def shutdown(self, signum: int, frame: FrameType | None) -> None:
        self.stop_event.set()
        super().shutdown(signum, frame)

    def stop(self) -> None:
        """Finish the current task, then leave the loop (within `interval` when idle)."""
        self.running = False
        self.stop_event.set()

    def serve(self) -> None:
        """Reap once, start the tick, run the loop until stopped; always clean up."""
        background.autodiscover()
        try:
            if self.tick_enabled:
                beat(self.worker_id, started_at=timezone.now())
                reap_stale_tasks(stale_after=self.stale_after)
                self.ticker = Ticker(
                    worker_id=self.worker_id, interval=self.heartbeat_interval, stop=self.stop_event
                )
                self.ticker.start()
            for factory in background.SERVICES.values():
                service = factory(self.worker_id, self.stop_event)
                service.start()
                self.services.append(service)
            self.run()
        finally:
            self.stop_event.set()
            for service in self.services:
                service.join(timeout=10)
            if self.ticker is not None:
                self.ticker.join(timeout=10)
            if self.tick_enabled:
                try:
                    WorkerHeartbeat.objects.filter(worker_id=self.worker_id).delete()
                except DatabaseError:
                    logger.warning("could not remove heartbeat of worker %s", self.worker_id)
            connection.close()
            logger.info("worker %s stopped", self.worker_id)


class EmbeddedWorker:
    """A LockstepWorker on a background thread of the web process (LOCKSTEP_EMBEDDED_WORKER)."""

    def __init__(self, **options: object) -> None:
        self.worker = LockstepWorker(**options)  # type: ignore[arg-type]
        self.thread = threading.Thread(target=self.worker.serve, name="lockstep-embedded-worker", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Ask the worker to stop and wait; False if a task was still running at the timeout."""
        self.worker.stop()
        self.thread.join(timeout)
        return not self.thread.is_alive()

"""Lockstep's own periodic housekeeping: the reaper and pruning of old rows."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from lockstep.ops.background import periodic
from lockstep.ops.models import WorkerHeartbeat
from lockstep.ops.worker import reap_stale_tasks

KEEP_SUCCESSFUL = timedelta(days=7)
KEEP_FAILED = timedelta(days=30)


@periodic(every=timedelta(minutes=1), name="ops.reap_stale_tasks")
def reap() -> None:
    """Re-queue tasks of workers that stopped sending heartbeats (`lockstep worker --stale-after`)."""
    reap_stale_tasks()


@periodic(every=timedelta(hours=1), name="ops.prune_finished_tasks")
def prune() -> None:
    """Delete finished task rows past their keeping time, and heartbeats of long-gone workers."""
    now = timezone.now()
    DBTaskResult.objects.successful().filter(finished_at__lt=now - KEEP_SUCCESSFUL).delete()
    DBTaskResult.objects.failed().filter(finished_at__lt=now - KEEP_FAILED).delete()
    WorkerHeartbeat.objects.filter(last_seen__lt=now - timedelta(days=1)).delete()

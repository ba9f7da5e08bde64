"""State the worker keeps beside django-tasks-db's table: heartbeats and periodic-job clocks."""

from __future__ import annotations

from django.db import models


class WorkerHeartbeat(models.Model):
    """A worker process (or embedded worker thread) that is alive, refreshed every few seconds."""

    worker_id = models.CharField(max_length=64, primary_key=True)
    hostname = models.CharField(max_length=255, default="")
    pid = models.IntegerField(default=0)
    started_at = models.DateTimeField()
    last_seen = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.worker_id} ({self.hostname}:{self.pid})"


class PeriodicJobState(models.Model):
    """When a periodic job is next due; workers claim a due run by moving `next_run_at` forward."""

    name = models.CharField(max_length=200, primary_key=True)
    next_run_at = models.DateTimeField()
    last_run_at = models.DateTimeField(null=True)
    last_worker_id = models.CharField(max_length=64, default="")

    def __str__(self) -> str:
        return self.name

"""Prometheus metrics: one registry for Lockstep, request metrics and work-queue gauges.

Later code adds its own metrics with `registry=REGISTRY`, or a custom collector with
`REGISTRY.register(collector)`; `/metrics` exposes everything registered here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import DatabaseError
from django.db.models import Count, Min, Q
from django.db.models.functions import Greatest
from django.utils import timezone
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "lockstep_http_requests",
    "HTTP requests answered, by URL route name, method and status code.",
    ["view", "method", "status"],
    registry=REGISTRY,
)
REQUEST_LATENCY = Histogram(
    "lockstep_http_request_duration_seconds",
    "Time to answer an HTTP request, by URL route name and method.",
    ["view", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class TaskQueueCollector(Collector):
    """Queue depth and age of the oldest ready task, read from django-tasks-db at scrape time."""

    def describe(self) -> Iterable[Metric]:
        """The metric names without samples: registering must not query the database."""
        return self._families()

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            "lockstep_task_queue_depth",
            "Background tasks by queue and status (READY or RUNNING).",
            labels=["queue", "status"],
        )
        ready_now = GaugeMetricFamily(
            "lockstep_task_queue_ready",
            "Background tasks ready to run now (READY and due), by queue.",
            labels=["queue"],
        )
        age = GaugeMetricFamily(
            "lockstep_task_queue_oldest_ready_age_seconds",
            "Seconds the oldest ready task has waited since it became due (0 when none), by queue.",
            labels=["queue"],
        )
        return depth, ready_now, age

    def collect(self) -> Iterable[Metric]:
        from django_tasks_db.models import DBTaskResult, get_date_max

        depth, ready_now, age = self._families()
        try:
            counts = {
                (row["queue_name"], row["status"]): row["n"]
                for row in DBTaskResult.objects.filter(status__in=["READY", "RUNNING"])
                .values("queue_name", "status")
                .annotate(n=Count("pk"))
            }
            now = timezone.now()
            never = get_date_max()
            ready = DBTaskResult.objects.ready()
            due = {
                row["queue_name"]: row
                for row in ready.values("queue_name").annotate(
                    n=Count("pk"),
                    oldest_immediate=Min("enqueued_at", filter=Q(run_after=never)),
                    oldest_deferred=Min(Greatest("run_after", "enqueued_at"), filter=~Q(run_after=never)),
                )
            }
            for queue_name in sorted({q for q, _ in counts} | set(due) | {"default"}):
                for status in ("READY", "RUNNING"):
                    depth.add_metric([queue_name, status], counts.get((queue_name, status), 0))
                row: dict[str, Any] = dict(due.get(queue_name, {}))
                ready_now.add_metric([queue_name], row.get("n", 0))
                became_due = [
                    t for t in (row.get("oldest_immediate"), row.get("oldest_deferred")) if t is not None
                ]
                age.add_metric(
                    [queue_name], max(0.0, (now - min(became_due)).total_seconds()) if became_due else 0.0
                )
        except DatabaseError:
            return  # the database is down: /readyz says so; don't fail the whole scrape
        yield depth
        yield ready_now
        yield age


REGISTRY.register(TaskQueueCollector())

TASKS_FINISHED = Counter(
    "lockstep_tasks_finished",
    "Background task attempts finished in this process, by task name and final status.",
    ["task", "status"],
    registry=REGISTRY,
)


def count_finished_task(sender: object, task_result: object, **kwargs: object) -> None:
    """`task_finished` signal receiver."""
    task = getattr(task_result, "task", None)
    name = getattr(task, "name", "unknown")
    status = str(getattr(task_result, "status", "unknown"))
    TASKS_FINISHED.labels(task=name, status=status).inc()

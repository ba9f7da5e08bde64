"""Prometheus gauges of the outbox: emails waiting or failed, and how late the oldest due one is."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import DatabaseError
from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from lockstep.mail.models import EmailStatus, OutboundEmail

WATCHED = (EmailStatus.QUEUED, EmailStatus.RETRYING, EmailStatus.FAILED)


class OutboxCollector(Collector):
    def describe(self) -> Iterable[Metric]:
        return self._families()

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        emails = GaugeMetricFamily(
            "lockstep_outbox_emails",
            "Emails in the outbox by status (queued, retrying, failed; sent ones are not counted).",
            labels=["status"],
        )
        late = GaugeMetricFamily(
            "lockstep_outbox_oldest_due_age_seconds",
            "Seconds the oldest due email (queued or retrying) has waited past its time (0 when none).",
        )
        return emails, late

    def collect(self) -> Iterable[Metric]:
        from lockstep.mail import delivery

        emails, late = self._families()
        try:
            counts = dict(
                OutboundEmail.objects.filter(status__in=WATCHED)
                .values_list("status")
                .annotate(n=Count("pk"))
                .values_list("status", "n")
            )
            now = delivery.clock()
            oldest = (
                delivery.due(now)
                .order_by("next_attempt_at")
                .values_list("next_attempt_at", flat=True)
                .first()
            )
        except DatabaseError:
            return
        for status in WATCHED:
            emails.add_metric([status.value], counts.get(status.value, 0))
        late.add_metric([], max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
        yield emails
        yield late


_registered = False


def register_metrics() -> None:
    """Add the outbox gauges to Lockstep's Prometheus registry (once per process)."""
    global _registered
    if _registered:
        return
    from lockstep.ops.metrics import REGISTRY

    REGISTRY.register(OutboxCollector())
    _registered = True

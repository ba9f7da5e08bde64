"""The sync loop's scheduling: drift waits while the directory's own writes are queued."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from lockstep.m365 import sync_loop
from lockstep.m365.models import Directory


def test_drift_waits_while_busy_but_not_forever(directory: Directory, settings: Any) -> None:
    settings.M365_DRIFT_SECONDS = 60
    Directory.objects.filter(pk=directory.pk).update(drift_checked_at=timezone.now() - timedelta(seconds=90))
    assert not sync_loop.claim_drift(directory, busy=True)  # due, but writes are queued
    assert sync_loop.claim_drift(directory, busy=False)  # queue drained: runs
    assert not sync_loop.claim_drift(directory, busy=False)  # just ran
    Directory.objects.filter(pk=directory.pk).update(drift_checked_at=timezone.now() - timedelta(seconds=601))
    assert sync_loop.claim_drift(directory, busy=True)  # ten intervals overdue: runs anyway


def test_first_drift_of_a_new_busy_directory_waits(directory: Directory) -> None:
    Directory.objects.filter(pk=directory.pk).update(drift_checked_at=None)
    directory.refresh_from_db()
    assert not sync_loop.claim_drift(directory, busy=True)
    assert sync_loop.claim_drift(directory, busy=False)

"""Outbox fixtures: a movable clock for the delivery module, and a port no server listens on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from lockstep.mail import delivery


class Clock:
    def __init__(self) -> None:
        self.now = timezone.now()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    moved = Clock()
    monkeypatch.setattr(delivery, "clock", moved)
    return moved


@pytest.fixture
def dead_port(settings: Any) -> int:
    """Lockstep's mail server setting points at a loopback port where nothing listens."""
    from lockstep.testing.smtp import _free_port

    port = _free_port()
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    return port


@pytest.fixture
def point_at(settings: Any) -> Callable[[Any], None]:
    def point(server: Any) -> None:
        settings.EMAIL_HOST, settings.EMAIL_PORT = server.host, server.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False

    return point

"""Wakes the sync loop when work arrives, so a save reaches Microsoft 365 at once.

In-process (embedded worker, tests) this is a threading.Event; separate worker
processes poll the bindings table every `POLL_SECONDS` instead.
"""

from __future__ import annotations

import threading

POLL_SECONDS = 1.0
_event = threading.Event()


def notify() -> None:
    _event.set()


def wait(timeout: float = POLL_SECONDS) -> bool:
    woke = _event.wait(timeout)
    _event.clear()
    return woke

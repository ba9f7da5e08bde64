"""Tasks the operations tests enqueue (importable by workers in subprocesses via PYTHONPATH)."""

from __future__ import annotations

import time
from pathlib import Path

from lockstep.ops.background import RetryLater, RetryPolicy, background

CALLS: list[str] = []


@background()
def add(a: int, b: int) -> int:
    return a + b


@background()
def slow_first_time(marker: str) -> str:
    """Sleeps long on its first run (so a test can kill the worker), returns at once afterwards."""
    path = Path(marker)
    if not path.exists():
        path.write_text("started")
        time.sleep(60)
    return "finished"


class Flaky(Exception):
    pass


@background(retry=RetryPolicy(max_attempts=3, base_delay=10, max_delay=60, retry_on=(Flaky,)))
def always_flaky(label: str) -> None:
    CALLS.append(label)
    raise Flaky(f"{label} failed")


@background(retry=RetryPolicy(max_attempts=3, base_delay=10, max_delay=60, retry_on=(Flaky,)))
def throttled(label: str) -> None:
    CALLS.append(label)
    raise RetryLater("throttled", delay_seconds=42)


@background(retry=RetryPolicy(max_attempts=3, retry_on=(Flaky,)))
def broken(label: str) -> None:
    raise ValueError("not retryable")

"""The worker side of bench_scale_memory.py: the product's sync loop in its own process,
counting its database queries and the bindings its passes claim, and its peak memory."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from lockstep_env import setup_django, start_worker, stop_worker

SETTLE_SECONDS = 10.0  # after the queue is empty and every directory's first drift round listed its users
TIMEOUT_SECONDS = 3600.0


def memory_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status (VmRSS, VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


class QueryCounter:
    """A database execute wrapper: the sync threads' queries, and those inside a pass."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.local = threading.local()
        self.all_queries = 0
        self.pass_queries = 0
        self.claimed = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if threading.current_thread() is not threading.main_thread():  # not the benchmark's polls
            with self.lock:
                self.all_queries += 1
                if getattr(self.local, "in_pass", False):
                    self.pass_queries += 1
        return execute(sql, params, many, context)

    def install(self, sender: Any = None, connection: Any = None, **_: Any) -> None:
        if connection is not None and self not in connection.execute_wrappers:
            connection.execute_wrappers.append(self)

    def counting(self, run_pass: Any) -> Any:
        """`run_pass` (the user or group pass) with its queries and claimed bindings counted."""

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.local.in_pass = True
            try:
                result = run_pass(*args, **kwargs)
            finally:
                self.local.in_pass = False
            with self.lock:
                self.claimed += result.claimed
            return result

        return counted


def run_worker(options: dict[str, Any]) -> dict[str, Any]:
    setup_django(options["database_url"], data_dir=Path(options["data_dir"]), migrate=False)
    from django.conf import settings
    from django.db.backends.signals import connection_created
    from django.db.models import F

    from lockstep.m365 import sync_loop
    from lockstep.m365.models import Directory, UserBinding

    settings.TRUSTED_CA_FILE = options["ca_file"]
    counter = QueryCounter()
    connection_created.connect(counter.install, weak=False)
    sync_loop.run_user_pass = counter.counting(sync_loop.run_user_pass)  # type: ignore[attr-defined]
    sync_loop.run_group_pass = counter.counting(sync_loop.run_group_pass)  # type: ignore[attr-defined]
    start_mb = memory_mb("VmRSS")
    start = time.monotonic()
    loop, stop = start_worker("scale")
    quiet_since: float | None = None
    while quiet_since is None or time.monotonic() - quiet_since < SETTLE_SECONDS:
        time.sleep(0.5)
        dirty = UserBinding.objects.filter(desired_version__gt=F("applied_version")).exists()
        drift_due = Directory.objects.filter(users_delta_link="").exists()
        quiet_since = None if dirty or drift_due else (quiet_since or time.monotonic())
        if time.monotonic() - start > TIMEOUT_SECONDS:
            raise SystemExit("the worker did not settle")
    stop_worker(loop, stop)
    return {
        "peak_mb": memory_mb("VmHWM"),
        "start_mb": start_mb,
        "claimed": counter.claimed,
        "pass_queries": counter.pass_queries,
        "all_queries": counter.all_queries,
        "seconds": time.monotonic() - start,
    }

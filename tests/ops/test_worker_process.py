"""`lockstep worker` as a real process: SIGTERM stops it cleanly; after SIGKILL the reaper recovers its task."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from django_tasks_db.models import DBTaskResult
from ops_scratch import LOCKSTEP, Scratch

TASKS_TABLE = DBTaskResult._meta.db_table


def wait_for(condition: Callable[[], object], timeout: float = 15, what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def start_worker(scratch: Scratch, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [LOCKSTEP, "worker", "--interval", "0.2", *args],
        env=scratch.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def enqueue(scratch: Scratch, call: str) -> str:
    done = scratch.python(f"import ops_sample_tasks as t\nprint(t.{call}.id)")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def task_row(scratch: Scratch, task_id: str) -> tuple[str, list[str], object]:
    ((status, worker_ids, return_value),) = scratch.query(
        f"SELECT status, worker_ids, return_value FROM {TASKS_TABLE} WHERE id = %s",
        [task_id.replace("-", "") if scratch.database_url is None else task_id],
    )
    if scratch.database_url is None:  # SQLite hands JSON columns back as text; psycopg decodes them
        worker_ids, return_value = json.loads(worker_ids), json.loads(return_value or "null")
    return status, worker_ids, return_value


def test_sigterm_stops_an_idle_worker_cleanly(migrated_scratch: Scratch) -> None:
    worker = start_worker(migrated_scratch, "--worker-id", "graceful-1")
    try:
        wait_for(
            lambda: migrated_scratch.query(
                "SELECT 1 FROM ops_workerheartbeat WHERE worker_id = 'graceful-1'"
            ),
            what="the worker's heartbeat",
        )
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=10) == 0
    finally:
        worker.kill()
    output = worker.stdout.read() if worker.stdout else ""
    assert "worker graceful-1 stopped" in output
    assert migrated_scratch.query("SELECT 1 FROM ops_workerheartbeat WHERE worker_id = 'graceful-1'") == []


def test_reaper_recovers_the_task_of_a_sigkilled_worker(migrated_scratch: Scratch, tmp_path: Path) -> None:
    marker = tmp_path / "started"
    task_id = enqueue(migrated_scratch, f"slow_first_time.enqueue({str(marker)!r})")
    victim = start_worker(migrated_scratch, "--worker-id", "victim-1")
    try:
        wait_for(marker.exists, what="the task to start")
        assert task_row(migrated_scratch, task_id)[0] == "RUNNING"
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
    finally:
        victim.kill()
    assert task_row(migrated_scratch, task_id)[0] == "RUNNING"  # nobody else knows it died
    time.sleep(1.2)  # longer than --stale-after below: its heartbeat is now stale

    rescuer = migrated_scratch.lockstep("worker", "--batch", "--worker-id", "rescuer-1", "--stale-after", "1")
    assert rescuer.returncode == 0, rescuer.stdout + rescuer.stderr
    assert "re-queued task" in rescuer.stderr and "victim-1" in rescuer.stderr

    status, worker_ids, value = task_row(migrated_scratch, task_id)
    assert status == "SUCCESSFUL"
    assert worker_ids == ["victim-1", "rescuer-1"]
    assert value == "finished"

"""Background work: a worker runs enqueued tasks; retries with backoff; periodic jobs; the reaper."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import ops_sample_tasks as sample
import pytest
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from lockstep.ops import background
from lockstep.ops.background import ATTEMPT_KWARG, RetryPolicy, periodic
from lockstep.ops.models import PeriodicJobState, WorkerHeartbeat
from lockstep.ops.worker import MAX_CLAIMS, LockstepWorker, reap_stale_tasks, run_due_periodic_jobs

NOW = datetime(2100, 1, 5, 12, 0, tzinfo=UTC)  # retries land in the future: not run at once


def run_worker_until_idle() -> None:
    """A real django-tasks-db worker loop, in a thread, that exits when nothing is ready."""
    worker = LockstepWorker(batch=True, tick=False, interval=0)
    failures: list[BaseException] = []

    def target() -> None:
        try:
            worker.serve()
        except BaseException as problem:  # pragma: no cover - reported below
            failures.append(problem)
        finally:
            connection.close()

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive(), "worker did not finish"
    assert not failures, failures


def rows() -> list[DBTaskResult]:
    return list(DBTaskResult.objects.order_by("enqueued_at"))


# --- the schedule, with injected randomness ---------------------------------------------------


def test_backoff_doubles_up_to_the_cap_with_bounded_jitter() -> None:
    policy = RetryPolicy(max_attempts=6, base_delay=2, max_delay=20)
    assert policy.schedule([0.0] * 5) == [1.0, 2.0, 4.0, 8.0, 10.0]  # lower bound: half the ceiling
    assert policy.schedule([1.0] * 5) == [2.0, 4.0, 8.0, 16.0, 20.0]  # upper bound: the ceiling
    assert policy.delay(3, 0.5) == 6.0


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="base_delay"):
        RetryPolicy(base_delay=10, max_delay=1)


# --- a worker really runs tasks ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_worker_runs_an_enqueued_task() -> None:
    result = sample.add.enqueue(2, 3)
    run_worker_until_idle()
    result.refresh()
    assert result.status == "SUCCESSFUL"
    assert result.return_value == 5
    assert len(result.worker_ids) == 1


@pytest.mark.django_db(transaction=True)
def test_failed_attempts_are_re_enqueued_with_backoff_then_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [NOW]
    monkeypatch.setattr(background, "clock", lambda: clock[0])
    monkeypatch.setattr(background, "rng", lambda: 0.5)
    sample.CALLS.clear()
    sample.always_flaky.enqueue("x")

    run_worker_until_idle()  # attempt 1 fails; attempt 2 is scheduled at NOW + 7.5 s (10 s ceiling, half jitter)
    first, second = rows()
    assert first.status == "FAILED"
    assert first.exception_class_path == "lockstep.ops.background.RetryScheduled"
    assert "Flaky: x failed" in first.traceback
    assert second.status == "READY"
    assert second.run_after == NOW + timedelta(seconds=7.5)
    assert second.args_kwargs == {"args": ["x"], "kwargs": {ATTEMPT_KWARG: 2}}

    DBTaskResult.objects.filter(pk=second.pk).update(run_after=timezone.now())  # let time pass
    clock[0] = NOW + timedelta(minutes=1)
    run_worker_until_idle()  # attempt 2 fails; attempt 3 after 15 s (20 s ceiling)
    third = rows()[2]
    assert third.run_after == clock[0] + timedelta(seconds=15)
    assert third.args_kwargs["kwargs"] == {ATTEMPT_KWARG: 3}

    DBTaskResult.objects.filter(pk=third.pk).update(run_after=timezone.now())
    run_worker_until_idle()  # attempt 3 is the last: the original error, nothing re-enqueued
    final = rows()
    assert len(final) == 3
    assert final[2].status == "FAILED"
    assert final[2].exception_class_path == "ops_sample_tasks.Flaky"
    assert sample.CALLS == ["x", "x", "x"]


@pytest.mark.django_db(transaction=True)
def test_retry_later_uses_the_delay_the_task_asks_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(background, "clock", lambda: NOW)
    sample.throttled.enqueue("graph")
    run_worker_until_idle()
    _first, second = rows()
    assert second.run_after == NOW + timedelta(seconds=42)


@pytest.mark.django_db(transaction=True)
def test_errors_outside_retry_on_fail_at_once() -> None:
    sample.broken.enqueue("y")
    run_worker_until_idle()
    (only,) = rows()
    assert only.status == "FAILED"
    assert only.exception_class_path == "builtins.ValueError"


# --- periodic jobs ---------------------------------------------------------------------------------


@pytest.fixture
def isolated_periodic_jobs(monkeypatch: pytest.MonkeyPatch) -> dict[str, background.PeriodicJob]:
    jobs: dict[str, background.PeriodicJob] = {}
    monkeypatch.setattr(background, "PERIODIC_JOBS", jobs)
    return jobs


def test_a_periodic_function_runs_once_per_interval_across_workers(
    isolated_periodic_jobs: dict, db: None
) -> None:
    calls: list[str] = []
    periodic(every=timedelta(minutes=10), name="count")(lambda: calls.append("ran"))

    assert run_due_periodic_jobs(worker_id="w1", now=NOW) == ["count"]
    assert run_due_periodic_jobs(worker_id="w2", now=NOW + timedelta(minutes=5)) == []  # not due
    assert run_due_periodic_jobs(worker_id="w2", now=NOW + timedelta(minutes=10)) == ["count"]
    assert run_due_periodic_jobs(worker_id="w1", now=NOW + timedelta(minutes=10)) == []  # w2 took this run
    assert calls == ["ran", "ran"]
    state = PeriodicJobState.objects.get(name="count")
    assert state.next_run_at == NOW + timedelta(minutes=20)
    assert state.last_worker_id == "w2"


def test_a_periodic_task_is_enqueued_when_due(isolated_periodic_jobs: dict, db: None) -> None:
    periodic(every=timedelta(hours=1))(sample.add)
    assert run_due_periodic_jobs(worker_id="w1", now=NOW) == ["ops_sample_tasks.add"]
    assert DBTaskResult.objects.filter(task_path="ops_sample_tasks.add", status="READY").count() == 1


def test_a_failing_periodic_job_does_not_stop_the_others(isolated_periodic_jobs: dict, db: None) -> None:
    def explode() -> None:
        raise RuntimeError("boom")

    calls: list[int] = []
    periodic(every=timedelta(minutes=1), name="a-explodes")(explode)
    periodic(every=timedelta(minutes=1), name="b-works")(lambda: calls.append(1))
    assert run_due_periodic_jobs(worker_id="w1", now=NOW) == ["b-works"]
    assert calls == [1]


def test_ops_registers_the_reaper_and_pruning() -> None:
    background.autodiscover()
    assert {"ops.reap_stale_tasks", "ops.prune_finished_tasks"} <= set(background.PERIODIC_JOBS)


# --- the reaper (unit level; the SIGKILL test is in test_worker_process.py) ---------------------------


def make_running(worker_ids: list[str], started: datetime) -> DBTaskResult:
    result = sample.add.enqueue(1, 1)
    DBTaskResult.objects.filter(pk=result.id).update(
        status="RUNNING", started_at=started, worker_ids=worker_ids
    )
    return DBTaskResult.objects.get(pk=result.id)


def test_reaper_requeues_tasks_of_silent_workers_only(db: None) -> None:
    now = timezone.now()
    WorkerHeartbeat.objects.create(worker_id="alive", started_at=now, last_seen=now - timedelta(seconds=10))
    WorkerHeartbeat.objects.create(worker_id="dead", started_at=now, last_seen=now - timedelta(hours=1))
    long_running = make_running(["alive"], now - timedelta(hours=2))
    orphan = make_running(["dead"], now - timedelta(hours=2))
    never_beat = make_running(["vanished"], now - timedelta(hours=2))
    just_started = make_running(["vanished"], now - timedelta(seconds=30))

    reaped = reap_stale_tasks(stale_after=timedelta(minutes=5), now=now)

    assert sorted(reaped) == sorted([str(orphan.pk), str(never_beat.pk)])
    statuses = dict(DBTaskResult.objects.values_list("pk", "status"))
    assert statuses[long_running.pk] == "RUNNING"
    assert statuses[just_started.pk] == "RUNNING"
    assert statuses[orphan.pk] == "READY"
    assert DBTaskResult.objects.get(pk=orphan.pk).started_at is None


def test_reaper_fails_a_task_that_keeps_killing_workers(db: None) -> None:
    now = timezone.now()
    victim = make_running([f"w{n}" for n in range(MAX_CLAIMS)], now - timedelta(hours=1))
    assert reap_stale_tasks(stale_after=timedelta(minutes=5), now=now) == []
    victim.refresh_from_db()
    assert victim.status == "FAILED"
    assert victim.exception_class_path == "lockstep.ops.worker.WorkerLost"

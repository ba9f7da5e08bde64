"""Background work on top of the Django tasks API: retries with backoff, periodic jobs.

django-tasks-db runs a task once; a failing task ends FAILED. Lockstep adds:

* retries: decorate with `background(retry=RetryPolicy(...))` (or raise `RetryLater` from a
  task to choose the delay, e.g. from a `Retry-After` header). A failed attempt records
  `RetryScheduled` as its error and enqueues the next attempt with `run_after` set to now
  plus exponential backoff with jitter; the last attempt raises the original error.
* periodic jobs: `@periodic(every=timedelta(...))` on a task (enqueued when due) or on a
  plain function (run inline by the worker's tick). Due-ness lives in the database, so
  with N workers each job still runs once per interval.

Register tasks in an app's `tasks.py`; the worker imports every installed app's `tasks`
module at start (`autodiscover`).

    from lockstep.ops.background import RetryPolicy, background, periodic

    @background(retry=RetryPolicy(max_attempts=5, base_delay=2, max_delay=300))
    def push_user(*, user_id: int) -> None: ...

    push_user.enqueue(user_id=42)

    @periodic(every=timedelta(minutes=15))
    @background()
    def refresh_tenant_health() -> None: ...
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, ParamSpec, TypeVar, cast

from django.utils import timezone
from django.utils.module_loading import autodiscover_modules
from django_tasks import task as django_task
from django_tasks.base import DEFAULT_TASK_PRIORITY, DEFAULT_TASK_QUEUE_NAME, Task, TaskResult

logger = logging.getLogger("lockstep.ops.background")

P = ParamSpec("P")
T = TypeVar("T")

ATTEMPT_KWARG = "_lockstep_attempt"
"""Reserved keyword argument carrying the attempt number (1-based) between re-enqueues."""

Clock = Callable[[], datetime]
Random = Callable[[], float]

# Module-level so tests can inject time and randomness.
clock: Clock = timezone.now
rng: Random = random.random


class RetryScheduled(Exception):
    """Recorded as the error of an attempt that failed and was re-enqueued."""


class RetryLater(Exception):
    """Raise from a task to retry it after `delay_seconds` (None: the policy's backoff)."""

    def __init__(self, reason: str = "", *, delay_seconds: float | None = None) -> None:
        super().__init__(reason or "retry requested")
        self.delay_seconds = delay_seconds


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with "equal jitter": attempt n waits between c/2 and c,
    where c = min(max_delay, base_delay * 2**(n-1)) seconds."""

    max_attempts: int = 5
    base_delay: float = 2.0
    max_delay: float = 600.0
    retry_on: tuple[type[BaseException], ...] = field(default=(Exception,))

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < self.base_delay:
            raise ValueError("need 0 <= base_delay <= max_delay")

    def delay(self, attempt: int, random_fraction: float) -> float:
        """Seconds to wait after failed attempt `attempt` (1-based); random_fraction in [0, 1)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** max(0, attempt - 1)))
        return ceiling / 2 + (ceiling / 2) * random_fraction

    def schedule(self, random_fractions: list[float]) -> list[float]:
        """The delays after attempts 1..max_attempts-1, for the given random draws."""
        return [self.delay(n, random_fractions[n - 1]) for n in range(1, self.max_attempts)]


def schedule_retry(
    task: Task[Any, Any],
    *,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    attempt: int,
    policy: RetryPolicy,
    delay_seconds: float | None = None,
    now: datetime | None = None,
    random_fraction: float | None = None,
) -> TaskResult[Any]:
    """Enqueue attempt `attempt + 1` of `task` to run after the backoff (or `delay_seconds`)."""
    if delay_seconds is None:
        delay_seconds = policy.delay(attempt, rng() if random_fraction is None else random_fraction)
    run_after = (now or clock()) + timedelta(seconds=delay_seconds)
    return task.using(run_after=run_after).enqueue(*args, **{**kwargs, ATTEMPT_KWARG: attempt + 1})


def background(
    *,
    retry: RetryPolicy | None = None,
    priority: int = DEFAULT_TASK_PRIORITY,
    queue_name: str = DEFAULT_TASK_QUEUE_NAME,
) -> Callable[[Callable[P, T]], Task[P, T]]:
    """Make a function a task (django-tasks `@task`), optionally retried under `retry`."""

    def decorate(func: Callable[P, T]) -> Task[P, T]:
        if retry is None:
            return cast(Task[P, T], django_task(priority=priority, queue_name=queue_name)(func))
        policy = retry
        retryable: tuple[type[BaseException], ...] = (*policy.retry_on, RetryLater)
        holder: dict[str, Task[P, T]] = {}

        @wraps(func)
        def run_attempt(*args: Any, **kwargs: Any) -> T:
            attempt = int(kwargs.pop(ATTEMPT_KWARG, 1))
            try:
                return func(*args, **kwargs)
            except retryable as failure:
                delay = failure.delay_seconds if isinstance(failure, RetryLater) else None
                if attempt >= policy.max_attempts:
                    logger.warning(
                        "task %s failed on its last attempt (%d of %d)",
                        func.__qualname__,
                        attempt,
                        policy.max_attempts,
                    )
                    raise
                result = schedule_retry(
                    holder["task"],
                    args=args,
                    kwargs=kwargs,
                    attempt=attempt,
                    policy=policy,
                    delay_seconds=delay,
                )
                logger.info(
                    "task %s attempt %d of %d failed (%s); retry as %s",
                    func.__qualname__,
                    attempt,
                    policy.max_attempts,
                    type(failure).__name__,
                    result.id,
                )
                raise RetryScheduled(
                    f"attempt {attempt} of {policy.max_attempts} failed; attempt {attempt + 1} is task {result.id}"
                ) from failure

        created = cast(Task[P, T], django_task(priority=priority, queue_name=queue_name)(run_attempt))
        holder["task"] = created
        return created

    return decorate


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every: timedelta
    target: Task[Any, Any] | Callable[[], object]

    def run(self) -> None:
        """Enqueue the task, or call the function inline."""
        if isinstance(self.target, Task):
            self.target.enqueue()
        else:
            self.target()


PERIODIC_JOBS: dict[str, PeriodicJob] = {}

Target = TypeVar("Target", bound=Task[Any, Any] | Callable[[], object])


def periodic(*, every: timedelta, name: str | None = None) -> Callable[[Target], Target]:
    """Register a task (enqueued when due) or a function (run inline by the tick)."""
    if every <= timedelta(0):
        raise ValueError("every must be positive")

    def register(target: Target) -> Target:
        func = target.func if isinstance(target, Task) else target
        job_name = name or f"{func.__module__}.{func.__qualname__}"
        PERIODIC_JOBS[job_name] = PeriodicJob(name=job_name, every=every, target=target)
        return target

    return register


ServiceFactory = Callable[[str, "threading.Event"], "threading.Thread"]
SERVICES: dict[str, ServiceFactory] = {}
"""Long-running loops every worker process runs beside its task loop (e.g. the Microsoft 365
sync loop). A factory takes (worker id, stop event) and returns an unstarted thread."""


def register_service(name: str, factory: ServiceFactory) -> None:
    SERVICES[name] = factory


def autodiscover() -> None:
    """Import every installed app's `tasks` module so its tasks and periodic jobs register."""
    autodiscover_modules("tasks")

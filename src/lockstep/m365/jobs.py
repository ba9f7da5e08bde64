"""Enqueue a background job of `lockstep.m365.tasks` by name, once the transaction commits.

The import goes one way: `tasks` imports the services whose functions are the jobs' bodies, and a
service names the job it starts by its task path, the string the task queue itself stores and
resolves (`DBTaskResult.task_path`). A service importing `tasks` (at module level or inside a
function) would be the services <-> tasks cycle again; a name is not an import.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.module_loading import import_string

TASKS_MODULE = "lockstep.m365.tasks"


def enqueue_on_commit(job: str, **kwargs: Any) -> None:
    """Enqueue the task `lockstep.m365.tasks.<job>` with `kwargs` after the current transaction commits."""
    task = import_string(f"{TASKS_MODULE}.{job}")
    transaction.on_commit(lambda: task.enqueue(**kwargs))

"""Two lanes for dirty bindings: interactive (a change made by hand) ahead of bulk work.

A change an admin or user makes by hand to one user or group — in the console, the User
Portal, the API or a single CLI command — stamps the binding's `interactive_at`. Bulk work
(bulk actions, CSV imports, import batches, drift repairs, directory-wide settings) leaves it
alone and queues by `changed_at`. Each claim (`sync_pass.claim`) takes at most
`INTERACTIVE_SHARE` interactive bindings first, oldest first, then fills the rest of the chunk
with bulk work, so a hand-made change waits at most about one chunk and bulk work always
gets the rest of every claim. Both lanes spend the same tenant budget, but bulk work may not
take its last `INTERACTIVE_RESERVE` writes: the writes of a hand-made change are sent on their
own, marked with `priority()`, and may (`budget.DatabaseBudget`). So while a bulk job runs at
the tenant's refill rate, a hand-made change waits for the batch in flight, not for a refill.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

from django.utils import timezone

INTERACTIVE_SHARE = 0.5  # of each claim, at most this fraction goes to the interactive lane
INTERACTIVE_RESERVE = 20.0
"""Writes of each tenant's bucket that only the interactive lane may spend: one `$batch` of
hand-made changes goes out at once however busy the tenant is. Bulk work finishes at most
20 / 19.6 s (about a second) later for it."""

_priority: ContextVar[bool] = ContextVar("lockstep_interactive_writes", default=False)


def interactive() -> dict[str, datetime]:
    """Update values that put a binding in the interactive lane (add them to the bump's update)."""
    return {"interactive_at": timezone.now()}


def split(limit: int) -> int:
    """How many of a claim of `limit` bindings the interactive lane may take first (at least 1)."""
    return max(1, int(limit * INTERACTIVE_SHARE))


@contextmanager
def priority() -> Iterator[None]:
    """Graph requests made inside are the interactive lane's: they may spend the reserve."""
    token = _priority.set(True)
    try:
        yield
    finally:
        _priority.reset(token)


def reserve_for_bulk() -> float:
    """The writes a budget must keep back from the request being paced now (0 for hand-made ones)."""
    return 0.0 if _priority.get() else INTERACTIVE_RESERVE

"""Two lanes for dirty bindings: interactive (a change made by hand) ahead of bulk work.

A change an admin or user makes by hand to one user or group — in the console, the User
Portal, the API or a single CLI command — stamps the binding's `interactive_at`. Bulk work
(bulk actions, CSV imports, import batches, drift repairs, directory-wide settings) leaves it
alone and queues by `changed_at`. Each claim (`sync_pass.claim`) takes at most
`INTERACTIVE_SHARE` interactive bindings first, oldest first, then fills the rest of the chunk
with bulk work, so a hand-made change waits at most about one chunk and bulk work always
gets the rest of every claim. Both lanes spend the same tenant budget.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

INTERACTIVE_SHARE = 0.5  # of each claim, at most this fraction goes to the interactive lane


def interactive() -> dict[str, datetime]:
    """Update values that put a binding in the interactive lane (add them to the bump's update)."""
    return {"interactive_at": timezone.now()}


def split(limit: int) -> int:
    """How many of a claim of `limit` bindings the interactive lane may take first (at least 1)."""
    return max(1, int(limit * INTERACTIVE_SHARE))

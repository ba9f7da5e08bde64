"""Entra ID's replication lag (graph-facts §12.2), as the sync engines see it.

For seconds (occasionally minutes) after Lockstep creates or restores an object, Graph may
answer 404 `Request_ResourceNotFound` for it, leave it out of `$filter` lookups and member
lists, and miss it in delta rounds. Such a 404 is not a deletion: the binding is retried after
a short backoff (`LAG_CODE`), not parked for `sync_pass.PARK_FOR`. Past `GRACE` after the create,
a 404 means what it says again.

A create that conflicts with an existing object whose lookup finds nothing yet (the object is
there but not replicated to the replica that answered the lookup) is retried the same way,
`CONFLICT_RETRIES` times.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.utils import timezone

GRACE = timedelta(minutes=15)
# A member list read this soon after Lockstep's own membership write may be stale: read it again
# once this much time has passed since the write (a later drift round catches slower replicas).
RECHECK_AFTER = timedelta(seconds=5)
MAX_DELAY_SECONDS = 60.0
CONFLICT_RETRIES = 6
LAG_CODE = "not_replicated_yet"
LAG_WORDS = (
    "Microsoft 365 has not finished replicating this new or restored object yet (this takes seconds, "
    "occasionally minutes); Lockstep retries shortly."
)
RECHECK_WORDS = (
    "Lockstep changed this group's members moments ago; it reads the membership again once "
    "Microsoft 365 has replicated the change."
)
CONFLICT_WORDS = (
    "Microsoft 365 reports this address as taken, but the account holding it cannot be found yet "
    "(replication takes seconds, occasionally minutes); Lockstep looks again shortly."
)


def recent(created_at: datetime | None, now: datetime | None = None) -> bool:
    """Whether an object Lockstep created or restored at `created_at` may still be replicating."""
    return created_at is not None and (now or timezone.now()) - created_at < GRACE


def retry_delay(attempts: int, rng: random.Random | None = None) -> timedelta:
    """Short backoff with jitter for a replication wait: 1-2, 2-4, 4-8 ... seconds, at most a minute."""
    rng = rng or random.Random()
    ceiling = min(MAX_DELAY_SECONDS, 2.0 ** max(1, attempts))
    return timedelta(seconds=rng.uniform(ceiling / 2, ceiling))


def member_of_ref(body: dict[str, object] | None) -> str:
    """The member id in a `$ref` body (`{"@odata.id": ".../directoryObjects/{id}"}`)."""
    ref = str((body or {}).get("@odata.id") or "")
    return ref.rstrip("/").rsplit("/", 1)[-1]

"""What every sync pass shares: leasing dirty bindings, backoff, the pass's result, plain words.

Used by the user pass (`engine`), the group pass (`group_engine`) and drift (`drift`).
"""

from __future__ import annotations

import random
import secrets
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from lockstep.m365 import lanes
from lockstep.m365.models import Directory, GroupBinding, SyncStatus, UserBinding

if TYPE_CHECKING:
    from lockstep.directory.models import AuditEvent

# Bindings per claim (one chunk of a pass). Small, so a hand-made change queued behind a bulk
# backlog waits about one chunk (a few seconds of the tenant's write budget), not the backlog.
CLAIM_LIMIT = 40
GROUP_CLAIM_LIMIT = 20  # a group costs a member read and several writes, one group at a time
BATCH_CLAIM = 20
"""A user chunk while the tenant's bucket is nearly empty: one `$batch`, about a second of refill,
so a hand-made change queued meanwhile is claimed after one batch, not two (`claim_size`)."""
MAX_BACKOFF = timedelta(minutes=30)
PARK_FOR = timedelta(hours=6)  # a permanent error is retried only after a change, or after this

REMOTE_DELETED_WORDS = (
    "Deleted in Microsoft 365; restore it or unbind. The account is in Microsoft 365's recycle bin "
    "(Deleted users) for 30 days after its deletion; Lockstep never re-creates it on its own."
)
REMOTE_PURGED_WORDS = (
    "Deleted permanently in Microsoft 365 (purged from the recycle bin); unbind, then bind again to "
    "create a new account."
)
ADMIN_ROLE_WORDS = (
    "Lockstep may not change this account: it probably holds an admin role that needs a higher directory "
    "role than Lockstep's app has (Privileged Authentication Administrator or Global Administrator). "
    "Change it in the Microsoft 365 admin center, or remove its admin role, then retry."
)


# What a pass stores on every binding it handled; never the versions (a concurrent change must
# not be overwritten by a pass). The user and group passes add their own fields.
PASS_FIELDS: tuple[str, ...] = (
    "remote_id",
    "last_applied",
    "status",
    "last_error",
    "last_error_code",
    "attempts",
    "retry_at",
    "lease_until",
    "lease_owner",
    "synced_at",
    "remote_created_at",
)


def backoff(attempts: int, rng: random.Random | None = None) -> timedelta:
    """Exponential backoff with full jitter: 2, 4, 8 ... seconds, capped."""
    rng = rng or random.Random()
    ceiling = min(MAX_BACKOFF.total_seconds(), 2.0 ** max(1, attempts))
    return timedelta(seconds=rng.uniform(ceiling / 2, ceiling))


def retry_delay(attempts: int, retry_after: float | None = None) -> timedelta:
    """When to try a transient failure again: after Graph's Retry-After when it sent one (a
    throttled write must not come back before Graph allows it), else after `backoff`."""
    if retry_after is not None:
        return timedelta(seconds=max(0.0, retry_after))
    return backoff(attempts)


def random_password() -> str:
    """A password nobody knows that satisfies Microsoft's policy (all four classes, 32 chars)."""
    alphabet = string.ascii_letters + string.digits + "-_.!#"
    while True:
        value = "".join(secrets.choice(alphabet) for _ in range(32))
        if (
            any(c.islower() for c in value)
            and any(c.isupper() for c in value)
            and any(c.isdigit() for c in value)
            and any(c in "-_.!#" for c in value)
        ):
            return value


@dataclass
class PassResult:
    claimed: int = 0
    writes: int = 0
    errors: int = 0
    held: int = 0
    paused: str = ""
    notes: list[str] = field(default_factory=list)
    restore_offered: int = 0
    healthy: bool | None = None  # port.healthy(), asked at most once per pass
    deleted_users: list[dict[str, Any]] | None = None  # the recycle bin, listed at most once per pass
    audit_rows: list[AuditEvent] = field(default_factory=list)  # the writes' audit rows, saved with the pass


def _dirty(now: datetime) -> Q:
    return (
        Q(desired_version__gt=F("applied_version"))
        & (Q(retry_at__isnull=True) | Q(retry_at__lte=now))
        & (Q(lease_until__isnull=True) | Q(lease_until__lt=now))
    )


def claim_size(port: Any, limit: int) -> int:
    """How many user bindings to claim: `limit`, or one batch while the tenant is refill-bound
    (its bucket, as the last write left it, holds less than a full chunk beyond the reserve)."""
    room_of = getattr(port, "write_room", None)
    room = room_of() if callable(room_of) else None
    if room is None or room >= limit + lanes.INTERACTIVE_RESERVE:
        return limit
    return min(limit, BATCH_CLAIM)


@dataclass
class Claim:
    ids: list[int]
    interactive: set[int]  # of `ids`, those claimed in the interactive lane


def claim(
    model: type[UserBinding] | type[GroupBinding], directory: Directory, worker: str, limit: int
) -> list[int]:
    """The ids `claim_lanes` leased."""
    return claim_lanes(model, directory, worker, limit).ids


def claim_lanes(
    model: type[UserBinding] | type[GroupBinding], directory: Directory, worker: str, limit: int
) -> Claim:
    """Lease dirty bindings to this worker; other workers skip rows being claimed.

    The interactive lane first (at most `lanes.split(limit)`, by `interactive_at`), then bulk
    work by `changed_at`; room bulk work leaves goes to more interactive bindings. The lease
    takes a binding out of the interactive lane (a later hand-made change puts it back); the
    claim says which were in it, so their writes may use the lane's reserve (`lanes.priority`).
    """
    now = timezone.now()
    with transaction.atomic():
        dirty = model.objects.filter(_dirty(now), directory=directory).exclude(status=SyncStatus.HELD)
        interactive = _ids(dirty.filter(interactive_at__isnull=False).order_by("interactive_at", "id"), limit)
        first = interactive[: lanes.split(limit)]
        bulk = _ids(
            dirty.filter(interactive_at__isnull=True).order_by("changed_at", "id"), limit - len(first)
        )
        more = interactive[len(first) : limit - len(bulk)]
        ids = first + bulk + more
        if ids:
            lease = timedelta(seconds=settings.M365_LEASE_SECONDS)
            model.objects.filter(id__in=ids).update(
                lease_until=now + lease, lease_owner=worker, interactive_at=None
            )
    return Claim(ids=ids, interactive=set(first + more))


def _ids(queryset: Any, limit: int) -> list[int]:
    if limit <= 0:
        return []
    if connection.vendor == "postgresql":
        queryset = queryset.select_for_update(skip_locked=True)
    return list(queryset.values_list("id", flat=True)[:limit])


def verified_domains(directory: Directory) -> set[str]:
    return set(directory.domains.filter(is_verified=True).values_list("name", flat=True))


def federated_domains(directory: Directory) -> set[str]:
    return set(directory.domains.filter(authentication_type="Federated").values_list("name", flat=True))

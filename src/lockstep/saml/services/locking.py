"""One federation change of an organization at a time.

Publishing or promoting a key, federating and rolling back all read the organization's keys and
domains, then write Microsoft 365 and Lockstep's record of it. Two of them at once (two owners,
a double click) could promote a key twice or make two NEXT keys: each holds the organization's
row (`select_for_update`) for its whole run, so the second waits and then sees the first's result.

The lock is a transaction: whatever must be kept when the action then fails (a domain's last
error, an audit entry) is written inside it and the error raised only after it is left.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction

from lockstep.directory.models import Organization


@contextmanager
def organization_lock(organization_id: int) -> Iterator[None]:
    """Hold the organization's row until the block ends (committed unless it raises)."""
    with transaction.atomic():
        list(Organization.objects.select_for_update().filter(pk=organization_id).values_list("pk"))
        yield

"""Domain events the core sends after commit; adapters (Microsoft 365, mail) subscribe.

A plaintext password travels only inside `password_set`, in memory, never stored or queued.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.dispatch import Signal

user_changed = Signal()  # kwargs: organization_id, user_id, fields (list[str])
user_deleted = Signal()  # kwargs: organization_id, user_id, immutable_id
password_set = Signal()  # kwargs: organization_id, user_id, password (plaintext, in memory only)
group_changed = Signal()  # kwargs: organization_id, group_id, fields
group_deleted = Signal()  # kwargs: organization_id, group_id
membership_changed = Signal()  # kwargs: organization_id, group_id, added (list[int]), removed (list[int])


def send_on_commit(signal: Signal, **kwargs: Any) -> None:
    transaction.on_commit(lambda: signal.send(sender=None, **kwargs))

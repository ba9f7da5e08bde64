"""Domain events the core emits; adapters (Microsoft 365, mail) subscribe.

Events are delivered inside the transaction that made the change, so a subscriber's
bookkeeping (e.g. bumping a binding's desired version, holding a password encrypted
until delivery) commits or rolls back together with the change. Subscribers never talk
to the network from a receiver: they register `transaction.on_commit` hooks for that.
A plaintext password travels only inside `password_set` and `password_presented`, in memory;
it is never queued.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import Signal

user_changed = Signal()  # kwargs: organization_id, user_id, fields (list[str]; ["*"] on create)
# The same for many users at once (bulk actions, CSV import): one delivery instead of one per user.
# A subscriber of user_changed must subscribe to this too.
users_changed = Signal()  # kwargs: organization_id, user_ids (list[int]), fields (list[str])
user_deleting = Signal()  # kwargs: organization_id, user_id, immutable_id (sent before the row goes)
# kwargs: organization_id, user_id, password (plaintext, in memory only), how: one of "initial"
# (admin at creation), "admin" (admin set it), "change" (the user in the User Portal), "reset"
# (a reset link), "activation" (an activation link). Every bound directory gets it (SPEC 3).
password_set = Signal()
# The user typed their correct password at a User Portal sign-in (kwargs: organization_id, user_id,
# password). With password takeover on, directories bound since the last delivery get it (SPEC 3).
password_presented = Signal()
# A user was bound to a directory (kwargs: organization_id, user_id, directory_id): the User Portal
# sends the added-to-directory or password-reset email the organization's settings call for.
user_bound = Signal()
group_changed = Signal()  # kwargs: organization_id, group_id, fields
group_deleting = Signal()  # kwargs: organization_id, group_id (sent before the row goes)
# kwargs: organization_id, group_id, added (list[int]), removed (list[int]), and bulk=True when a
# bulk action made the change (adapters queue it behind changes made by hand).
membership_changed = Signal()


def emit(signal: Signal, **kwargs: Any) -> None:
    """Deliver an event to its subscribers now, inside the caller's transaction."""
    signal.send(sender=None, **kwargs)

"""Background jobs of the outbox: a drain after each send, and a periodic drain for retries."""

from __future__ import annotations

from datetime import timedelta

from lockstep.mail import delivery
from lockstep.ops.background import background, periodic

BATCHES_PER_TASK = 20
"""A drain task sends up to this many batches, then leaves the rest to the next one."""


@background()
def drain_outbox() -> int:
    """Send what is due, batch after batch, while batches come back full."""
    sent = 0
    for _ in range(BATCHES_PER_TASK):
        result = delivery.drain_batch(limit=delivery.BATCH)
        sent += result.sent
        if result.claimed < delivery.BATCH:
            break
    return sent


@periodic(every=timedelta(seconds=15), name="mail.drain_due")
def drain_due() -> None:
    """Enqueue a drain when an email is due (a retry whose time came, or one whose wake-up was lost)."""
    if delivery.due().exists():
        drain_outbox.enqueue()

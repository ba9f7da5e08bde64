"""How long a federation change takes to reach every Microsoft 365 sign-in.

Microsoft says a federation change can take up to two hours to reach every sign-in
(LOCKSTEP_FEDERATION_PROPAGATION_MINUTES, default 120). Until then a change is shown as in
progress, not failed, and a certificate published as next is not yet relied on: promoting it
earlier could fail sign-ins on the servers that have not seen it yet.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone


def propagation() -> dt.timedelta:
    return dt.timedelta(minutes=float(settings.FEDERATION_PROPAGATION_MINUTES))


def settled_at(changed_at: dt.datetime) -> dt.datetime:
    return changed_at + propagation()


def in_progress(changed_at: dt.datetime | None, *, now: dt.datetime | None = None) -> bool:
    return changed_at is not None and (now or timezone.now()) < settled_at(changed_at)

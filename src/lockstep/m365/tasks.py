"""Background jobs of the Microsoft 365 integration: the import listing and the import itself,
and the periodic erasure of held passwords past their time.

Both bodies are resumable: a job re-run after its worker died (the reaper re-queues it)
starts the listing again, or continues the import where it stopped. The services start these
jobs by name (`lockstep.m365.jobs.enqueue_on_commit`), so only this module imports the other.
"""

from __future__ import annotations

from datetime import timedelta

from lockstep.m365 import password_delivery
from lockstep.m365.services.import_batches import run_import
from lockstep.m365.services.import_scans import run_scan
from lockstep.ops import background as ops_background
from lockstep.ops.background import background, periodic


@background()
def scan_directory(*, scan_id: int) -> None:
    """List a directory's users into import candidates (`services.imports.scan_candidates`)."""
    run_scan(scan_id=scan_id)


@background()
def import_accounts(*, batch_id: int) -> None:
    """Run an import batch (`services.imports.start_import`)."""
    run_import(batch_id=batch_id)


@periodic(every=timedelta(minutes=5), name="m365.expire_held_passwords")
def expire_held_passwords() -> None:
    """Erase held passwords past `PASSWORD_HOLD_HOURS`; their bindings say the password expired."""
    password_delivery.expire_held_passwords(now=ops_background.clock())

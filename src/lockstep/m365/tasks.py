"""Background jobs of the Microsoft 365 integration: the import listing and the import itself.

Both bodies are resumable: a job re-run after its worker died (the reaper re-queues it)
starts the listing again, or continues the import where it stopped.
"""

from __future__ import annotations

from lockstep.ops.background import background


@background()
def scan_directory(*, scan_id: int) -> None:
    """List a directory's users into import candidates (`services.imports.scan_candidates`)."""
    from lockstep.m365.services import imports

    imports.run_scan(scan_id=scan_id)


@background()
def import_accounts(*, batch_id: int) -> None:
    """Run an import batch (`services.imports.start_import`)."""
    from lockstep.m365.services import imports

    imports.run_import(batch_id=batch_id)

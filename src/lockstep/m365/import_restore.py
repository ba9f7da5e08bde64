"""Put an undone import's old values back in Microsoft 365 (run by the sync loop, like every write).

An undo with "put the old values back" queues one `ImportRestore` per account Lockstep changed
(`services.import_undo`). Each sync round, this pass reads those accounts (one `$batch`) and writes
back every old value whose property still holds what Lockstep wrote; a property changed in
Microsoft 365 since is left as it is and named in the row's result. Writes go through the engine's
`GraphPort` (its `$batch`, budget and error mapping); transient failures are retried with
backoff, other failures are recorded in plain words. One audit row per account.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from lockstep.directory import audit
from lockstep.directory.actors import Actor
from lockstep.m365 import takeover_values
from lockstep.m365.graph.odata import select as odata_select
from lockstep.m365.models import Directory, ImportRestore
from lockstep.m365.port import GraphPort, WriteOutcome, WriteRequest

PER_PASS = 20  # one `$batch` of reads, one of writes
MAX_ATTEMPTS = 8


def run_restore_pass(directory: Directory, port: GraphPort) -> int:
    """Write back up to `PER_PASS` queued old values of `directory`; returns how many rows were handled."""
    now = timezone.now()
    rows = list(
        ImportRestore.objects.filter(directory=directory, state="pending")
        .filter(Q(retry_at__isnull=True) | Q(retry_at__lte=now))
        .order_by("id")[:PER_PASS]
    )
    if not rows:
        return 0
    reads = port.write([_read(row) for row in rows])
    todo: list[tuple[ImportRestore, dict[str, Any], list[str]]] = []
    for row, read in zip(rows, reads, strict=True):
        if not read.ok:
            _failed(row, read, "read")
            continue
        current = read.body or {}
        patch = {
            p: v for p, v in row.values.items() if takeover_values.same(current.get(p), row.written.get(p))
        }
        left = [
            p
            for p in row.values
            if p not in patch and not takeover_values.same(current.get(p), row.values[p])
        ]
        if not patch:
            _done(directory, row, {}, left)
            continue
        todo.append((row, patch, left))
    if todo:
        outcomes = port.write(
            [WriteRequest("PATCH", f"/users/{row.remote_id}", patch) for row, patch, _ in todo]
        )
        for (row, patch, left), outcome in zip(todo, outcomes, strict=True):
            if outcome.ok:
                _done(directory, row, patch, left)
            else:
                _failed(row, outcome, "write")
    return len(rows)


def _read(row: ImportRestore) -> WriteRequest:
    return WriteRequest("GET", f"/users/{row.remote_id}?$select={odata_select(['id', *row.values])}")


def _done(directory: Directory, row: ImportRestore, patch: dict[str, Any], left: list[str]) -> None:
    words = "; ".join(
        takeover_values.RemoteChange(p, row.written.get(p), v, True).label
        + f": put back {takeover_values.shown(v)}"
        for p, v in patch.items()
    )
    if left:
        names = ", ".join(takeover_values.label_of(p) for p in left)
        words = f"{words}; " if words else ""
        words += f"left as it is (changed in Microsoft 365 since the import): {names}"
    with transaction.atomic():
        row.state, row.result, row.finished_at = "done", words or "Nothing to put back.", timezone.now()
        row.save(update_fields=["state", "result", "finished_at"])
        if patch:
            audit.record(
                actor=Actor.system(directory.organization_id, f"Microsoft 365 sync ({directory.name})"),
                action="m365.import.restore",
                target_type="user",
                target_id=row.user_ref or "",
                target_label=row.upn,
                before={"directory": directory.pk, **{p: row.written.get(p) for p in patch}},
                after={"directory": directory.pk, "import_batch": row.batch_id, **patch},
            )


def _failed(row: ImportRestore, outcome: WriteOutcome, step: str) -> None:
    row.attempts += 1
    words = outcome.plain_words or outcome.message or f"HTTP {outcome.status}"
    if outcome.status == 404:
        row.state, row.result = "failed", "The account is gone from Microsoft 365; nothing was put back."
    elif outcome.error_kind == "transient" and row.attempts < MAX_ATTEMPTS:
        row.retry_at = timezone.now() + timedelta(seconds=min(1800, 2**row.attempts))
        row.result = f"Microsoft 365 did not answer the {step}; trying again: {words}"
    else:
        row.state, row.result = "failed", f"Could not put the old values back: {words}"
    if row.state == "failed":
        row.finished_at = timezone.now()
    row.save(update_fields=["state", "result", "attempts", "retry_at", "finished_at"])

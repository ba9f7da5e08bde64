"""Deactivate a directory (SPEC 2.6): export first, typed confirmation, then forget everything.

Deactivating permanently deletes what Lockstep holds for the directory — bindings and their
remote ids, the app credentials, delta links, held writes, import scans and batches, sync
activity, the tenant's Graph budget row — and sends nothing to Microsoft 365: its accounts and
groups stay exactly as they are. Reactivating means adding the directory again, from nothing.
The audit log (organization-level) keeps a row of the deactivation.
"""

from __future__ import annotations

import csv
import io

from django.db import transaction

from lockstep.directory import audit
from lockstep.directory.actors import Actor
from lockstep.directory.csv_cells import safe_cell
from lockstep.directory.errors import ValidationFailed
from lockstep.m365.models import Directory, GraphBudget, PendingPassword, UserBinding
from lockstep.m365.services.bindings import get_directory

EXPORT_COLUMNS = [
    "kind",
    "name",
    "email",
    "remote_id",
    "user_principal_name",
    "status",
    "last_error",
    "last_sync",
]
REACTIVATION_NOTE = (
    "Deactivating deletes everything Lockstep holds for this directory (bindings, remote ids, "
    "credentials, sync history) and changes nothing in Microsoft 365. Reactivating starts from "
    "nothing: add the directory again, then import or bind its users anew."
)


def export_bindings(*, actor: Actor, directory_id: int) -> str:
    """The directory's user and group bindings as CSV (offered before deactivating)."""
    directory = get_directory(actor=actor, directory_id=directory_id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    users = directory.user_bindings.select_related("user").order_by("id")
    for b in users.iterator():
        writer.writerow(
            [
                safe_cell(v)
                for v in (
                    "user",
                    b.user.username if b.user else "",
                    b.user.email if b.user else "",
                    b.remote_id,
                    b.remote_upn,
                    b.status,
                    b.last_error,
                    b.synced_at.isoformat() if b.synced_at else "",
                )
            ]
        )
    for g in directory.group_bindings.select_related("group").order_by("id").iterator():
        writer.writerow(
            [
                safe_cell(v)
                for v in (
                    "group",
                    g.group.name if g.group else "",
                    "",
                    g.remote_id,
                    "",
                    g.status,
                    g.last_error,
                    g.synced_at.isoformat() if g.synced_at else "",
                )
            ]
        )
    audit.record(
        actor=actor,
        action="directory.export_bindings",
        target_type="directory",
        target_id=directory.pk,
        target_label=directory.name,
    )
    return out.getvalue()


def deactivate_directory(*, actor: Actor, directory_id: int, typed_confirmation: str) -> dict[str, int]:
    """Permanently forget the directory; `typed_confirmation` must be its name, exactly.

    Returns how many bindings, held writes and import batches were deleted.
    """
    actor.require_write()
    with transaction.atomic():
        directory = get_directory(actor=actor, directory_id=directory_id)
        if not isinstance(typed_confirmation, str) or typed_confirmation.strip() != directory.name:
            raise ValidationFailed(
                {
                    "confirmation": [
                        f"Type the directory's name exactly ({directory.name}) to confirm. "
                        + REACTIVATION_NOTE
                    ]
                }
            )
        counts = {
            "user_bindings": directory.user_bindings.count(),
            "group_bindings": directory.group_bindings.count(),
            "held_writes": directory.held_writes.count(),
            "import_batches": directory.import_batches.count(),
        }
        user_ids = list(
            UserBinding.objects.filter(
                directory=directory, password_pending=True, user__isnull=False
            ).values_list("user_id", flat=True)
        )
        tenant_id, name, pk = directory.tenant_id, directory.name, directory.pk
        Directory.objects.filter(
            pk=pk
        ).delete()  # cascades: bindings, domains, held writes, imports, activity
        if not Directory.objects.filter(tenant_id=tenant_id).exists():
            GraphBudget.objects.filter(tenant_id=tenant_id).delete()
        # A password held only for delivery to this directory has nowhere left to go.
        for user_id in user_ids:
            if not UserBinding.objects.filter(user_id=user_id, password_pending=True).exists():
                PendingPassword.objects.filter(user_id=user_id).delete()
        audit.record(
            actor=actor,
            action="directory.deactivate",
            target_type="directory",
            target_id=pk,
            target_label=name,
            after={"tenant_id": tenant_id, **counts},
        )

        def forget_client() -> None:
            from lockstep.m365.sync_loop import PORTS

            PORTS.forget(pk)

        transaction.on_commit(forget_client)
    return counts

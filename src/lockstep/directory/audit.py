"""Audit rows: written by services in the same transaction as the change."""

from __future__ import annotations

from typing import Any

from lockstep.directory.actors import Actor
from lockstep.directory.models import AuditEvent

# Never written to the audit log, whatever a caller passes.
SECRET_KEYS = frozenset(
    {"password", "password_hash", "initial_password", "totp_secret_encrypted", "secret", "digest", "token"}
)


def scrub(values: dict[str, Any] | None) -> dict[str, Any] | None:
    if values is None:
        return None
    return {k: v for k, v in values.items() if k not in SECRET_KEYS}


def build(
    *,
    actor: Actor,
    action: str,
    target_type: str = "",
    target_id: object = "",
    target_label: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """An unsaved audit row, for `record_many`."""
    return AuditEvent(
        organization_id=actor.organization_id,
        actor_kind=actor.kind,
        actor_id=actor.id,
        actor_label=actor.label,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        target_label=target_label[:300],
        before=scrub(before),
        after=scrub(after),
    )


def record_many(rows: list[AuditEvent]) -> None:
    """Save many audit rows in as few INSERTs as the database allows (bulk actions)."""
    AuditEvent.objects.bulk_create(rows, batch_size=500)


def record(
    *,
    actor: Actor,
    action: str,
    target_type: str = "",
    target_id: object = "",
    target_label: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Save one audit row (the same row `build` makes)."""
    event = build(
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_label=target_label,
        before=before,
        after=after,
    )
    event.save(force_insert=True)
    return event

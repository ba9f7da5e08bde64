"""/audit-events: who did what to which object, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from lockstep.api.auth import actor_of
from lockstep.api.errors import error_responses
from lockstep.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, NEWEST_FIRST, paginate
from lockstep.directory.actors import Actor
from lockstep.directory.errors import NotFound
from lockstep.directory.models import AuditEvent

router = Router(tags=["audit"])


class AuditEventOut(Schema):
    id: int
    at: datetime
    actor_kind: str = Field(description="admin, api_key, user or system.")
    actor_id: str
    actor_label: str
    action: str = Field(description="e.g. user.create, user.suspend, group.add_members.")
    target_type: str
    target_id: str
    target_label: str
    before: dict[str, Any] | None = Field(description="Changed values before (never a secret).")
    after: dict[str, Any] | None = Field(description="Changed values after (never a secret).")


class AuditPageOut(Schema):
    items: list[AuditEventOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


def events_of(actor: Actor) -> QuerySet[AuditEvent]:
    """Read-only: the audit rows of the caller's organization (services write them)."""
    return AuditEvent.objects.filter(organization_id=actor.organization_id)


@router.get(
    "/audit-events", response={200: AuditPageOut, **error_responses(422)}, summary="List audit events"
)
def list_audit_events(
    request: HttpRequest,
    action: str | None = Query(None, description="Exact action, e.g. user.create."),
    target_type: str | None = Query(None, description="user, group, api_key, organization, administrator."),
    target_id: str | None = None,
    cursor: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    queryset = events_of(actor_of(request))
    if action:
        queryset = queryset.filter(action=action)
    if target_type:
        queryset = queryset.filter(target_type=target_type)
    if target_id:
        queryset = queryset.filter(target_id=target_id)
    page = paginate(queryset, NEWEST_FIRST, cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.get(
    "/audit-events/{int:event_id}",
    response={200: AuditEventOut, **error_responses(404)},
    summary="Get an audit event",
)
def get_audit_event(request: HttpRequest, event_id: int) -> AuditEvent:
    event = events_of(actor_of(request)).filter(pk=event_id).first()
    if event is None:
        raise NotFound("audit_event", event_id)
    return event

"""/emails: the organization's outbox, newest first, with each email's status in plain words."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from lockstep.api.auth import actor_of
from lockstep.api.errors import error_responses
from lockstep.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, NEWEST_CREATED_FIRST, paginate
from lockstep.directory.actors import Actor
from lockstep.directory.errors import NotFound, ValidationFailed
from lockstep.mail import delivery
from lockstep.mail.models import EmailKind, EmailStatus, OutboundEmail
from lockstep.mail.status import status_words

router = Router(tags=["emails"])


class EmailOut(Schema):
    id: int
    kind: str = Field(description=", ".join(EmailKind.values) + ".")
    user_id: int | None = Field(description="The user it was sent to or about; null for a test email.")
    to_address: str
    from_address: str
    subject: str
    status: str = Field(description="queued, retrying, sent or failed (after the last attempt).")
    status_words: str = Field(description='e.g. "Sent 2026-12-01 10:02", "Failed after 30 attempts: ...".')
    attempts: int
    last_error: str = Field(description="Why the last attempt failed, in plain words (empty when none did).")
    created_at: datetime
    next_attempt_at: datetime | None = Field(description="When the next attempt is due (queued or retrying).")
    sent_at: datetime | None

    @staticmethod
    def resolve_status_words(obj: OutboundEmail) -> str:
        return status_words(obj)

    @staticmethod
    def resolve_next_attempt_at(obj: OutboundEmail) -> datetime | None:
        return obj.next_attempt_at if obj.status in delivery.PENDING else None


class EmailPageOut(Schema):
    items: list[EmailOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


def emails_of(actor: Actor) -> QuerySet[OutboundEmail]:
    return OutboundEmail.objects.filter(organization_id=actor.organization_id)


@router.get("/emails", response={200: EmailPageOut, **error_responses(422)}, summary="List emails")
def list_emails(
    request: HttpRequest,
    status: str | None = Query(None, description="queued, retrying, sent or failed."),
    user_id: int | None = Query(None, description="Only the emails of this user."),
    cursor: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    queryset = emails_of(actor_of(request))
    if status is not None:
        if status not in EmailStatus.values:
            raise ValidationFailed({"status": [f"Must be one of: {', '.join(EmailStatus.values)}."]})
        queryset = queryset.filter(status=status)
    if user_id is not None:
        queryset = queryset.filter(user_id=user_id)
    page = paginate(queryset, NEWEST_CREATED_FIRST, cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.get(
    "/emails/{int:email_id}", response={200: EmailOut, **error_responses(404)}, summary="Get an email"
)
def get_email(request: HttpRequest, email_id: int) -> OutboundEmail:
    email = emails_of(actor_of(request)).filter(pk=email_id).first()
    if email is None:
        raise NotFound("email", email_id)
    return email


@router.post(
    "/emails/{int:email_id}/resend",
    response={200: EmailOut, **error_responses(403, 404, 409)},
    summary="Send a failed email again",
)
def resend_email(request: HttpRequest, email_id: int) -> OutboundEmail:
    return delivery.resend(actor=actor_of(request), email_id=email_id)

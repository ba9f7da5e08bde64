"""What the portals show of emails: each user's latest, and a row's status in plain words."""

from __future__ import annotations

from django.db.models import OuterRef, Subquery

from lockstep.mail.models import EmailStatus, OutboundEmail


def latest_by_user(user_ids: list[int]) -> dict[int, OutboundEmail]:
    """The newest email of each of `user_ids` that has one (one query)."""
    if not user_ids:
        return {}
    newest = (
        OutboundEmail.objects.filter(user_id=OuterRef("user_id"))
        .order_by("-created_at", "-pk")
        .values("pk")[:1]
    )
    rows = OutboundEmail.objects.filter(user_id__in=user_ids, pk=Subquery(newest))
    return {row.user_id: row for row in rows if row.user_id is not None}


def status_words(email: OutboundEmail) -> str:
    """ "Sent 2026-12-01 10:02", "Waiting to retry: <error>", "Failed after 30 attempts: <error>"."""
    if email.status == EmailStatus.SENT and email.sent_at is not None:
        return f"Sent {email.sent_at:%Y-%m-%d %H:%M}"
    if email.status == EmailStatus.RETRYING:
        return f"Waiting to retry at {email.next_attempt_at:%H:%M}: {email.last_error}"
    if email.status == EmailStatus.FAILED:
        attempts = "1 attempt" if email.attempts == 1 else f"{email.attempts} attempts"
        return f"Failed after {attempts}: {email.last_error}"
    return "Queued, not sent yet"

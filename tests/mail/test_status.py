"""Each user's latest email in one query, and a row's status in plain words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from lockstep.directory.actors import Actor
from lockstep.directory.models import Organization
from lockstep.directory.services import users
from lockstep.mail import outbox
from lockstep.mail.models import EmailKind, EmailStatus, OutboundEmail
from lockstep.mail.status import latest_by_user, status_words


def test_latest_by_user_is_one_query(
    org: Organization, actor: Actor, clock: Any, django_assert_num_queries: Any
) -> None:
    adele = users.create_user(actor=actor, fields={"username": "adele", "email": "adele@contoso.com"})
    megan = users.create_user(actor=actor, fields={"username": "megan", "email": "megan@contoso.com"})
    nobody = users.create_user(actor=actor, fields={"username": "nobody", "email": "nobody@contoso.com"})
    sent = {}
    for user, kinds in ((adele, ["welcome", "password_changed"]), (megan, ["test"])):
        for kind in kinds:
            sent[user.pk] = outbox.send(organization=org, kind=kind, to=user.email, context={}, user=user)
            clock.advance(timedelta(minutes=1))
    with django_assert_num_queries(1):
        latest = latest_by_user([adele.pk, megan.pk, nobody.pk])
    assert {k: v.pk for k, v in latest.items()} == {adele.pk: sent[adele.pk].pk, megan.pk: sent[megan.pk].pk}
    assert latest[adele.pk].kind == EmailKind.PASSWORD_CHANGED
    assert latest_by_user([]) == {}


def test_status_words() -> None:
    at = datetime(2026, 12, 1, 10, 2, tzinfo=UTC)
    email = OutboundEmail(status=EmailStatus.QUEUED, next_attempt_at=at)
    assert status_words(email) == "Queued, not sent yet"
    email.status, email.sent_at = EmailStatus.SENT, at
    assert status_words(email) == "Sent 2026-12-01 10:02"
    email.status, email.last_error, email.attempts = EmailStatus.RETRYING, "The mail server refused", 2
    assert status_words(email) == "Waiting to retry at 10:02: The mail server refused"
    email.status = EmailStatus.FAILED
    assert status_words(email) == "Failed after 2 attempts: The mail server refused"
    email.attempts = 1
    assert status_words(email) == "Failed after 1 attempt: The mail server refused"


def test_metrics_count_waiting_and_failed_emails(client: Any, org: Organization, clock: Any) -> None:
    for n in range(3):
        outbox.send(organization=org, kind=EmailKind.TEST, to=f"u{n}@contoso.com", context={})
    OutboundEmail.objects.filter(to_address="u0@contoso.com").update(status=EmailStatus.FAILED)
    OutboundEmail.objects.filter(to_address="u1@contoso.com").update(status=EmailStatus.SENT)
    clock.advance(timedelta(seconds=90))
    body = client.get("/metrics").content.decode()
    assert 'lockstep_outbox_emails{status="queued"} 1.0' in body
    assert 'lockstep_outbox_emails{status="failed"} 1.0' in body
    assert 'lockstep_outbox_emails{status="retrying"} 0.0' in body
    assert "lockstep_outbox_oldest_due_age_seconds 90.0" in body

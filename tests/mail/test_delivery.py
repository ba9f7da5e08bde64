"""The outbox drained to a real SMTP server: multipart messages, retries through an outage, leases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection, transaction

from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from lockstep.directory.models import AuditEvent, Organization, User
from lockstep.mail import delivery, outbox
from lockstep.mail.body import open_body
from lockstep.mail.models import EmailKind, EmailStatus, OutboundEmail
from lockstep.mail.status import status_words
from lockstep.testing.smtp import smtp_server

LINK = "https://id.example.com/portal/activate/Zq8-secret-token-41/"
EXPIRES = datetime(2026, 12, 8, 9, 30, tzinfo=UTC)


def queue(org: Organization, to: str = "adele@contoso.com", user: User | None = None) -> OutboundEmail:
    return outbox.send(
        organization=org,
        kind=EmailKind.ACTIVATION,
        to=to,
        context={"user_name": "Adele Vance", "link": LINK, "expires_at": EXPIRES},
        user=user,
    )


def raw_rows() -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {OutboundEmail._meta.db_table}")
        return list(cursor.fetchall())


def test_a_queued_email_reaches_the_mail_server_as_multipart(org: Organization, mailbox: Any) -> None:
    org.email_sender_name = "Contoso IT"
    org.email_sender_address = "it@contoso.com"
    org.save()
    email = queue(org)
    assert email.status == EmailStatus.QUEUED
    assert delivery.drain() == 1
    [received] = mailbox.wait_for("adele@contoso.com")
    assert received.message.get_content_type() == "multipart/alternative"
    assert received.message["From"] == "Contoso IT <it@contoso.com>"
    assert received.sender == "it@contoso.com"
    assert received.to == "adele@contoso.com"
    assert received.subject == "Activate your Contoso Ltd account"
    assert received.links() == [LINK]
    assert LINK in received.html and "Adele Vance" in received.html
    email.refresh_from_db()
    assert (email.status, email.attempts, email.last_error) == (EmailStatus.SENT, 1, "")
    assert email.sent_at is not None and status_words(email).startswith("Sent ")
    assert delivery.drain() == 0  # sent once


def test_the_body_is_encrypted_until_sent_and_erased_after(org: Organization, mailbox: Any) -> None:
    email = queue(org)
    stored = " ".join(str(value) for row in raw_rows() for value in row)
    assert "Zq8-secret-token-41" not in stored and "Adele Vance" not in stored
    assert email.body_encrypted.startswith("v1:")
    text, html = open_body(email)
    assert LINK in text and LINK in html
    delivery.drain()
    email.refresh_from_db()
    assert email.body_encrypted == ""
    assert "Zq8-secret-token-41" not in " ".join(str(value) for row in raw_rows() for value in row)


def test_a_body_moved_to_another_recipient_does_not_decrypt(org: Organization) -> None:
    email = queue(org)
    email.to_address = "mallory@example.com"
    with pytest.raises(Exception):  # noqa: B017 - AES-GCM refuses it (InvalidTag)
        open_body(email)


@pytest.mark.parametrize(
    "bad", ["", "no-at-sign", "a@b.com\r\nBcc: x@y.com", "a@b.com, c@d.com", "x" * 250 + "@b.com"]
)
def test_a_bad_recipient_is_refused_before_queueing(org: Organization, bad: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        queue(org, to=bad)
    assert "to" in refused.value.errors
    assert not OutboundEmail.objects.exists()


def test_a_recipient_at_the_length_limit_is_queued(org: Organization) -> None:
    longest = "x" * 248 + "@b.com"
    assert len(longest) == outbox.ADDRESS_MAX
    assert queue(org, to=longest).to_address == longest
    with pytest.raises(ValidationFailed):
        queue(org, to="x" + longest)


def test_a_mail_server_outage_loses_nothing(org: Organization, clock: Any, dead_port: int) -> None:
    email = queue(org)
    assert delivery.drain() == 0
    email.refresh_from_db()
    assert email.status == EmailStatus.RETRYING and email.attempts == 1
    assert email.last_error == f"The mail server at 127.0.0.1:{dead_port} refused the connection"
    assert "Zq8" not in email.last_error
    assert email.next_attempt_at == clock.now + timedelta(seconds=30)
    assert status_words(email).startswith("Waiting to retry")
    assert email.body_encrypted  # kept for the next attempt

    clock.advance(timedelta(seconds=29))
    assert delivery.drain_batch().claimed == 0  # not due yet
    clock.advance(timedelta(seconds=1))
    assert delivery.drain() == 0  # second attempt, still down
    email.refresh_from_db()
    assert email.attempts == 2 and email.next_attempt_at == clock.now + timedelta(seconds=60)

    with smtp_server(port=dead_port) as server:  # the mail server is back, on the same port
        clock.advance(timedelta(seconds=60))
        assert delivery.drain() == 1
        assert delivery.drain() == 0
        clock.advance(timedelta(hours=2))
        assert delivery.drain() == 0
        [received] = server.mailbox.wait_for("adele@contoso.com")
        assert received.links() == [LINK]
        assert len(server.mailbox.messages) == 1
    email.refresh_from_db()
    assert email.status == EmailStatus.SENT and email.attempts == 3 and email.last_error == ""


def test_backoff_doubles_to_an_hour_and_rides_out_about_a_day() -> None:
    assert delivery.backoff(1) == timedelta(seconds=30)
    assert delivery.backoff(2) == timedelta(seconds=60)
    assert delivery.backoff(8) == timedelta(hours=1)
    assert delivery.backoff(29) == timedelta(hours=1)
    waited = sum((delivery.backoff(n) for n in range(1, delivery.MAX_ATTEMPTS)), timedelta())
    assert timedelta(hours=20) < waited < timedelta(hours=26)


def test_after_the_last_attempt_it_fails_and_an_admin_can_resend_it(
    org: Organization, actor: Actor, clock: Any, dead_port: int
) -> None:
    email = queue(org)
    for attempt in range(1, delivery.MAX_ATTEMPTS):
        assert delivery.drain_batch().claimed == 1
        email.refresh_from_db()
        assert (email.status, email.attempts) == (
            EmailStatus.RETRYING,
            attempt,
        )  # the limit - 1: still retrying
        clock.advance(delivery.backoff(attempt))
    assert delivery.drain_batch().claimed == 1
    email.refresh_from_db()
    assert (email.status, email.attempts) == (EmailStatus.FAILED, delivery.MAX_ATTEMPTS)
    assert status_words(email) == (
        f"Failed after {delivery.MAX_ATTEMPTS} attempts: The mail server at 127.0.0.1:{dead_port} refused the connection"
    )
    clock.advance(timedelta(days=2))
    assert delivery.drain_batch().claimed == 0  # failed stays failed

    resent = delivery.resend(actor=actor, email_id=email.pk)
    assert (resent.status, resent.attempts) == (EmailStatus.QUEUED, 0)
    event = AuditEvent.objects.get(action="email.resend")
    assert event.target_id == str(email.pk) and event.after == {"status": "queued"}
    with pytest.raises(Conflict):
        delivery.resend(actor=actor, email_id=email.pk)  # only a failed one
    with smtp_server(port=dead_port) as server:
        assert delivery.drain() == 1
        server.mailbox.wait_for("adele@contoso.com")


def test_resend_is_for_writers_of_the_same_organization(
    org: Organization, other_org: Organization, read_only_actor: Actor
) -> None:
    email = queue(org)
    OutboundEmail.objects.filter(pk=email.pk).update(status=EmailStatus.FAILED)
    with pytest.raises(PermissionDenied):
        delivery.resend(actor=read_only_actor, email_id=email.pk)
    with pytest.raises(NotFound):
        delivery.resend(actor=Actor.system(other_org.pk), email_id=email.pk)


def test_a_leased_email_is_not_sent_twice(org: Organization, mailbox: Any, clock: Any) -> None:
    email = queue(org)
    [held] = delivery.claim(limit=10)  # worker A took it (and, say, died before sending)
    assert held.pk == email.pk
    assert delivery.claim(limit=10) == []  # worker B finds nothing to take
    assert delivery.drain() == 0
    assert mailbox.messages == []
    clock.advance(delivery.lease_duration() + timedelta(seconds=1))  # A's lease ran out
    assert delivery.drain() == 1
    assert delivery.drain() == 0
    assert len(mailbox.wait_for("adele@contoso.com")) == 1


def test_claims_take_the_oldest_first_up_to_the_limit(org: Organization, clock: Any) -> None:
    emails = [queue(org, to=f"u{n}@contoso.com") for n in range(5)]
    first = delivery.claim(limit=3)
    assert [e.pk for e in first] == [e.pk for e in emails[:3]]
    assert [e.pk for e in delivery.claim(limit=3)] == [e.pk for e in emails[3:]]


def test_one_drain_task_per_transaction_however_many_emails(
    org: Organization, django_capture_on_commit_callbacks: Any
) -> None:
    from django_tasks_db.models import DBTaskResult

    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        for n in range(3):
            queue(org, to=f"u{n}@contoso.com")
    assert len(callbacks) == 1
    assert DBTaskResult.objects.filter(task_path="lockstep.mail.tasks.drain_outbox").count() == 1


def test_the_periodic_job_enqueues_a_drain_only_when_one_is_due(org: Organization, clock: Any) -> None:
    from django_tasks_db.models import DBTaskResult

    from lockstep.mail import tasks

    tasks.drain_due()
    assert not DBTaskResult.objects.exists()
    queue(org)
    tasks.drain_due()
    assert DBTaskResult.objects.filter(task_path="lockstep.mail.tasks.drain_outbox").count() == 1


def test_the_drain_task_sends_what_is_due(org: Organization, mailbox: Any) -> None:
    from lockstep.mail import tasks

    queue(org)
    assert tasks.drain_outbox.call() == 1
    mailbox.wait_for("adele@contoso.com")


def test_an_outage_stops_the_batch_after_one_attempt_and_the_rest_wait_untouched(
    org: Organization, clock: Any, dead_port: int
) -> None:
    emails = [queue(org, to=f"u{n}@contoso.com") for n in range(3)]
    result = delivery.drain_batch()
    assert result.claimed == 3 and result.sent == 0
    first, *rest = (OutboundEmail.objects.get(pk=e.pk) for e in emails)
    assert first.attempts == 1 and first.status == EmailStatus.RETRYING
    for email in rest:  # not tried: no attempt counted, no lease held, due at once
        assert (email.attempts, email.lease_until, email.status) == (0, None, EmailStatus.QUEUED)
    assert [e.pk for e in delivery.claim(limit=10)] == [e.pk for e in emails[1:]]


def test_a_refused_recipient_does_not_stop_the_batch(org: Organization, clock: Any, mailbox: Any) -> None:
    queue(org, to="refuse-me@contoso.com")
    queue(org, to="adele@contoso.com")
    original = delivery.message_of

    def refusing(email: OutboundEmail, conn: Any) -> Any:
        if email.to_address.startswith("refuse-me"):
            import smtplib

            raise smtplib.SMTPRecipientsRefused({email.to_address: (550, b"No such user")})
        return original(email, conn)

    delivery.message_of = refusing  # type: ignore[assignment]
    try:
        assert delivery.drain() == 1
    finally:
        delivery.message_of = original  # type: ignore[assignment]
    assert len(mailbox.wait_for("adele@contoso.com")) == 1


def test_an_email_whose_lease_another_worker_took_mid_batch_is_skipped(
    org: Organization, clock: Any, mailbox: Any
) -> None:
    first, second = queue(org, to="u1@contoso.com"), queue(org, to="u2@contoso.com")
    original = delivery.message_of

    def slow_first(email: OutboundEmail, conn: Any) -> Any:
        if email.pk == first.pk:  # meanwhile this batch's lease on `second` ran out and B took it
            OutboundEmail.objects.filter(pk=second.pk).update(lease_until=clock.now + timedelta(hours=1))
        return original(email, conn)

    delivery.message_of = slow_first  # type: ignore[assignment]
    try:
        assert delivery.drain_batch() == delivery.DrainResult(claimed=2, sent=1)
    finally:
        delivery.message_of = original  # type: ignore[assignment]
    mailbox.wait_for("u1@contoso.com")
    assert [m for m in mailbox.messages if "u2@contoso.com" in str(m)] == []
    assert OutboundEmail.objects.get(pk=second.pk).status == EmailStatus.QUEUED

"""Drain the outbox: claim due emails, send them over SMTP, record the outcome in plain words.

Several workers may drain at once: a worker claims a row by setting its lease (`lease_until`)
with a conditional UPDATE, so exactly one of them sends it. A failed attempt waits with
exponential backoff (30 s doubling up to 1 h); after MAX_ATTEMPTS attempts (about a day) the
email is `failed` and an admin can send it again (`resend`). A sent email's body is erased.

A batch stops at the first failure to reach the mail server (connection refused, timeout, TLS,
disconnect): the emails after it are released untouched instead of each waiting out the same
timeout. Before each email the worker renews its lease, so a batch slower than the lease never
lets a second worker send the same email.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from lockstep.directory import audit
from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict, NotFound
from lockstep.mail.body import open_body
from lockstep.mail.models import EmailStatus, OutboundEmail
from lockstep.mail.smtp_words import describe_failure, is_permanent

logger = logging.getLogger("lockstep.mail")

Clock = Callable[[], datetime]
clock: Clock = timezone.now  # module-level so tests can move time instead of sleeping

BATCH = 50
FIRST_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=1)
MAX_ATTEMPTS = 30
"""30 s, 1, 2, 4, 8, 16, 32 min, then hourly: the 30th attempt comes about 23 hours after the first."""
LEASE = timedelta(minutes=5)
PENDING = (EmailStatus.QUEUED, EmailStatus.RETRYING)


def backoff(attempts: int) -> timedelta:
    """How long to wait after `attempts` failed attempts."""
    return min(MAX_DELAY, FIRST_DELAY * (2 ** max(0, attempts - 1)))


def due(now: datetime | None = None) -> QuerySet[OutboundEmail]:
    """Emails waiting to be sent whose time has come and that no worker holds."""
    now = now or clock()
    return OutboundEmail.objects.filter(status__in=PENDING, next_attempt_at__lte=now).filter(
        Q(lease_until__isnull=True) | Q(lease_until__lte=now)
    )


def lease_duration() -> timedelta:
    return max(LEASE, timedelta(seconds=float(settings.EMAIL_TIMEOUT) * 4))


def claim(*, limit: int, now: datetime | None = None) -> list[OutboundEmail]:
    """Take up to `limit` due emails for this worker (oldest first); a row another worker took is skipped."""
    now = now or clock()
    lease = now + lease_duration()
    claimed = []
    for pk in due(now).order_by("next_attempt_at", "pk").values_list("pk", flat=True)[: limit * 2]:
        if due(now).filter(pk=pk).update(lease_until=lease):
            claimed.append(pk)
            if len(claimed) == limit:
                break
    return list(OutboundEmail.objects.filter(pk__in=claimed).order_by("next_attempt_at", "pk"))


def smtp_connection() -> BaseEmailBackend:
    """Django's SMTP backend from the LOCKSTEP_EMAIL_* settings (never settings.EMAIL_BACKEND);
    TLS verifies the server against the system CAs plus LOCKSTEP_TRUSTED_CA_FILE."""
    connection = get_connection(
        "django.core.mail.backends.smtp.EmailBackend",
        host=settings.EMAIL_HOST,
        port=settings.EMAIL_PORT,
        username=settings.EMAIL_HOST_USER or None,
        password=settings.EMAIL_HOST_PASSWORD or None,
        use_tls=settings.EMAIL_USE_TLS,
        use_ssl=settings.EMAIL_USE_SSL,
        timeout=settings.EMAIL_TIMEOUT,
        fail_silently=False,
    )
    if settings.TRUSTED_CA_FILE and (settings.EMAIL_USE_TLS or settings.EMAIL_USE_SSL):
        context = ssl.create_default_context()
        context.load_verify_locations(cafile=settings.TRUSTED_CA_FILE)
        connection.ssl_context = context  # type: ignore[attr-defined]
    return connection


def message_of(email: OutboundEmail, connection: BaseEmailBackend) -> EmailMultiAlternatives:
    text, html = open_body(email)
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=text,
        from_email=email.from_address,
        to=[email.to_address],
        connection=connection,
    )
    message.attach_alternative(html, "text/html")
    return message


@dataclass(frozen=True)
class DrainResult:
    claimed: int
    sent: int


def drain(*, limit: int = BATCH) -> int:
    """Send what is due now (up to `limit`); return how many were sent."""
    return drain_batch(limit=limit).sent


def server_unreachable(failure: BaseException) -> bool:
    """A failure of the mail server itself (unreachable, TLS, disconnect, refused login): the
    next email would fail the same way. A refused message or recipient is that email's own."""
    server_level = (
        smtplib.SMTPServerDisconnected,
        smtplib.SMTPConnectError,
        smtplib.SMTPAuthenticationError,
        smtplib.SMTPHeloError,
        smtplib.SMTPNotSupportedError,
    )
    if isinstance(failure, server_level):
        return True
    if isinstance(failure, smtplib.SMTPException):  # an OSError subclass, but the server answered
        return False
    return isinstance(failure, OSError)  # refused, timed out, TLS (ssl.SSLError)


def renew_lease(email: OutboundEmail) -> bool:
    """Extend this worker's lease on `email` before sending it; False if the lease was lost."""
    held = email.lease_until
    if held is None:
        return False
    renewed = clock() + lease_duration()
    if OutboundEmail.objects.filter(pk=email.pk, lease_until=held, status__in=PENDING).update(
        lease_until=renewed
    ):
        email.lease_until = renewed
        return True
    return False


def release(emails: list[OutboundEmail]) -> None:
    """Give back emails this worker claimed but did not try (no attempt is counted)."""
    for email in emails:
        OutboundEmail.objects.filter(pk=email.pk, lease_until=email.lease_until).update(lease_until=None)


def drain_batch(*, limit: int = BATCH) -> DrainResult:
    emails = claim(limit=limit)
    if not emails:
        return DrainResult(0, 0)
    sent = 0
    connection: BaseEmailBackend | None = None
    try:
        for index, email in enumerate(emails):
            if not renew_lease(email):
                continue  # another worker holds it now: its lease ran out under this batch
            try:
                if connection is None:
                    connection = smtp_connection()
                    connection.open()
                message_of(email, connection).send()
            except Exception as failure:  # every failure is recorded on its row, in words
                record_failure(email, failure)
                _close(connection)  # the next email starts on a fresh connection
                connection = None
                if server_unreachable(failure):
                    release(emails[index + 1 :])  # the server is down: the rest wait for the next drain
                    break
            else:
                record_sent(email)
                sent += 1
    finally:
        _close(connection)
    return DrainResult(len(emails), sent)


def _close(connection: BaseEmailBackend | None) -> None:
    if connection is None:
        return
    try:
        connection.close()
    except Exception:  # a failed QUIT changes nothing about what was sent
        logger.info("closing the SMTP connection failed", exc_info=True)


def record_sent(email: OutboundEmail) -> None:
    now = clock()
    OutboundEmail.objects.filter(pk=email.pk).update(
        status=EmailStatus.SENT,
        sent_at=now,
        attempts=email.attempts + 1,
        body_encrypted="",
        last_error="",
        lease_until=None,
    )
    logger.info("email %s (%s) sent to the mail server", email.pk, email.kind)


def record_failure(email: OutboundEmail, failure: BaseException) -> None:
    now = clock()
    attempts = email.attempts + 1
    words = describe_failure(failure, host=settings.EMAIL_HOST, port=settings.EMAIL_PORT)
    gave_up = attempts >= MAX_ATTEMPTS or is_permanent(failure)
    OutboundEmail.objects.filter(pk=email.pk).update(
        status=EmailStatus.FAILED if gave_up else EmailStatus.RETRYING,
        attempts=attempts,
        last_error=words,
        next_attempt_at=now if gave_up else now + backoff(attempts),
        lease_until=None,
    )
    logger.warning(
        "email %s (%s) attempt %d failed%s: %s",
        email.pk,
        email.kind,
        attempts,
        "; giving up" if gave_up else "",
        words,
    )


@transaction.atomic
def resend(*, actor: Actor, email_id: int) -> OutboundEmail:
    """Queue a failed email again with a fresh set of attempts (the admin's "Resend")."""
    actor.require_write()
    email = (
        OutboundEmail.objects.select_for_update()
        .filter(pk=email_id, organization_id=actor.organization_id)
        .first()
    )
    if email is None:
        raise NotFound("email", email_id)
    if email.status != EmailStatus.FAILED or not email.body_encrypted:
        raise Conflict("status", "Only a failed email can be sent again.")
    email.status = EmailStatus.QUEUED
    email.attempts = 0
    email.next_attempt_at = clock()
    email.lease_until = None
    email.save(update_fields=["status", "attempts", "next_attempt_at", "lease_until"])
    audit.record(
        actor=actor,
        action="email.resend",
        target_type="email",
        target_id=email.pk,
        target_label=f"{email.get_kind_display()} to {email.to_address}",
        before={"status": EmailStatus.FAILED.value, "last_error": email.last_error},
        after={"status": EmailStatus.QUEUED.value},
    )
    from lockstep.mail.outbox import wake_on_commit  # outbox -> tasks -> delivery

    wake_on_commit()
    return email

"""The SMTP connection comes from Lockstep's settings; a refusal for good fails at once, in words."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.core.mail.backends.smtp import EmailBackend

from lockstep.directory.models import Organization
from lockstep.mail import delivery, outbox
from lockstep.mail.models import EmailKind, EmailStatus
from lockstep.testing.smtp import Mailbox


def test_the_connection_is_smtp_from_the_settings_whatever_email_backend_says(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "smtp.contoso.com", 465
    settings.EMAIL_USE_TLS, settings.EMAIL_USE_SSL = False, True
    settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = "relay", "Sm7p-Pa55"
    settings.EMAIL_TIMEOUT = 7.0
    connection = delivery.smtp_connection()
    assert isinstance(connection, EmailBackend)
    assert (connection.host, connection.port, connection.use_ssl, connection.use_tls) == (
        "smtp.contoso.com",
        465,
        True,
        False,
    )
    assert (connection.username, connection.password, connection.timeout) == ("relay", "Sm7p-Pa55", 7.0)
    assert connection.fail_silently is False


class Refusing(Mailbox):
    """Refuses recipients at bounce.example for good (550), and others for now (451)."""

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.endswith("@bounce.example"):
            return "550 5.1.1 No such user here"
        if address.endswith("@busy.example"):
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def refusing(settings: Any) -> Iterator[Refusing]:
    from lockstep.testing.smtp import _free_port

    handler = Refusing()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    try:
        yield handler
    finally:
        controller.stop()


def test_a_recipient_refused_for_good_fails_at_once_and_others_still_go(
    org: Organization, refusing: Refusing
) -> None:
    bounced = outbox.send(organization=org, kind=EmailKind.TEST, to="ghost@bounce.example", context={})
    busy = outbox.send(organization=org, kind=EmailKind.TEST, to="x@busy.example", context={})
    fine = outbox.send(organization=org, kind=EmailKind.TEST, to="adele@contoso.com", context={})
    assert delivery.drain() == 1
    bounced.refresh_from_db()
    busy.refresh_from_db()
    fine.refresh_from_db()
    assert (bounced.status, bounced.attempts) == (EmailStatus.FAILED, 1)
    assert (
        bounced.last_error
        == "The mail server refused the recipient: ghost@bounce.example (550 5.1.1 No such user here)"
    )
    assert busy.status == EmailStatus.RETRYING and "451 4.3.0 Try again later" in busy.last_error
    assert fine.status == EmailStatus.SENT
    assert [m.recipients for m in refusing.messages] == [["adele@contoso.com"]]

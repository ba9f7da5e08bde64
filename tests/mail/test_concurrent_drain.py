"""Several workers draining at once send every email exactly once (the lease decides who sends)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from lockstep.directory.models import Organization
from lockstep.mail import delivery, outbox
from lockstep.mail.models import EmailKind, EmailStatus, OutboundEmail

pytestmark = pytest.mark.django_db(transaction=True)

EMAILS = 40
WORKERS = 4


def test_concurrent_drains_send_each_email_once(org: Organization, mailbox: Any) -> None:
    for n in range(EMAILS):
        outbox.send(organization=org, kind=EmailKind.TEST, to=f"u{n}@contoso.com", context={})
    sent_by: list[int] = [0] * WORKERS
    problems: list[BaseException] = []
    start = threading.Barrier(WORKERS)

    def work(index: int) -> None:
        try:
            start.wait()
            while (result := delivery.drain_batch(limit=3)).claimed:
                sent_by[index] += result.sent
        except BaseException as problem:  # reported below
            problems.append(problem)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert problems == []
    assert sum(sent_by) == EMAILS
    assert OutboundEmail.objects.filter(status=EmailStatus.SENT).count() == EMAILS
    received = [r for m in mailbox.messages for r in m.recipients]
    assert sorted(received) == sorted(f"u{n}@contoso.com" for n in range(EMAILS))  # none twice

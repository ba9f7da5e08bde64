"""Queue an email: render it, store it encrypted in the outbox, and have the worker send it.

    from lockstep.mail import outbox
    outbox.send(organization=org, kind=EmailKind.ACTIVATION, to=address,
                context={"user_name": ..., "link": ..., "expires_at": ...}, user=user)

Call it inside the transaction that decided to send: a rolled-back change sends nothing. Once
the transaction commits a drain task runs soon; a periodic job drains what is due (retries).
"""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction

from lockstep.directory import audit
from lockstep.directory.actors import Actor
from lockstep.directory.errors import ValidationFailed
from lockstep.directory.models import Organization, User
from lockstep.mail import delivery, tasks
from lockstep.mail.body import seal
from lockstep.mail.models import EmailKind, EmailStatus, OutboundEmail
from lockstep.mail.rendering import branding_of, render

ADDRESS_MAX = 254


def send(
    *,
    organization: Organization,
    kind: EmailKind | str,
    to: str,
    context: dict[str, Any],
    user: User | None = None,
) -> OutboundEmail:
    """Render and queue one email; it goes out after the current transaction commits."""
    to = to.strip()
    if not to or "@" not in to or len(to) > ADDRESS_MAX or any(c in to for c in "\r\n<>,"):
        raise ValidationFailed({"to": ["Enter one valid email address."]})
    rendered = render(organization=organization, kind=kind, context=context)
    email = OutboundEmail(
        organization=organization,
        user=user,
        kind=EmailKind(kind),
        to_address=to,
        from_address=branding_of(organization).from_header,
        subject=rendered.subject,
        status=EmailStatus.QUEUED,
        next_attempt_at=delivery.clock(),
        created_at=delivery.clock(),
    )
    email.body_encrypted = seal(email, text=rendered.text, html=rendered.html)
    email.save(force_insert=True)
    wake_on_commit()
    return email


def send_test(*, actor: Actor, to: str) -> OutboundEmail:
    """The Admin Portal's "Send a test email": a queued `test` email, recorded in the audit log."""
    actor.require_write()
    organization = Organization.objects.get(pk=actor.organization_id)
    with transaction.atomic():
        email = send(organization=organization, kind=EmailKind.TEST, to=to, context={})
        audit.record(
            actor=actor,
            action="email.send_test",
            target_type="email",
            target_id=email.pk,
            target_label=email.to_address,
        )
    return email


def _wake() -> None:
    tasks.drain_outbox.enqueue()


def wake_on_commit() -> None:
    """Enqueue one drain task once the transaction commits (one per transaction, however many emails)."""
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.in_atomic_block and any(entry[1] is _wake for entry in connection.run_on_commit):
        return
    transaction.on_commit(_wake)

"""Unit tests of the user flows: capture the emails they hand to the outbox.

`capture(monkeypatch)` replaces the one function through which the flows reach the outbox
(`portal.services.emails._send`) with one that records each email and stores a plain queued
outbox row (no rendering, no SMTP), so "last email" and counts can be read back. End-to-end
tests use the real outbox and the `mailbox` fixture instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from lockstep.directory.models import User
from lockstep.mail.models import EmailKind, OutboundEmail


@dataclass(frozen=True)
class SentEmail:
    kind: str
    to: str
    context: dict[str, Any]
    user_id: int


def capture(monkeypatch: pytest.MonkeyPatch) -> list[SentEmail]:
    from lockstep.portal.services import emails

    sent: list[SentEmail] = []

    def fake_send(user: User, kind: EmailKind, to: str, context: dict[str, Any]) -> OutboundEmail:
        sent.append(SentEmail(str(kind), to, dict(context), user.pk))
        return OutboundEmail.objects.create(
            organization_id=user.organization_id,
            user=user,
            kind=kind,
            to_address=to,
            from_address="Lockstep <lockstep@example.com>",
            subject=str(kind),
        )

    monkeypatch.setattr(emails, "_send", fake_send)
    return sent

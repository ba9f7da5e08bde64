"""An outbox row's body: the text and HTML parts, encrypted at rest (lockstep.directory.crypto)."""

from __future__ import annotations

import json

from lockstep.directory import crypto
from lockstep.mail.models import OutboundEmail


def body_context(organization_id: int, to_address: str) -> str:
    """What a body's encryption is bound to: its organization and recipient."""
    return f"mail:{organization_id}:{to_address}"


def seal(email: OutboundEmail, *, text: str, html: str) -> str:
    return crypto.encrypt(
        json.dumps({"text": text, "html": html}),
        context=body_context(email.organization_id, email.to_address),
    )


def open_body(email: OutboundEmail) -> tuple[str, str]:
    """The text and HTML parts of a queued email."""
    parts = json.loads(
        crypto.decrypt(email.body_encrypted, context=body_context(email.organization_id, email.to_address))
    )
    return str(parts["text"]), str(parts["html"])

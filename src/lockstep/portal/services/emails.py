"""The only door from the user flows to the `mail` app: which email, to whom, with what context.

Each function writes one outbox row (`lockstep.mail.outbox.send`) inside the caller's
transaction, so the email commits or rolls back with the change that decided it. The flows
depend on the outbox's interface only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from lockstep.directory.models import User
from lockstep.mail import outbox
from lockstep.mail.models import EmailKind, OutboundEmail
from lockstep.mail.status import latest_by_user, status_words

logger = logging.getLogger(__name__)


def portal_url(user: User) -> str:
    """The User Portal's sign-in page, for the user's organization."""
    return f"{settings.BASE_URL}{settings.PORTAL_LOGIN_PATH}?org={user.organization.slug}"


def activation_address(user: User) -> str:
    """Activation goes to the alternate email (the user may have no mailbox yet), else the company one."""
    return user.alternate_email or user.email


def _send(user: User, kind: EmailKind, to: str, context: dict[str, Any]) -> OutboundEmail:
    return outbox.send(
        organization=user.organization,
        kind=kind,
        to=to,
        context={"user_name": user.display_name or user.username, **context},
        user=user,
    )


def send_activation_email(user: User, link: str, expires_at: datetime) -> None:
    _send(user, EmailKind.ACTIVATION, activation_address(user), {"link": link, "expires_at": expires_at})


def send_welcome_email(user: User) -> None:
    context = {"portal_url": portal_url(user), "username": user.username}
    _send(user, EmailKind.WELCOME, user.email, context)


def send_added_to_directory_email(user: User, directory_name: str) -> None:
    context = {"directory_name": directory_name, "portal_url": portal_url(user)}
    _send(user, EmailKind.ADDED_TO_DIRECTORY, user.email, context)


def send_password_reset_email(
    user: User, link: str, expires_at: datetime, *, directory_name: str = "", also_alternate: bool = False
) -> None:
    """To the company email; a reset the user asked for also goes to the alternate email."""
    context = {"link": link, "expires_at": expires_at, "directory_name": directory_name}
    addresses = [user.email]
    if also_alternate and user.alternate_email and user.alternate_email.lower() != user.email.lower():
        addresses.append(user.alternate_email)
    for to in addresses:
        _send(user, EmailKind.PASSWORD_RESET, to, context)


def send_password_changed_email(user: User, how: str) -> None:
    context = {
        "portal_url": portal_url(user),
        "changed_at": user.password_changed_at or timezone.now(),
        "how": how,
    }
    _send(user, EmailKind.PASSWORD_CHANGED, user.email, context)


@dataclass(frozen=True)
class LastEmail:
    """A user's newest email, as the Admin Portal and the API show it."""

    kind: str
    kind_words: str
    status: str
    status_words: str
    at: datetime


def status_words_of(email: OutboundEmail) -> str:
    """An email's delivery status in words, as the mail app says it."""
    return status_words(email)


def last_emails(user_ids: list[int]) -> dict[int, LastEmail]:
    """The newest email of each user (one query for all of them)."""
    if not user_ids:
        return {}
    found = latest_by_user(list(user_ids))
    return {
        user_id: LastEmail(
            kind=email.kind,
            kind_words=EmailKind(email.kind).label if email.kind in EmailKind.values else email.kind,
            status=email.status,
            status_words=status_words(email),
            at=email.created_at,
        )
        for user_id, email in found.items()
    }

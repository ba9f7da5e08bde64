"""Single-use emailed links (activation, password reset): issue, read, consume (SPEC 3).

A link carries only its token (`secrets.token_urlsafe(32)`); the database keeps its SHA-256, so
a copy of the database opens no account. Issuing a link voids the user's older unused links of
the same purpose (and directory); using one voids the others. Consuming marks `used_at` with a conditional UPDATE (`used_at IS NULL AND
expires_at > now`), so two requests racing with one link cannot both pass.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from lockstep.directory.models import User
from lockstep.portal.models import EmailedLink, LinkPurpose

Clock = Callable[[], datetime]

ROUTES = {LinkPurpose.ACTIVATION: "portal:activate", LinkPurpose.PASSWORD_RESET: "portal:reset"}


class LinkRefused(Exception):
    """The link cannot be used; `reason` is "unknown", "used" or "expired", `message` says it plainly."""

    def __init__(self, reason: str, message: str, link: EmailedLink | None = None) -> None:
        self.reason = reason
        self.message = message
        self.link = link
        super().__init__(message)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def lifetime(purpose: str, *, sent_on_binding: bool = False) -> timedelta:
    """Activation links, and reset links sent because a user was bound (takeover off: nobody
    asked for them, the user may read the email days later), last ACTIVATION_LINK_HOURS; a reset
    the user asked for lasts RESET_LINK_MINUTES."""
    if purpose == LinkPurpose.ACTIVATION or sent_on_binding:
        return timedelta(hours=float(settings.ACTIVATION_LINK_HOURS))
    return timedelta(minutes=float(settings.RESET_LINK_MINUTES))


def url_for(token: str, purpose: str) -> str:
    """The absolute link to put in the email."""
    return settings.BASE_URL + reverse(ROUTES[LinkPurpose(purpose)], args=[token])


def issue(
    *, user: User, purpose: LinkPurpose | str, directory_id: int | None = None, now: Clock = timezone.now
) -> str:
    """A new link for `user`; returns the token (shown once, in the email). Older unused links of
    the same purpose (and the same directory, for resets sent on binding) stop working."""
    return issue_link(user=user, purpose=purpose, directory_id=directory_id, now=now)[0]


@transaction.atomic
def issue_link(
    *, user: User, purpose: LinkPurpose | str, directory_id: int | None = None, now: Clock = timezone.now
) -> tuple[str, datetime]:
    """`issue`, with the moment the link expires (for the email's words)."""
    purpose = LinkPurpose(purpose)
    at = now()
    EmailedLink.objects.filter(
        user=user, purpose=purpose, directory_id=directory_id, used_at__isnull=True
    ).update(used_at=at)
    token = secrets.token_urlsafe(32)
    expires_at = at + lifetime(purpose, sent_on_binding=directory_id is not None)
    EmailedLink.objects.create(
        user=user,
        purpose=purpose,
        token_sha256=digest(token),
        directory_id=directory_id,
        created_at=at,
        expires_at=expires_at,
    )
    return token, expires_at


def _refusal(link: EmailedLink | None, at: datetime) -> LinkRefused:
    if link is None:
        return LinkRefused("unknown", "This link is not valid: check that it was copied whole.")
    if link.used_at is not None:
        return LinkRefused(
            "used",
            f"This link was already used (or replaced by a newer one) on {link.used_at:%Y-%m-%d %H:%M} UTC.",
            link,
        )
    if link.expires_at <= at:
        return LinkRefused("expired", f"This link expired on {link.expires_at:%Y-%m-%d %H:%M} UTC.", link)
    if link.user.state != "active":
        return LinkRefused("inactive", "This account is not active: ask your administrator.", link)
    return LinkRefused("used", "This link was just used.", link)


def peek(token: str, purpose: LinkPurpose | str, *, now: Clock = timezone.now) -> EmailedLink:
    """The link behind `token` if it can still be used (nothing is written); raises LinkRefused."""
    at = now()
    link = (
        EmailedLink.objects.select_related("user", "user__organization")
        .filter(token_sha256=digest(token), purpose=LinkPurpose(purpose))
        .first()
    )
    if link is None or link.used_at is not None or link.expires_at <= at or link.user.state != "active":
        raise _refusal(link, at)
    return link


def consume(token: str, purpose: LinkPurpose | str, *, now: Clock = timezone.now) -> EmailedLink:
    """Use the link once: the first caller gets it, every later one is refused (LinkRefused).

    Call it inside the transaction that acts on the link: if that rolls back, the link stays usable."""
    link = peek(token, purpose, now=now)
    at = now()
    claimed = EmailedLink.objects.filter(pk=link.pk, used_at__isnull=True, expires_at__gt=at).update(
        used_at=at
    )
    if claimed != 1:  # another request used it between the read and the write
        link.refresh_from_db()
        raise _refusal(link, at)
    link.used_at = at
    # The password is being set: the user's other unused links of this purpose (other directories') end too.
    EmailedLink.objects.filter(user_id=link.user_id, purpose=link.purpose, used_at__isnull=True).update(
        used_at=at
    )
    return link

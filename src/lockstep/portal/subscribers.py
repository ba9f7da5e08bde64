"""Directory events -> User Portal emails (the flows of SPEC 3), inside the change's transaction.

- `user_bound`: an active user who has a password is told. With password takeover on, the
  added-to-directory email (their next User Portal sign-in sends the password); with it off, a
  password reset email with a fresh link for that directory (the password syncs only when it
  changes). Staged users and users without a password get nothing here: the admin sends the
  activation or welcome email when activating them.
- `password_set` by a change, reset, activation or an administrator: the password changed email
  (not for the initial password an administrator chose at creation).
The outbox rows are written inside the transaction, so they commit or roll back with the change.
"""

from __future__ import annotations

from typing import Any

from lockstep.directory import events
from lockstep.directory.models import User, UserState
from lockstep.portal.models import LinkPurpose
from lockstep.portal.services import emails, links

CHANGED_HOW = ("change", "reset", "activation", "admin")


def _user(organization_id: int, user_id: int) -> User | None:
    return (
        User.objects.select_related("organization")
        .filter(pk=user_id, organization_id=organization_id)
        .first()
    )


def on_user_bound(sender: Any, *, organization_id: int, user_id: int, directory_id: int, **_: Any) -> None:
    from lockstep.m365.models import Directory, DirectoryDomain

    user = _user(organization_id, user_id)
    if user is None or user.state != UserState.ACTIVE or not user.password_hash:
        return
    directory_name = (
        Directory.objects.filter(pk=directory_id, organization_id=organization_id)
        .values_list("name", flat=True)
        .first()
    ) or "Microsoft 365"
    federated = DirectoryDomain.objects.filter(
        directory_id=directory_id, name=user.email.rsplit("@", 1)[-1].lower(), authentication_type="Federated"
    ).exists()
    if user.organization.password_takeover or federated:  # federated: no password goes there to reset
        emails.send_added_to_directory_email(user, directory_name)
        return
    token, expires_at = links.issue_link(
        user=user, purpose=LinkPurpose.PASSWORD_RESET, directory_id=directory_id
    )
    emails.send_password_reset_email(
        user, links.url_for(token, LinkPurpose.PASSWORD_RESET), expires_at, directory_name=directory_name
    )


def on_password_set(sender: Any, *, organization_id: int, user_id: int, how: str = "", **_: Any) -> None:
    if how not in CHANGED_HOW:
        return
    user = _user(organization_id, user_id)
    if user is not None:
        emails.send_password_changed_email(user, how)


def connect() -> None:
    """Connect the portal's receivers (the emails sent when a user is bound, activated...)."""
    events.user_bound.connect(on_user_bound, dispatch_uid="portal.user_bound")
    events.password_set.connect(on_password_set, dispatch_uid="portal.password_set")

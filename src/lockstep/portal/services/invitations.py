"""Send the activation email (or the welcome email) to one user or many (SPEC 3).

An active user without a password gets an activation email with a single-use link (to the
alternate email, else the company email); an active user with a password gets the welcome email
(the first User Portal sign-in sends the password to Microsoft 365). Staged and suspended users
get nothing and are reported with the reason. One audit row per user emailed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import transaction

from lockstep.directory import audit
from lockstep.directory.actors import Actor
from lockstep.directory.errors import ValidationFailed
from lockstep.directory.models import User, UserState
from lockstep.directory.services.bulk import BulkPlan, Skipped, chunks, clean_ids
from lockstep.portal.models import LinkPurpose
from lockstep.portal.services import emails, links

ACTIVATION = "activation"
WELCOME = "welcome"
SKIPPED = "skipped"


@dataclass(frozen=True)
class Outcome:
    """What happened for one selected user: `sent` is "activation", "welcome" or "skipped"."""

    user_id: int
    username: str
    sent: str
    to: str = ""
    reason: str = ""


@dataclass(frozen=True)
class InvitationResult:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def changed(self) -> list[int]:
        """The users who were emailed (the bulk pages read this)."""
        return [o.user_id for o in self.outcomes if o.sent != SKIPPED]

    @property
    def skipped(self) -> list[Skipped]:
        return [Skipped(o.user_id, o.username, o.reason) for o in self.outcomes if o.sent == SKIPPED]


def why_not(user: User) -> str:
    """Why this user gets no email, or "" when they get one."""
    if user.state == UserState.STAGED:
        return "Staged: activate the user first."
    if user.state == UserState.SUSPENDED:
        return "Suspended: unsuspend the user first."
    return ""


def which_email(user: User) -> str:
    return WELCOME if user.password_hash else ACTIVATION


def _users(actor: Actor, user_ids: Sequence[object], *, lock: bool = False) -> list[User]:
    ids = clean_ids(user_ids)
    found: list[User] = []
    for chunk in chunks(ids):
        queryset = User.objects.filter(organization_id=actor.organization_id, pk__in=chunk).select_related(
            "organization"
        )
        found.extend(queryset.select_for_update(of=("self",)) if lock else queryset)
    missing = sorted(set(ids) - {user.pk for user in found})
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (" …" if len(missing) > 10 else "")
        raise ValidationFailed(
            {"user_ids": [f"{len(missing)} selected user(s) do not exist: {shown}. No email was sent."]}
        )
    return sorted(found, key=lambda user: (user.username, user.pk))


def plan_activation(*, actor: Actor, user_ids: Sequence[object]) -> BulkPlan:
    """Who would get an email and who would not, and why (nothing is written)."""
    users = _users(actor, user_ids)
    skipped = [Skipped(user.pk, user.username, reason) for user in users if (reason := why_not(user))]
    changing = [user for user in users if not why_not(user)]
    return BulkPlan(selected=len(users), changing=changing, skipped=skipped)


def _email(actor: Actor, user: User) -> Outcome:
    kind = which_email(user)
    if kind == ACTIVATION:
        token, expires_at = links.issue_link(user=user, purpose=LinkPurpose.ACTIVATION)
        emails.send_activation_email(user, links.url_for(token, LinkPurpose.ACTIVATION), expires_at)
        to = emails.activation_address(user)
    else:
        emails.send_welcome_email(user)
        to = user.email
    audit.record(
        actor=actor,
        action=f"user.send_{kind}_email",
        target_type="user",
        target_id=user.pk,
        target_label=user.username,
        after={"to": to},
    )
    return Outcome(user.pk, user.username, kind, to=to)


@transaction.atomic
def send_activation(*, actor: Actor, user_ids: Sequence[object]) -> InvitationResult:
    """Email each selected user the activation or welcome email; every email commits with its audit row."""
    actor.require_write()
    outcomes = []
    for user in _users(actor, user_ids, lock=True):
        reason = why_not(user)
        outcomes.append(
            Outcome(user.pk, user.username, SKIPPED, reason=reason) if reason else _email(actor, user)
        )
    return InvitationResult(outcomes)

"""A user's emails on the Admin Portal: send the activation (or welcome) email, the last email
sent, and whether the user can sign in to the User Portal yet (SPEC 3)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from lockstep.console.access import actor_for
from lockstep.directory.actors import Actor
from lockstep.directory.models import User
from lockstep.directory.services import users
from lockstep.portal.services import emails, invitations, readiness


def email_button(user: User) -> dict[str, str]:
    """The detail page's button: which email it sends, or why there is none."""
    reason = invitations.why_not(user)
    if reason:
        return {"kind": "", "reason": reason}
    if invitations.which_email(user) == invitations.WELCOME:
        return {
            "kind": "welcome",
            "label": "Send welcome email",
            "effect": f"Emails {user.email} a welcome message with the User Portal address. Their first sign-in "
            "there sends their password to Microsoft 365.",
        }
    return {
        "kind": "activation",
        "label": "Send activation email",
        "effect": f"Emails {emails.activation_address(user)} a link to set a password (it works once, for "
        "a limited time; an older activation link stops working). Their first sign-in after that sends the "
        "password to Microsoft 365.",
    }


def sign_in_context(actor: Actor, user: User) -> dict[str, Any]:
    """What the user detail page shows about sign-in and email."""
    can, words = readiness.can_sign_in(user)
    return {
        "can_sign_in": can,
        "sign_in_words": words,
        "last_email": emails.last_emails([user.pk]).get(user.pk),
        "email_button": email_button(user),
    }


def outcome_words(outcome: invitations.Outcome) -> str:
    if outcome.sent == invitations.ACTIVATION:
        return f"Activation email on its way to {outcome.to}."
    if outcome.sent == invitations.WELCOME:
        return f"Welcome email on its way to {outcome.to}."
    return f"No email sent to {outcome.username}: {outcome.reason}"


@require_POST
def user_send_activation(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    user = users.get_user(actor=actor, user_id=pk)
    outcome = invitations.send_activation(actor=actor, user_ids=[user.pk]).outcomes[0]
    if outcome.sent == invitations.SKIPPED:
        messages.error(request, outcome_words(outcome))
    else:
        messages.success(request, outcome_words(outcome))
    return redirect("console:user_detail", pk=user.pk)

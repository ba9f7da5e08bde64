"""/users/.../activation-email(s): send the activation or welcome email to one user or many (SPEC 3)."""

from __future__ import annotations

from typing import Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema
from pydantic import ConfigDict

from lockstep.api.auth import actor_of
from lockstep.api.errors import error_responses
from lockstep.directory.errors import Conflict
from lockstep.directory.services import users
from lockstep.portal.services import invitations

router = Router(tags=["users"])


class ActivationOutcomeOut(Schema):
    user_id: int
    username: str
    sent: Literal["activation", "welcome", "skipped"] = Field(
        description="activation: no password yet, a link to set one; welcome: has a password; "
        "skipped: not active (see `reason`)."
    )
    to: str = Field(description="The address the email went to ('' when skipped).")
    reason: str = Field(description="Why no email was sent ('' when one was).")


class ActivationResultOut(Schema):
    sent: int
    skipped: int
    items: list[ActivationOutcomeOut]


class ActivationRequest(Schema):
    model_config = ConfigDict(extra="forbid")

    user_ids: list[int] = Field(description="Up to 10,000 users of your organization.")


def _out(outcome: invitations.Outcome) -> dict[str, object]:
    return {
        "user_id": outcome.user_id,
        "username": outcome.username,
        "sent": outcome.sent,
        "to": outcome.to,
        "reason": outcome.reason,
    }


@router.post(
    "/users/{int:user_id}/activation-email",
    response={200: ActivationOutcomeOut, **error_responses(403, 404, 409)},
    summary="Send a user the activation email (or the welcome email if they have a password)",
    description="A staged or suspended user gets no email: 409 with the reason.",
)
def send_one(request: HttpRequest, user_id: int) -> dict[str, object]:
    actor = actor_of(request)
    user = users.get_user(actor=actor, user_id=user_id)
    outcome = invitations.send_activation(actor=actor, user_ids=[user.pk]).outcomes[0]
    if outcome.sent == invitations.SKIPPED:
        raise Conflict("state", f"No email sent. {outcome.reason}")
    return _out(outcome)


@router.post(
    "/users/activation-emails",
    response={200: ActivationResultOut, **error_responses(403, 422)},
    summary="Send many users the activation email (or the welcome email to those with a password)",
    description="Every id must be a user of your organization (else 422 and nothing is sent). Staged "
    "and suspended users are skipped and listed with the reason.",
)
def send_many(request: HttpRequest, payload: ActivationRequest) -> dict[str, object]:
    result = invitations.send_activation(actor=actor_of(request), user_ids=payload.user_ids)
    items = [_out(o) for o in result.outcomes]
    return {"sent": len(result.changed), "skipped": len(result.skipped), "items": items}

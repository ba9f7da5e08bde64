"""/sign-in-locks: User Portal sign-in lockouts (per account and per client address); clear one."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema

from lockstep.api.auth import actor_of, writer
from lockstep.api.errors import error_responses
from lockstep.portal import throttle
from lockstep.portal.models import SignInThrottle, ThrottleScope

router = Router(tags=["sign-in locks"])


class SignInLockOut(Schema):
    id: int
    scope: Literal["account", "source"] = Field(
        description="`account`: one user's account (browsers that signed in to it before are exempt); "
        "`source`: one client address."
    )
    user_id: int | None = Field(description="The locked user (scope `account`).")
    label: str = Field(description="The username (account) or the client address (source).")
    failures: int = Field(description="Failed sign-ins in the current window.")
    locked_until: datetime
    last_failure_at: datetime


class SignInLockListOut(Schema):
    items: list[SignInLockOut]


def _out(row: SignInThrottle) -> dict[str, Any]:
    return {
        "id": row.pk,
        "scope": row.scope,
        "user_id": int(row.key) if row.scope == ThrottleScope.ACCOUNT else None,
        "label": row.label,
        "failures": row.failures,
        "locked_until": row.locked_until,
        "last_failure_at": row.last_failure_at,
    }


@router.get(
    "/sign-in-locks",
    response={200: SignInLockListOut, **error_responses()},
    summary="List current User Portal sign-in locks",
    description="Every lock in force now (few by nature: not paginated), the latest first.",
)
def list_locks(request: HttpRequest) -> dict[str, Any]:
    return {"items": [_out(row) for row in throttle.current_locks(actor=actor_of(request))]}


@router.delete(
    "/sign-in-locks/{int:lock_id}",
    response={204: None, **error_responses(403, 404)},
    summary="Clear a sign-in lock (audited)",
)
def clear_lock(request: HttpRequest, lock_id: int) -> HttpResponse:
    throttle.clear(actor=writer(request), throttle_id=lock_id)
    return HttpResponse(status=204)

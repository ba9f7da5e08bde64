"""Settings > Sign-in lockouts: the User Portal's account and address locks, and clearing one."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from lockstep.console.access import actor_for
from lockstep.portal import throttle


def sign_in_locks(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request)
    return render(
        request,
        "console/settings/lockouts.html",
        {
            "locks": list(throttle.current_locks(actor=actor)),
            "can_clear": actor.can_write,
            "account_limit": throttle.ACCOUNT_LIMIT,
            "source_limit": throttle.SOURCE_LIMIT,
            "window_minutes": int(throttle.WINDOW.total_seconds() // 60),
            "lock_minutes": int(throttle.LOCK.total_seconds() // 60),
        },
    )


@require_POST
def sign_in_lock_clear(request: HttpRequest, pk: int) -> HttpResponse:
    throttle.clear(actor=actor_for(request), throttle_id=pk)
    messages.success(request, "The lock is cleared: signing in works again.")
    return redirect("console:sign_in_locks")

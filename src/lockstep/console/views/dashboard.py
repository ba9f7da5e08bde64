"""Dashboard and the Directories placeholder."""

from __future__ import annotations

from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from lockstep.console.access import actor_for, current_admin
from lockstep.console.directories.status import cards_context
from lockstep.directory.models import User, UserState


def dashboard(request: HttpRequest) -> HttpResponse:
    admin = current_admin(request)
    counts = User.objects.filter(organization_id=admin.organization_id).aggregate(
        total=Count("id"),
        **{state: Count("id", filter=Q(state=state)) for state in UserState.values},
    )
    states = [(state, label, counts[state]) for state, label in UserState.choices]
    context = {
        "total": counts["total"],
        "states": states,
        "mfa_optional": not admin.organization.require_admin_mfa,
        **cards_context(actor_for(request)),
    }
    return render(request, "console/dashboard.html", context)

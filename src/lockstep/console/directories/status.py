"""Live status partials, polled by HTMX while something is pending and no longer once settled:
the dashboard's directory cards and the "Directories" section of a user's and a group's page.

Each re-renders the same partial its page includes; the partial carries the polling attributes
only while a change waits to be written, so the polling stops by itself.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from lockstep.console.access import actor_for
from lockstep.console.directories import context as portal_context
from lockstep.console.directories.access import portal_view
from lockstep.directory.actors import Actor
from lockstep.directory.services import groups as group_service
from lockstep.directory.services import users as user_service
from lockstep.m365 import overview
from lockstep.m365.directory_status import dashboard_cards


def cards_context(actor: Actor) -> dict[str, Any]:
    """`directory_cards` and `cards_pending` (poll while a change waits to be written)."""
    cards = dashboard_cards(actor.organization_id)
    return {"directory_cards": cards, "cards_pending": any(card.pending for card in cards)}


@portal_view()
def directory_cards(request: HttpRequest) -> HttpResponse:
    context = cards_context(actor_for(request))
    return render(request, "console/directories/_cards.html", {**context, "age_words": overview.age_words})


@portal_view()
def user_status(request: HttpRequest, user_pk: int) -> HttpResponse:
    actor = actor_for(request)
    user = user_service.get_user(actor=actor, user_id=user_pk)
    context = {"person": user, **portal_context.user_directories_context(actor, user)}
    return render(request, "console/directories/_user_directories.html", context)


@portal_view()
def group_status(request: HttpRequest, group_pk: int) -> HttpResponse:
    actor = actor_for(request)
    group = group_service.get_group(actor=actor, group_id=group_pk)
    context = {"group": group, **portal_context.group_directories_context(actor, group)}
    return render(request, "console/directories/_group_directories.html", context)

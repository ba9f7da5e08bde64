"""Context helpers the console's user and group pages use for their "Directories" section.

from lockstep.console.directories.context import user_directories_context
context.update(user_directories_context(actor, user))
{% include "console/directories/_user_directories.html" %}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lockstep.console.directories.forms import BindForm
from lockstep.directory.actors import Actor
from lockstep.directory.models import Group, User
from lockstep.m365 import overview
from lockstep.m365.models import Directory, SyncStatus


def _choices(actor: Actor) -> list[tuple[int, str]]:
    return list(
        Directory.objects.filter(organization_id=actor.organization_id)
        .order_by("name")
        .values_list("id", "name")
    )


def rows_pending(rows: list[Any]) -> bool:
    """A binding still on its way: a change waiting to be written (not parked), or an unbind."""
    for row in rows:
        binding = row.binding
        if binding is not None and (
            binding.unbound or overview.binding_health(binding).status == SyncStatus.PENDING
        ):
            return True
    return False


def bind_form(actor: Actor, data: Mapping[str, Any] | None = None) -> BindForm:
    return BindForm(data, directories=_choices(actor))


def user_directories_context(actor: Actor, user: User, form: BindForm | None = None) -> dict[str, Any]:
    """`m365_rows` (every directory with the user's binding and status) and `m365_bind_form`."""
    rows = overview.user_directories(actor, user)
    unbound = [(r.directory.pk, r.directory.name) for r in rows if r.binding is None or r.binding.unbound]
    if form is None:
        form = BindForm(directories=unbound)
    return {
        "m365_rows": rows,
        "m365_bind_form": form,
        "m365_can_bind": bool(unbound) or bool(form.errors),
        "m365_recycle_days": overview.RECYCLE_BIN_DAYS,
        "m365_pending": rows_pending(rows),
    }


def group_directories_context(actor: Actor, group: Group, form: BindForm | None = None) -> dict[str, Any]:
    rows = overview.group_directories(actor, group)
    unbound = [(r.directory.pk, r.directory.name) for r in rows if r.binding is None]
    if form is None:
        form = BindForm(directories=unbound)
    return {
        "m365_group_rows": rows,
        "m365_bind_form": form,
        "m365_can_bind": bool(unbound) or bool(form.errors),
        "m365_pending": rows_pending(rows),
    }

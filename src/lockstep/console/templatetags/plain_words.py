"""Template filters that put Microsoft 365 writes in plain words (`lockstep.console.plain_writes`).

{% load plain_words %}
{% for w, plain in writes|pending_words %}{% include "console/_write.html" %}{% endfor %}
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django import template

from lockstep.console import plain_writes
from lockstep.m365.write_plans import PendingWrite
from lockstep.m365.write_words import PlainWrite

register = template.Library()


@register.filter
def pending_words(writes: Iterable[PendingWrite]) -> list[tuple[PendingWrite, PlainWrite | None]]:
    return plain_writes.pending(writes)


@register.filter
def held_words(rows: Sequence[Any]) -> list[tuple[Any, PlainWrite]]:
    return plain_writes.held(rows)


@register.filter
def planned_words(writes: Sequence[Any]) -> list[tuple[Any, PlainWrite]]:
    return plain_writes.planned(writes)


@register.filter
def candidate_words(plan: Any) -> list[PlainWrite]:
    """A candidate plan's writes, against the values the account holds now."""
    current = {change.property: change.current for change in plan.changes}
    return plain_writes.candidate_plan(plan.writes, current)

"""Audit log: newest first, filtered by action and target, keyset pages."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.dateparse import parse_datetime

from lockstep.console.access import current_admin
from lockstep.console.forms import AuditFilterForm
from lockstep.directory.errors import ValidationFailed
from lockstep.directory.models import AuditEvent
from lockstep.directory.services.users import decode_cursor, encode_cursor

PAGE_SIZE = 50


@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str


def _show(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def changes_of(event: AuditEvent) -> list[Change]:
    before = event.before or {}
    after = event.after or {}
    keys = list(dict.fromkeys([*before, *after]))
    return [Change(k, _show(before.get(k)), _show(after.get(k))) for k in keys]


def _cursor(value: str) -> tuple[datetime, int] | None:
    """The (time, id) position a "Next" link carries; a damaged cursor starts from the top."""
    if not value:
        return None
    try:
        at, pk = decode_cursor(value)
        moment = parse_datetime(str(at))
        return (moment, int(pk)) if moment else None
    except (ValidationFailed, ValueError, TypeError):
        return None


def audit_log(request: HttpRequest) -> HttpResponse:
    admin = current_admin(request)
    form = AuditFilterForm(request.GET)
    form.is_valid()
    data = form.cleaned_data
    events = AuditEvent.objects.filter(organization_id=admin.organization_id)
    if data.get("action"):
        events = events.filter(action__startswith=data["action"].strip())
    if data.get("target"):
        term = data["target"].strip()
        events = events.filter(Q(target_id=term) | Q(target_label__istartswith=term))
    position = _cursor(data.get("cursor") or "")
    if position:
        at, pk = position
        events = events.filter(Q(at__lt=at) | Q(at=at, id__lt=pk))
    rows = list(events.order_by("-at", "-id")[: PAGE_SIZE + 1])
    next_url = ""
    params = {k: data[k] for k in ("action", "target") if data.get(k)}
    if len(rows) > PAGE_SIZE:
        rows = rows[:PAGE_SIZE]
        last = rows[-1]
        next_url = "?" + urlencode({**params, "cursor": encode_cursor([last.at.isoformat(), last.pk])})
    return render(
        request,
        "console/audit.html",
        {
            "form": form,
            "rows": [(event, changes_of(event)) for event in rows],
            "next_url": next_url,
            "first_url": "?" + urlencode(params),
            "paged": bool(position),
        },
    )

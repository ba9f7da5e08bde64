"""Audit log: newest first, filtered by date, who, category, target and action; keyset pages; CSV."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.db.models import Q
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from lockstep.console import audit_query
from lockstep.console.access import current_admin
from lockstep.console.audit_query import AuditFilterForm
from lockstep.directory.csv_cells import Echo, safe_cell
from lockstep.directory.errors import ValidationFailed
from lockstep.directory.models import AuditEvent
from lockstep.directory.services.users import decode_cursor, encode_cursor

PAGE_SIZE = 50
EXPORT_CHUNK = 500
CSV_HEADER = ["when_utc", "who", "category", "action", "target_type", "target_id", "target", "change"]


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


def _filters(request: HttpRequest) -> tuple[AuditFilterForm, dict[str, object]]:
    """The form and its valid values (a field with an error filters nothing, and says why)."""
    form = AuditFilterForm(request.GET)
    form.is_valid()
    data = {k: v for k, v in form.cleaned_data.items() if k not in form.errors}
    return form, data


def audit_log(request: HttpRequest) -> HttpResponse:
    admin = current_admin(request)
    form, data = _filters(request)
    events = audit_query.filtered(admin.organization_id, data)
    position = _cursor(str(data.get("cursor") or ""))
    if position:
        at, pk = position
        events = events.filter(Q(at__lt=at) | Q(at=at, id__lt=pk))
    rows = list(events.order_by("-at", "-id")[: PAGE_SIZE + 1])
    next_url = ""
    params = audit_query.filter_params(data)
    if len(rows) > PAGE_SIZE:
        rows = rows[:PAGE_SIZE]
        last = rows[-1]
        next_url = "?" + urlencode({**params, "cursor": encode_cursor([last.at.isoformat(), last.pk])})
    return render(
        request,
        "console/audit.html",
        {
            "form": form,
            "rows": audit_query.rows(rows),
            "next_url": next_url,
            "first_url": "?" + urlencode(params),
            "export_query": urlencode(params),
            "paged": bool(position),
            "filtered": bool(params),
        },
    )


def audit_export(request: HttpRequest) -> StreamingHttpResponse:
    """Every event the filters match (not only one page) as CSV, newest first."""
    admin = current_admin(request)
    _, data = _filters(request)
    events = audit_query.filtered(admin.organization_id, data).order_by("-at", "-id")

    def lines() -> Iterator[str]:
        writer = csv.writer(Echo())
        yield writer.writerow(CSV_HEADER)
        chunk: list[AuditEvent] = []
        for event in events.iterator(chunk_size=EXPORT_CHUNK):
            chunk.append(event)
            if len(chunk) == EXPORT_CHUNK:
                yield from _write_rows(writer, chunk)
                chunk = []
        yield from _write_rows(writer, chunk)

    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="lockstep-audit-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response


def _write_rows(writer: Any, events: list[AuditEvent]) -> Iterator[str]:
    for row in audit_query.rows(events):
        event = row.event
        yield writer.writerow(
            [
                safe_cell(value)
                for value in (
                    event.at.strftime("%Y-%m-%d %H:%M:%S"),
                    event.actor_label or event.actor_kind,
                    row.category,
                    event.action,
                    event.target_type,
                    event.target_id,
                    event.target_label,
                    row.words,
                )
            ]
        )

"""Step 1 of the import wizard: list the tenant's users into candidates, page and search them.

Also the rules every import job shares: one scan or import per directory at a time, and a row
that never finished after a while belongs to a worker that died.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict, NotFound, ValidationFailed
from lockstep.directory.services.users import decode_cursor, encode_cursor
from lockstep.m365 import import_scan, importer
from lockstep.m365.budget import DatabaseBudget
from lockstep.m365.credentials import connection_for
from lockstep.m365.graph.client import GraphClient
from lockstep.m365.jobs import enqueue_on_commit
from lockstep.m365.models import Directory, ImportBatch, ImportCandidate, ImportScan
from lockstep.m365.services.bindings import get_directory

ACTIVE_STATES = ("queued", "running")
STALE_AFTER = timedelta(hours=6)  # an import row older than this that never finished: its worker died
SCAN_STALE_AFTER = timedelta(minutes=30)  # the same for a scan (50,000 users take about a minute)


def client_for(directory: Directory) -> GraphClient:
    return GraphClient(connection_for(directory), rate_limiter=DatabaseBudget(directory.tenant_id))


def active_rows(
    queryset: QuerySet[Any], states: Sequence[str], stale: timedelta = STALE_AFTER
) -> QuerySet[Any]:
    return queryset.filter(state__in=states, created_at__gt=timezone.now() - stale)


def refuse_if_busy(directory: Directory) -> None:
    if active_rows(ImportBatch.objects.filter(directory=directory), ("running",)).exists():
        raise Conflict("directory_id", f"An import into {directory.name} is running; wait until it finishes.")


# --- 1. scan and list --------------------------------------------------------------------------


def scan_candidates(
    *, actor: Actor, directory_id: int, wait: bool = False, client: GraphClient | None = None
) -> ImportScan:
    """List the tenant's users into candidates: a background job unless `wait`.

    Returns the scan row; its `state`, `pages_done` and `users_seen` are the progress. With
    `wait` (CLI, tests) the scan runs in this thread, through `client` if given.
    """
    actor.require_write()
    directory = get_directory(actor=actor, directory_id=directory_id)
    with transaction.atomic():
        Directory.objects.select_for_update().filter(pk=directory.pk).first()  # one scan at a time
        if active_rows(
            ImportScan.objects.filter(directory=directory), ACTIVE_STATES, SCAN_STALE_AFTER
        ).exists():
            raise Conflict("directory_id", f"A listing of {directory.name} is already running.")
        refuse_if_busy(directory)
        scan = ImportScan.objects.create(directory=directory, created_by_label=actor.label)
        if not wait:
            enqueue_on_commit("scan_directory", scan_id=scan.pk)
    if wait:
        return run_scan(scan_id=scan.pk, client=client)
    return scan


def run_scan(*, scan_id: int, client: GraphClient | None = None) -> ImportScan:
    """The scan job's body (what the background task calls)."""
    scan = ImportScan.objects.select_related("directory").get(pk=scan_id)
    if client is not None:
        return import_scan.run_scan(scan, client)
    with client_for(scan.directory) as own:
        return import_scan.run_scan(scan, own)


def get_scan(*, actor: Actor, scan_id: int) -> ImportScan:
    try:
        return ImportScan.objects.get(pk=scan_id, directory__organization_id=actor.organization_id)
    except (ImportScan.DoesNotExist, ValueError, TypeError):
        raise NotFound("scan", scan_id) from None


def latest_scan(*, actor: Actor, directory_id: int) -> ImportScan | None:
    """The directory's newest scan in any state (for a progress bar), or None."""
    directory = get_directory(actor=actor, directory_id=directory_id)
    return ImportScan.objects.filter(directory=directory).order_by("-created_at", "-id").first()


def current_scan(directory: Directory) -> ImportScan | None:
    return ImportScan.objects.filter(directory=directory, state="done").order_by("-created_at", "-id").first()


@dataclass(frozen=True)
class CandidateFilter:
    """Which candidates: text in UPN, mail or display name, a match status, and flags (None: any)."""

    search: str | None = None
    status: str | None = None
    admin: bool | None = None
    licensed: bool | None = None
    enabled: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def filtered(scan: ImportScan | None, flt: CandidateFilter) -> QuerySet[ImportCandidate]:
    """The scan's candidates matching `flt` (None: no scan; the filter is still validated)."""
    errors: dict[str, list[str]] = {}
    queryset = ImportCandidate.objects.filter(scan=scan) if scan else ImportCandidate.objects.none()
    if flt.search and flt.search.strip():
        term = flt.search.strip()
        if len(term) > 200:
            errors["search"] = ["Must be at most 200 characters."]
        queryset = queryset.filter(
            Q(sort_key__contains=term.lower()) | Q(mail__icontains=term) | Q(display_name__icontains=term)
        )
    if flt.status:
        if flt.status not in importer.STATUSES:
            errors["status"] = [f"Must be one of: {', '.join(importer.STATUSES)}."]
        queryset = queryset.filter(status=flt.status)
    for name in ("admin", "licensed", "enabled"):
        value = getattr(flt, name)
        if value is not None:
            if not isinstance(value, bool):
                errors[name] = ["Must be true or false."]
            queryset = queryset.filter(**{name: value})
    if errors:
        raise ValidationFailed(errors)
    return queryset


@dataclass(frozen=True)
class CandidatePage:
    scan: ImportScan | None  # the scan listed (None: no finished scan yet)
    items: list[ImportCandidate]
    next_cursor: str | None
    total: int  # candidates matching the filter


def list_candidates(
    *,
    actor: Actor,
    directory_id: int,
    search: str | None = None,
    status: str | None = None,
    admin: bool | None = None,
    licensed: bool | None = None,
    enabled: bool | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> CandidatePage:
    """A page of the current scan's candidates, ordered by UPN (keyset: constant cost per page)."""
    if not isinstance(limit, int) or not 1 <= limit <= 500:
        raise ValidationFailed({"limit": ["Must be between 1 and 500."]})
    directory = get_directory(actor=actor, directory_id=directory_id)
    scan = current_scan(directory)
    flt = CandidateFilter(search=search, status=status, admin=admin, licensed=licensed, enabled=enabled)
    if scan is None:
        filtered(None, flt)  # still validate the input
        return CandidatePage(scan=None, items=[], next_cursor=None, total=0)
    queryset = filtered(scan, flt)
    total = queryset.count()
    if cursor:
        last_key, last_id = decode_cursor(cursor)
        if not isinstance(last_key, str) or type(last_id) is not int or not 0 <= last_id < 2**63:
            raise ValidationFailed({"cursor": ["Not a cursor this API returned."]})
        queryset = queryset.filter(Q(sort_key__gt=last_key) | Q(sort_key=last_key, id__gt=last_id))
    items = list(queryset.select_related("matched_user").order_by("sort_key", "id")[: limit + 1])
    next_cursor = None
    if len(items) > limit:
        items = items[:limit]
        next_cursor = encode_cursor([items[-1].sort_key, items[-1].pk])
    return CandidatePage(scan=scan, items=items, next_cursor=next_cursor, total=total)


def get_candidate(*, actor: Actor, candidate_id: int) -> ImportCandidate:
    try:
        return ImportCandidate.objects.select_related("scan__directory", "matched_user").get(
            pk=candidate_id, scan__directory__organization_id=actor.organization_id
        )
    except (ImportCandidate.DoesNotExist, ValueError, TypeError):
        raise NotFound("candidate", candidate_id) from None

"""Import and takeover of existing Microsoft 365 accounts and security groups (SPEC 2.2, 2.5, 2.7).

The flow: start a scan (a background job; poll its progress), page through the candidates,
look at the plan of one candidate, preview an import (the exact writes), start it (a background
job; poll the batch), undo it within 48 hours.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Query, Router, Status

from lockstep.api.auth import actor_of, writer
from lockstep.api.errors import error_responses
from lockstep.api.import_schemas import (
    BY_ID,
    BatchOut,
    BatchPageOut,
    CandidatePageOut,
    CandidatePlanOut,
    GroupOutcomeOut,
    ImportIn,
    ImportState,
    ItemPageOut,
    MatchStatus,
    PreviewIn,
    PreviewOut,
    RemoteGroupOut,
    RemoteIds,
    ScanOut,
    UndoEffectsOut,
    UsageOut,
)
from lockstep.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, NEWEST_CREATED_FIRST, paginate
from lockstep.directory.errors import NotFound, ValidationFailed
from lockstep.m365.models import ImportBatch, ImportScan
from lockstep.m365.services import imports

router = Router(tags=["microsoft 365 import"])

# --- scans and candidates --------------------------------------------------------------------------------


@router.post(
    "/directories/{int:directory_id}/scans",
    response={202: ScanOut, **error_responses(403, 404, 409)},
    summary="List the tenant's users into import candidates (a background job)",
)
def start_scan(request: HttpRequest, directory_id: int) -> Status[ImportScan]:
    actor = writer(request)
    return Status(202, imports.scan_candidates(actor=actor, directory_id=directory_id))


@router.get(
    "/directories/{int:directory_id}/scans/latest",
    response={200: ScanOut, **error_responses(404)},
    summary="The newest scan and its progress",
)
def latest_scan(request: HttpRequest, directory_id: int) -> ImportScan:
    scan = imports.latest_scan(actor=actor_of(request), directory_id=directory_id)
    if scan is None:
        raise NotFound("scan", directory_id)
    return scan


@router.get(
    "/directories/{int:directory_id}/candidates",
    response={200: CandidatePageOut, **error_responses(404, 422)},
    summary="Page through the candidates of the newest finished scan",
)
def candidates(
    request: HttpRequest,
    directory_id: int,
    search: str | None = Query(None, description="Part of the UPN, mail or display name."),
    status: MatchStatus | None = None,
    admin: bool | None = None,
    licensed: bool | None = None,
    enabled: bool | None = None,
    cursor: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    page = imports.list_candidates(
        actor=actor_of(request),
        directory_id=directory_id,
        search=search,
        status=status,
        admin=admin,
        licensed=licensed,
        enabled=enabled,
        cursor=cursor,
        limit=limit,
    )
    return {
        "scan_id": page.scan.pk if page.scan else None,
        "total": page.total,
        "items": page.items,
        "next_cursor": page.next_cursor,
    }


@router.get(
    "/import-candidates/{int:candidate_id}/plan",
    response={200: CandidatePlanOut, **error_responses(404, 422)},
    summary="What taking over one account changes, attribute by attribute",
)
def candidate_plan(
    request: HttpRequest, candidate_id: int, state: ImportState = "staged", fill_from_m365: bool = True
) -> Any:
    return imports.plan_for(
        actor=actor_of(request), candidate_id=candidate_id, state=state, fill_from_m365=fill_from_m365
    )


# --- preview, import, batches, undo --------------------------------------------------------------------


def _arguments(payload: ImportIn) -> dict[str, Any]:
    values: dict[str, Any] = {
        "state": payload.state,
        "confirm_admins": payload.confirm_admins,
        "include_unlicensed": payload.include_unlicensed,
        "include_disabled": payload.include_disabled,
        "fill_from_m365": payload.fill_from_m365,
    }
    if payload.filter is not None:
        values["filter"] = imports.CandidateFilter(**payload.filter.model_dump())
    if payload.candidate_ids is not None:
        values["candidate_ids"] = payload.candidate_ids
    return values


@router.post(
    "/directories/{int:directory_id}/imports/preview",
    response={200: PreviewOut, **error_responses(403, 404, 409, 422)},
    summary="Preview an import: counts, skipped accounts and the exact Microsoft 365 writes",
)
def preview(request: HttpRequest, directory_id: int, payload: PreviewIn) -> Any:
    actor = writer(request)
    return imports.preview_import(
        actor=actor, directory_id=directory_id, limit=payload.limit, **_arguments(payload)
    )


@router.post(
    "/directories/{int:directory_id}/imports",
    response={202: BatchOut, **error_responses(403, 404, 409, 422)},
    summary="Import a selection, or everything matching a filter (a background job)",
    description="Creates missing Lockstep users (state chosen), binds every account as adopted (no "
    "password is sent) and records the batch. Admin-role holders need confirm_admins.",
)
def start_import(request: HttpRequest, directory_id: int, payload: ImportIn) -> Status[ImportBatch]:
    actor = writer(request)
    return Status(202, imports.start_import(actor=actor, directory_id=directory_id, **_arguments(payload)))


@router.get(
    "/directories/{int:directory_id}/imports",
    response={200: BatchPageOut, **error_responses(404, 422)},
    summary="The directory's import batches, newest first",
)
def list_batches(
    request: HttpRequest,
    directory_id: int,
    cursor: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    queryset = imports.list_imports(actor=actor_of(request), directory_id=directory_id)
    page = paginate(queryset, NEWEST_CREATED_FIRST, cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.get(
    "/imports/{int:batch_id}",
    response={200: BatchOut, **error_responses(404)},
    summary="An import batch and its progress",
)
def get_batch(request: HttpRequest, batch_id: int) -> ImportBatch:
    return imports.get_import(actor=actor_of(request), batch_id=batch_id)


@router.get(
    "/imports/{int:batch_id}/items",
    response={200: ItemPageOut, **error_responses(404, 422)},
    summary="What the batch did per account",
)
def batch_items(
    request: HttpRequest,
    batch_id: int,
    outcome: Literal["created", "bound", "already_bound", "skipped", "error"] | None = None,
    cursor: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    queryset = imports.list_import_items(actor=actor_of(request), batch_id=batch_id, outcome=outcome)
    page = paginate(queryset, BY_ID, cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.get(
    "/imports/{int:batch_id}/undo",
    response={200: UndoEffectsOut, **error_responses(404, 409)},
    summary="What undoing the import would do, in Lockstep and in Microsoft 365 (ask before undoing)",
)
def undo_preview(request: HttpRequest, batch_id: int) -> Any:
    return imports.undo_effects(actor=actor_of(request), batch_id=batch_id)


@router.post(
    "/imports/{int:batch_id}/undo",
    response={200: BatchOut, **error_responses(403, 404, 409)},
    summary="Undo an import (within 48 hours); restore_remote=true puts the accounts' old values back",
    description="Removes the users the import created and its bindings. What Lockstep wrote to the "
    "accounts stays in Microsoft 365 (see GET .../undo) unless restore_remote is true: then the sync "
    "loop writes the values from before the import back, except values changed in Microsoft 365 since.",
)
def undo(request: HttpRequest, batch_id: int, restore_remote: bool = False) -> ImportBatch:
    actor = writer(request)
    return imports.undo_import(actor=actor, batch_id=batch_id, restore_remote=restore_remote)


# --- usage ----------------------------------------------------------------------------------------------


@router.get(
    "/usage-report",
    response={200: UsageOut, **error_responses(422)},
    summary="Users counted for a period (default: this month); import undos excluded",
)
def usage(request: HttpRequest, start: datetime | None = None, end: datetime | None = None) -> Any:
    return imports.usage_report(actor=actor_of(request), start=in_utc(start, "start"), end=in_utc(end, "end"))


def in_utc(moment: datetime | None, field: str) -> datetime | None:
    """The moment in UTC: PostgreSQL refuses offsets beyond ±15:59, which ISO 8601 (and Python)
    allow up to ±23:59, so +17:57 was a 500 there and fine on SQLite."""
    if moment is None or moment.tzinfo is None:
        return moment
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValidationFailed({field: ["Must be between the years 1 and 9999 in UTC."]}) from None


# --- security groups -------------------------------------------------------------------------------------


@router.get(
    "/directories/{int:directory_id}/remote-groups",
    response={200: list[RemoteGroupOut], **error_responses(404, 409)},
    summary="The tenant's groups with their kind (only security groups are importable)",
)
def remote_groups(request: HttpRequest, directory_id: int) -> Any:
    actor = actor_of(request)
    return imports.list_remote_groups(actor=actor, directory_id=directory_id)


@router.post(
    "/directories/{int:directory_id}/remote-groups/import",
    response={200: list[GroupOutcomeOut], **error_responses(403, 404, 409, 422)},
    summary="Take over existing security groups (other kinds are refused with the reason)",
)
def import_remote_groups(request: HttpRequest, directory_id: int, payload: RemoteIds) -> Any:
    actor = writer(request)
    return imports.import_groups(actor=actor, directory_id=directory_id, remote_ids=payload.remote_ids)

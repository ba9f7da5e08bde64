"""Import and takeover of existing Microsoft 365 accounts and security groups (SPEC 2.2, 2.5, 2.7).

The flow: start a scan (a background job; poll its progress), page through the candidates,
look at the plan of one candidate, preview an import (the exact writes), start it (a background
job; poll the batch), undo it within 48 hours.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from lockstep.api.auth import actor_of
from lockstep.api.directories import graph, writer
from lockstep.api.errors import error_responses
from lockstep.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, NEWEST_CREATED_FIRST, Keyset, paginate
from lockstep.directory.errors import NotFound
from lockstep.m365.models import ImportBatch, ImportScan
from lockstep.m365.services import imports

router = Router(tags=["microsoft 365 import"])

MatchStatus = Literal["new", "matched", "ambiguous", "bound"]
ImportState = Literal["staged", "active"]
MAX_IDS = imports.MAX_SELECTION


def _whole(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError
    return value


BY_ID = Keyset("id", _whole)


class ScanOut(Schema):
    id: int
    directory_id: int
    state: Literal["queued", "running", "done", "failed"]
    users_seen: int
    users_total: int | None = Field(None, description="The tenant's user count, when known (progress).")
    pages_done: int
    admins_found: int
    error: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class CandidateOut(Schema):
    id: int
    remote_id: str
    upn: str
    mail: str
    display_name: str
    licensed: bool
    enabled: bool
    admin: bool = Field(description="Holds an Entra admin role: importing needs confirm_admins.")
    status: MatchStatus
    matched_by: str
    matched_user_id: int | None
    reason: str


class CandidatePageOut(Schema):
    scan_id: int | None = Field(description="The finished scan listed (null: no finished scan yet).")
    total: int = Field(description="Candidates matching the filters.")
    items: list[CandidateOut]
    next_cursor: str | None


class ChangeOut(Schema):
    property: str
    current: Any
    planned: Any
    changes: bool


class WriteOut(Schema):
    candidate_id: int
    upn: str
    method: str
    url: str
    body: dict[str, Any] | None


class CandidatePlanOut(Schema):
    candidate_id: int
    remote_id: str
    upn: str
    status: str
    action: Literal["create", "bind", "link", "already_bound", "skip"]
    reason: str
    lockstep_user: dict[str, Any]
    changes: list[ChangeOut]
    writes: list[WriteOut]


class FilterIn(Schema):
    model_config = ConfigDict(extra="forbid")

    search: str | None = None
    status: MatchStatus | None = None
    admin: bool | None = None
    licensed: bool | None = None
    enabled: bool | None = None


class ImportIn(Schema):
    model_config = ConfigDict(extra="forbid")

    candidate_ids: list[int] | None = Field(
        None, max_length=MAX_IDS, description="Either these candidates..."
    )
    filter: FilterIn | None = Field(None, description="...or every candidate matching this filter.")
    state: ImportState = Field("staged", description="State of the Lockstep users the import creates.")
    confirm_admins: bool = Field(False, description="Import accounts holding Entra admin roles too.")
    include_unlicensed: bool = False
    include_disabled: bool = False
    fill_from_m365: bool = Field(
        True,
        description="Matched users: empty Lockstep fields take the Microsoft 365 values before binding "
        "(audited per user), so the takeover clears nothing. Off: those values are cleared "
        "(the preview's `losses`).",
    )


class PreviewIn(ImportIn):
    limit: int = Field(1000, ge=0, le=100_000, description="At most this many writes are listed.")


class SkippedOut(Schema):
    candidate_id: int
    upn: str
    reason: str


class PreviewOut(Schema):
    selected: int
    would_create: int
    would_bind: int
    already_bound: int
    skipped: list[SkippedOut]
    writes: list[WriteOut]
    write_count: int
    truncated: bool
    losses: dict[str, int] = Field(description="Value (e.g. Job title) -> accounts that would lose it.")
    loss_words: str = Field(description="The same in words, e.g. '12 accounts would lose their Job title'.")
    fills: dict[str, int] = Field(description="Value -> Lockstep users whose empty field is filled from it.")
    fill_words: str


class BatchOut(Schema):
    id: int
    directory_id: int
    state: Literal["running", "done", "failed", "undone"]
    requested: int
    processed: int
    created_users: int
    bound_existing: int
    skipped: int
    failed: int
    errors: list[dict[str, Any]]
    created_by_id: int | None
    created_at: datetime
    finished_at: datetime | None
    undone_at: datetime | None
    undo_until: datetime

    @staticmethod
    def resolve_undo_until(obj: ImportBatch) -> datetime:
        return obj.created_at + imports.UNDO_WINDOW


class BatchPageOut(Schema):
    items: list[BatchOut]
    next_cursor: str | None


class ItemOut(Schema):
    id: int
    remote_id: str
    upn: str
    user_id: int | None
    created_user: bool
    outcome: Literal["created", "bound", "already_bound", "skipped", "error"]
    reason: str
    at: datetime


class ItemPageOut(Schema):
    items: list[ItemOut]
    next_cursor: str | None


class RemoteGroupOut(Schema):
    remote_id: str
    display_name: str
    description: str
    kind: Literal["security", "unified", "mail_enabled_security", "distribution", "other"]
    kind_label: str
    importable: bool
    reason: str
    bound_group_id: int | None


class RemoteIds(Schema):
    model_config = ConfigDict(extra="forbid")

    remote_ids: list[str] = Field(min_length=1, max_length=500)


class GroupOutcomeOut(Schema):
    remote_id: str
    display_name: str
    outcome: Literal["imported", "already_imported", "refused"]
    reason: str
    group_id: int | None
    members_added: int
    members_not_managed: int


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


class RemoteChangeOut(Schema):
    attribute: str
    label: str
    before: Any
    now: Any
    words: str = Field(description="e.g. 'Job title: Manager → (cleared)'.")
    restorable: bool
    why_not: str


class AccountEffectOut(Schema):
    remote_id: str
    upn: str
    user_label: str
    changes: list[RemoteChangeOut]


class UndoEffectsOut(Schema):
    users_removed: int
    bindings_removed: int
    unsent: int = Field(description="Accounts whose queued writes the undo cancels.")
    accounts: list[AccountEffectOut] = Field(
        description="Accounts Lockstep changed: these values stay unless the undo puts the old ones back."
    )
    restorable: int = Field(description="Accounts whose old values `restore_remote` puts back.")
    unknown_before: int = Field(description="Accounts imported before Lockstep kept old values.")


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


class DirectoryUsageOut(Schema):
    directory_id: int
    name: str
    bound_users: int
    imported_users: int
    removed_by_undo: int


class UsageOut(Schema):
    start: datetime
    end: datetime
    users_now: int
    counted_users: int = Field(
        description="Users that existed in the period, less those an import undo removed."
    )
    removed_by_undo: int
    directories: list[DirectoryUsageOut]


@router.get(
    "/usage-report",
    response={200: UsageOut, **error_responses(422)},
    summary="Users counted for a period (default: this month); import undos excluded",
)
def usage(request: HttpRequest, start: datetime | None = None, end: datetime | None = None) -> Any:
    return imports.usage_report(actor=actor_of(request), start=start, end=end)


# --- security groups -------------------------------------------------------------------------------------


@router.get(
    "/directories/{int:directory_id}/remote-groups",
    response={200: list[RemoteGroupOut], **error_responses(404, 409)},
    summary="The tenant's groups with their kind (only security groups are importable)",
)
def remote_groups(request: HttpRequest, directory_id: int) -> Any:
    actor = actor_of(request)
    return graph(lambda: imports.list_remote_groups(actor=actor, directory_id=directory_id))


@router.post(
    "/directories/{int:directory_id}/remote-groups/import",
    response={200: list[GroupOutcomeOut], **error_responses(403, 404, 409, 422)},
    summary="Take over existing security groups (other kinds are refused with the reason)",
)
def import_remote_groups(request: HttpRequest, directory_id: int, payload: RemoteIds) -> Any:
    actor = writer(request)
    return graph(
        lambda: imports.import_groups(actor=actor, directory_id=directory_id, remote_ids=payload.remote_ids)
    )

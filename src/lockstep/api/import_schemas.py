"""The request and response bodies of the import and takeover routes (api/m365_imports.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Field, Schema
from pydantic import ConfigDict

from lockstep.api.pagination import Keyset
from lockstep.m365.models import ImportBatch
from lockstep.m365.services import imports

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

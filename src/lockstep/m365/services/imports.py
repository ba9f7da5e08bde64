"""Import existing Microsoft 365 accounts and security groups (SPEC 2.2, 2.5, 2.7 plan preview).

The flow an admin follows, one service function per step:

1. `scan_candidates` lists the tenant's users into stored candidates (a background job
   with a progress row); `list_candidates` pages and searches them.
2. `plan_for` shows, attribute by attribute, what taking one account over changes;
   `preview_import` lists the exact Microsoft 365 writes an import of a selection causes.
3. `start_import` imports a selection or everything matching a filter (a background job
   with an `ImportBatch` progress row); `run_import` is the job's body.
4. `undo_import` removes what a batch created, within 48 hours, leaving Microsoft 365 as is;
   `usage_report` counts users without the ones an undo removed (in `import_undo`,
   re-exported here).
5. `list_remote_groups` / `preview_group_import` / `import_groups` take over existing security groups
   (in `group_imports`, re-exported here).

Every function is keyword-only, checks the actor, and raises `ValidationFailed`,
`Conflict` or `NotFound` from `lockstep.directory.errors`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from lockstep.directory import audit
from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict, NotFound, ServiceError, ValidationFailed
from lockstep.directory.models import ActorKind, Administrator, User, UserState
from lockstep.directory.services import users as user_service
from lockstep.directory.services.users import decode_cursor, encode_cursor
from lockstep.m365 import immutable_ids, importer, mapping, reconcile, wakeup
from lockstep.m365.budget import DatabaseBudget
from lockstep.m365.credentials import connection_for
from lockstep.m365.graph.client import GraphClient
from lockstep.m365.models import (
    Directory,
    ImportBatch,
    ImportCandidate,
    ImportedAccount,
    ImportScan,
    SyncStatus,
    UserBinding,
)
from lockstep.m365.services.bindings import get_directory
from lockstep.m365.services.group_imports import (  # re-exported: one module for the import wizard
    GroupImportOutcome,
    GroupImportPlan,
    GroupWrite,
    RemoteGroup,
    group_kind,
    import_groups,
    list_remote_groups,
    preview_group_import,
)
from lockstep.m365.services.import_undo import (  # re-exported: one module for the import wizard
    UNDO_WINDOW,
    DirectoryUsage,
    UsageReport,
    undo_import,
    usage_report,
)

log = logging.getLogger(__name__)

MAX_SELECTION = 50_000
CHUNK = 200
MAX_ERRORS_SHOWN = 200
ACTIVE_STATES = ("queued", "running")
STALE_AFTER = timedelta(hours=6)  # an import row older than this that never finished: its worker died
SCAN_STALE_AFTER = timedelta(minutes=30)  # the same for a scan (50,000 users take about a minute)
IMPORT_STATES = (UserState.STAGED, UserState.ACTIVE)


# --- common ------------------------------------------------------------------------------------


def _client_for(directory: Directory) -> GraphClient:
    return GraphClient(connection_for(directory), rate_limiter=DatabaseBudget(directory.tenant_id))


def _actor_dict(actor: Actor) -> dict[str, Any]:
    return dataclasses.asdict(actor)


def _actor_from(options: dict[str, Any], organization_id: int) -> Actor:
    data = options.get("actor") or {}
    return Actor(
        kind=str(data.get("kind", ActorKind.SYSTEM)),
        organization_id=organization_id,
        role=str(data.get("role", "owner")),
        id=str(data.get("id", "")),
        label=str(data.get("label", "Lockstep import")),
    )


def _admin_of(actor: Actor) -> Administrator | None:
    if actor.kind != ActorKind.ADMIN or not actor.id:
        return None
    return Administrator.objects.filter(pk=actor.id, organization_id=actor.organization_id).first()


def _active(queryset: QuerySet[Any], states: Sequence[str], stale: timedelta = STALE_AFTER) -> QuerySet[Any]:
    return queryset.filter(state__in=states, created_at__gt=timezone.now() - stale)


def _refuse_if_busy(directory: Directory) -> None:
    if _active(ImportBatch.objects.filter(directory=directory), ("running",)).exists():
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
        if _active(ImportScan.objects.filter(directory=directory), ACTIVE_STATES, SCAN_STALE_AFTER).exists():
            raise Conflict("directory_id", f"A listing of {directory.name} is already running.")
        _refuse_if_busy(directory)
        scan = ImportScan.objects.create(directory=directory, created_by_label=actor.label)
        if not wait:
            from lockstep.m365 import tasks

            transaction.on_commit(lambda: tasks.scan_directory.enqueue(scan_id=scan.pk))
    if wait:
        return run_scan(scan_id=scan.pk, client=client)
    return scan


def run_scan(*, scan_id: int, client: GraphClient | None = None) -> ImportScan:
    """The scan job's body (what the background task calls)."""
    scan = ImportScan.objects.select_related("directory").get(pk=scan_id)
    if client is not None:
        return importer.run_scan(scan, client)
    with _client_for(scan.directory) as own:
        return importer.run_scan(scan, own)


def get_scan(*, actor: Actor, scan_id: int) -> ImportScan:
    try:
        return ImportScan.objects.get(pk=scan_id, directory__organization_id=actor.organization_id)
    except (ImportScan.DoesNotExist, ValueError, TypeError):
        raise NotFound("scan", scan_id) from None


def latest_scan(*, actor: Actor, directory_id: int) -> ImportScan | None:
    """The directory's newest scan in any state (for a progress bar), or None."""
    directory = get_directory(actor=actor, directory_id=directory_id)
    return ImportScan.objects.filter(directory=directory).order_by("-created_at", "-id").first()


def _current_scan(directory: Directory) -> ImportScan | None:
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


def _filtered(scan: ImportScan | None, flt: CandidateFilter) -> QuerySet[ImportCandidate]:
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
    scan = _current_scan(directory)
    flt = CandidateFilter(search=search, status=status, admin=admin, licensed=licensed, enabled=enabled)
    if scan is None:
        _filtered(None, flt)  # still validate the input
        return CandidatePage(scan=None, items=[], next_cursor=None, total=0)
    queryset = _filtered(scan, flt)
    total = queryset.count()
    if cursor:
        last_key, last_id = decode_cursor(cursor)
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


# --- 2. decisions, plans and previews -----------------------------------------------------------


@dataclass(frozen=True)
class ImportOptions:
    state: str = UserState.STAGED
    confirm_admins: bool = False
    include_unlicensed: bool = False
    include_disabled: bool = False


def _clean_options(
    state: Any, confirm_admins: Any, include_unlicensed: Any, include_disabled: Any
) -> ImportOptions:
    errors: dict[str, list[str]] = {}
    if state not in IMPORT_STATES:
        errors["state"] = [
            "Must be staged or active (an import never blocks sign-in: suspend users afterwards if needed)."
        ]
    for name, value in (
        ("confirm_admins", confirm_admins),
        ("include_unlicensed", include_unlicensed),
        ("include_disabled", include_disabled),
    ):
        if not isinstance(value, bool):
            errors[name] = ["Must be true or false."]
    if errors:
        raise ValidationFailed(errors)
    return ImportOptions(str(state), confirm_admins, include_unlicensed, include_disabled)


@dataclass
class Decision:
    """What importing one candidate does now: create, bind, link, already_bound or skip."""

    candidate: ImportCandidate
    action: str
    status: str  # the match status now (it may differ from the scan's)
    reason: str = ""
    user: User | None = None  # the Lockstep user (unsaved for `create`)
    operations: list[reconcile.Operation] = field(default_factory=list)
    known: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Context:
    directory: Directory
    options: ImportOptions
    verified: set[str]
    federated: set[str]


def _context(directory: Directory, options: ImportOptions) -> _Context:
    return _Context(
        directory, options, importer.verified_domains(directory), importer.federated_domains(directory)
    )


def _decide_all(ctx: _Context, candidates: Sequence[ImportCandidate]) -> list[Decision]:
    """Decisions for a chunk of candidates, matched afresh against Lockstep's users now."""
    matches = importer.match_accounts(
        directory=ctx.directory, accounts=[importer.account_of(c) for c in candidates]
    )
    user_ids = {m.user_id for m in matches.values() if m.user_id}
    users = {
        u.pk: u for u in User.objects.filter(pk__in=user_ids, organization_id=ctx.directory.organization_id)
    }
    check = immutable_ids.TakeoverCheck.load(
        ctx.directory, [immutable_ids.account_value(c.attributes) for c in candidates], user_ids
    )
    return [_decide(ctx, c, matches[c.remote_id], users, check) for c in candidates]


def _decide(
    ctx: _Context,
    candidate: ImportCandidate,
    match: importer.Match,
    users: dict[int, User],
    check: immutable_ids.TakeoverCheck,
) -> Decision:
    if match.status == importer.BOUND:
        return Decision(candidate, "already_bound", match.status, match.reason, users.get(match.user_id or 0))
    why = importer.eligibility(
        candidate,
        confirm_admins=ctx.options.confirm_admins,
        include_unlicensed=ctx.options.include_unlicensed,
        include_disabled=ctx.options.include_disabled,
    )
    if not why.ok:
        return Decision(candidate, "skip", match.status, " ".join(why.reasons))
    if match.status == importer.AMBIGUOUS:
        return Decision(candidate, "skip", match.status, f"Ambiguous: {match.reason}")
    if candidate.status == importer.AMBIGUOUS:  # several accounts of the scan match one user
        return Decision(candidate, "skip", importer.AMBIGUOUS, f"Ambiguous: {candidate.reason}")
    if match.status == importer.NEW:
        user, errors = importer.unsaved_user(candidate, ctx.options.state)
        if user is None:
            shown = "; ".join(f"{f}: {' '.join(m)}" for f, m in errors.items())
            return Decision(
                candidate, "skip", match.status, f"Cannot create a Lockstep user from it: {shown}"
            )
        action = "create"
    else:
        user = users.get(match.user_id or 0)
        if user is None:
            return Decision(candidate, "skip", match.status, "The matched Lockstep user no longer exists.")
        action = "link" if match.pending_binding else "bind"
    domain = mapping.email_domain(user.email)
    if domain not in ctx.verified:
        return Decision(
            candidate,
            "skip",
            match.status,
            f"The company email's domain {domain} is not a verified domain of {ctx.directory.name}.",
        )
    kept_id_problem = check.problem(user, immutable_ids.account_value(candidate.attributes))
    if kept_id_problem:
        return Decision(candidate, "skip", match.status, kept_id_problem)
    operations, known = importer.plan_operations(candidate, ctx.directory, user, federated=ctx.federated)
    return Decision(candidate, action, match.status, match.reason, user, operations, known)


@dataclass(frozen=True)
class PlannedWrite:
    """One Microsoft 365 write (never with a password: an import dispatches none)."""

    candidate_id: int
    upn: str
    method: str
    url: str
    body: dict[str, Any] | None


def _writes(decision: Decision) -> list[PlannedWrite]:
    c = decision.candidate
    return [PlannedWrite(c.pk, c.upn, op.method, op.url, op.body) for op in decision.operations]


@dataclass(frozen=True)
class CandidatePlan:
    """What taking one account over does: the Lockstep side and the Graph property changes."""

    candidate_id: int
    remote_id: str
    upn: str
    status: str  # match status now
    action: str  # create, bind, link, already_bound, skip
    reason: str
    lockstep_user: dict[str, Any]  # the user that would be created, or the matched one
    changes: list[importer.AttributeChange]
    writes: list[PlannedWrite]


def plan_for(*, actor: Actor, candidate_id: int, state: str = UserState.STAGED) -> CandidatePlan:
    """The attribute-by-attribute plan of taking over one candidate (nothing is written).

    A `new` candidate's user is created from the remote values, so mostly nothing changes
    except `onPremisesImmutableId`; for a `matched` one Lockstep's values win. Admin,
    licence and disabled flags are shown as if confirmed/included (the plan is per account).
    """
    candidate = get_candidate(actor=actor, candidate_id=candidate_id)
    return _plans(actor, candidate.scan.directory, [candidate], state)[0]


def plans_for(
    *, actor: Actor, candidate_ids: Sequence[int], state: str = UserState.STAGED
) -> list[CandidatePlan]:
    """`plan_for` for a page of candidates (at most 500) in a few queries, in the order given."""
    ids = list(candidate_ids)
    if len(ids) > 500 or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise ValidationFailed({"candidate_ids": ["At most 500 candidate ids (integers)."]})
    found = {
        c.pk: c
        for c in ImportCandidate.objects.select_related("scan__directory").filter(
            pk__in=ids, scan__directory__organization_id=actor.organization_id
        )
    }
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound("candidate", missing[0])
    directories = {c.scan.directory_id for c in found.values()}
    if len(directories) > 1:
        raise ValidationFailed({"candidate_ids": ["All candidates must be of one directory."]})
    if not ids:
        return []
    candidates = [found[i] for i in ids]
    return _plans(actor, candidates[0].scan.directory, candidates, state)


def _plans(
    actor: Actor, directory: Directory, candidates: list[ImportCandidate], state: str
) -> list[CandidatePlan]:
    options = _clean_options(state, True, True, True)
    plans = []
    for decision in _decide_all(_context(directory, options), candidates):
        candidate, user = decision.candidate, decision.user
        shown: dict[str, Any] = {}
        if user is not None:
            shown = {
                "id": user.pk,
                "username": user.username
                if user.pk
                else importer.unique_username(candidate.upn, actor.organization_id),
                "email": user.email,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "display_name": user.display_name,
                "state": user.state,
            }
        changes = []
        if decision.action not in ("already_bound", "skip"):
            changes = importer.attribute_changes(candidate, directory, decision.operations)
        plans.append(
            CandidatePlan(
                candidate_id=candidate.pk,
                remote_id=candidate.remote_id,
                upn=candidate.upn,
                status=decision.status,
                action=decision.action,
                reason=decision.reason,
                lockstep_user=shown,
                changes=changes,
                writes=_writes(decision),
            )
        )
    return plans


@dataclass(frozen=True)
class SkippedCandidate:
    candidate_id: int
    upn: str
    reason: str


@dataclass
class ImportPreview:
    """An import's effect before it runs: counts, skipped accounts and every Graph write."""

    selected: int = 0
    would_create: int = 0
    would_bind: int = 0
    already_bound: int = 0
    skipped: list[SkippedCandidate] = field(default_factory=list)
    writes: list[PlannedWrite] = field(default_factory=list)
    write_count: int = 0
    truncated: bool = False  # more writes than `limit`: counts are complete, the list is not


def _selection(
    directory: Directory, candidate_ids: Sequence[int] | None, filter: CandidateFilter | None
) -> tuple[ImportScan, QuerySet[ImportCandidate], dict[str, Any]]:
    if (candidate_ids is None) == (filter is None):
        raise ValidationFailed(
            {"candidate_ids": ["Give either candidate_ids or a filter (everything matching it), not both."]}
        )
    scan = _current_scan(directory)
    if scan is None:
        raise Conflict(
            "directory_id", f"List the users of {directory.name} first: there is no finished scan."
        )
    if filter is not None:
        return scan, _filtered(scan, filter), {"filter": filter.as_dict()}
    ids = list(candidate_ids or [])
    if not ids:
        raise ValidationFailed({"candidate_ids": ["Select at least one account."]})
    if len(ids) > MAX_SELECTION:
        raise ValidationFailed({"candidate_ids": [f"At most {MAX_SELECTION} per import (or use a filter)."]})
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise ValidationFailed({"candidate_ids": ["Must be candidate ids (integers)."]})
    unique = sorted(set(ids))
    found: set[int] = set()
    for start in range(0, len(unique), 1000):
        chunk = unique[start : start + 1000]
        found.update(ImportCandidate.objects.filter(scan=scan, id__in=chunk).values_list("id", flat=True))
    missing = [i for i in unique if i not in found]
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
        raise ValidationFailed(
            {"candidate_ids": [f"Not in the current listing of {directory.name}: {shown} (list again?)."]}
        )
    return scan, ImportCandidate.objects.filter(scan=scan, id__in=unique), {"candidate_ids": unique}


def _chunks_of(queryset: QuerySet[ImportCandidate], size: int = CHUNK) -> Iterator[list[ImportCandidate]]:
    """The selection in id order, a chunk at a time (memory bounded at any size)."""
    last = 0
    while True:
        chunk = list(queryset.filter(id__gt=last).order_by("id")[:size])
        if not chunk:
            return
        yield chunk
        last = chunk[-1].pk


def _options_from(options: dict[str, Any]) -> tuple[Sequence[int] | None, CandidateFilter | None]:
    if "filter" in options:
        return None, CandidateFilter(**options["filter"])
    return list(options.get("candidate_ids") or []), None


def preview_import(
    *,
    actor: Actor,
    directory_id: int,
    candidate_ids: Sequence[int] | None = None,
    filter: CandidateFilter | None = None,
    state: str = UserState.STAGED,
    confirm_admins: bool = False,
    include_unlicensed: bool = False,
    include_disabled: bool = False,
    limit: int = 1000,
) -> ImportPreview:
    """The exact Microsoft 365 writes an import with these arguments would cause (SPEC 2.7).

    The writes are those the sync engine makes once the accounts are bound (an import itself
    writes nothing to Microsoft 365). At most `limit` writes are listed; counts are complete.
    """
    if not isinstance(limit, int) or not 0 <= limit <= 100_000:
        raise ValidationFailed({"limit": ["Must be between 0 and 100000."]})
    options = _clean_options(state, confirm_admins, include_unlicensed, include_disabled)
    directory = get_directory(actor=actor, directory_id=directory_id)
    _, queryset, _ = _selection(directory, candidate_ids, filter)
    ctx = _context(directory, options)
    preview = ImportPreview()
    for chunk in _chunks_of(queryset):
        for decision in _decide_all(ctx, chunk):
            preview.selected += 1
            if decision.action == "skip":
                c = decision.candidate
                preview.skipped.append(SkippedCandidate(c.pk, c.upn, decision.reason))
                continue
            if decision.action == "already_bound":
                preview.already_bound += 1
                continue
            if decision.action == "create":
                preview.would_create += 1
            else:
                preview.would_bind += 1
            for write in _writes(decision):
                preview.write_count += 1
                if len(preview.writes) < limit:
                    preview.writes.append(write)
                else:
                    preview.truncated = True
    return preview


# --- 3. import ---------------------------------------------------------------------------------


def start_import(
    *,
    actor: Actor,
    directory_id: int,
    candidate_ids: Sequence[int] | None = None,
    filter: CandidateFilter | None = None,
    state: str = UserState.STAGED,
    confirm_admins: bool = False,
    include_unlicensed: bool = False,
    include_disabled: bool = False,
    wait: bool = False,
) -> ImportBatch:
    """Import a selection of candidates, or every candidate matching `filter`, as a batch.

    Creates missing Lockstep users (in `state`; a disabled account's user is suspended),
    binds every account (adopted: no password is dispatched) and records the batch.
    Admin-role holders are skipped unless `confirm_admins`; unlicensed and disabled accounts
    unless included. Runs as a background job unless `wait`; the returned `ImportBatch` is
    the progress row (`requested`, `processed`, `created_users`, `bound_existing`,
    `skipped`, `failed`, `state` running -> done/failed). Importing twice creates nothing twice.
    """
    actor.require_write()
    options = _clean_options(state, confirm_admins, include_unlicensed, include_disabled)
    directory = get_directory(actor=actor, directory_id=directory_id)
    with transaction.atomic():
        Directory.objects.select_for_update().filter(pk=directory.pk).first()  # one import at a time
        _refuse_if_busy(directory)
        if _active(ImportScan.objects.filter(directory=directory), ACTIVE_STATES, SCAN_STALE_AFTER).exists():
            raise Conflict(
                "directory_id", f"A listing of {directory.name} is running; import once it is done."
            )
        scan, queryset, selection = _selection(directory, candidate_ids, filter)
        batch = ImportBatch.objects.create(
            directory=directory,
            created_by=_admin_of(actor),
            scan=scan,
            requested=queryset.count(),
            options={**selection, **dataclasses.asdict(options), "actor": _actor_dict(actor)},
        )
        audit.record(
            actor=actor,
            action="m365.import",
            target_type="directory",
            target_id=directory.pk,
            target_label=directory.name,
            after={"batch": batch.pk, "requested": batch.requested, **dataclasses.asdict(options)}
            | ({"filter": selection["filter"]} if "filter" in selection else {}),
        )
        if not wait:
            from lockstep.m365 import tasks

            transaction.on_commit(lambda: tasks.import_accounts.enqueue(batch_id=batch.pk))
    if wait:
        return run_import(batch_id=batch.pk)
    return batch


def run_import(*, batch_id: int) -> ImportBatch:
    """The import job's body: process the batch's selection chunk by chunk (resumable)."""
    batch = ImportBatch.objects.select_related("directory").get(pk=batch_id)
    if batch.state != "running":
        return batch
    directory = batch.directory
    actor = _actor_from(batch.options, directory.organization_id)
    stored = batch.options
    options = ImportOptions(
        state=stored.get("state", UserState.STAGED),
        confirm_admins=bool(stored.get("confirm_admins")),
        include_unlicensed=bool(stored.get("include_unlicensed")),
        include_disabled=bool(stored.get("include_disabled")),
    )
    try:
        if batch.scan_id is None:
            raise Conflict(
                "scan", "The listing this import was started from is gone; list again and re-import."
            )
        candidate_ids, flt = _options_from(stored)
        if flt is not None:
            queryset = _filtered(batch.scan, flt)
        else:
            queryset = ImportCandidate.objects.filter(scan_id=batch.scan_id, id__in=list(candidate_ids or []))
        ctx = _context(directory, options)
        for chunk in _chunks_of(queryset):
            done = set(
                ImportedAccount.objects.filter(
                    batch=batch, remote_id__in=[c.remote_id for c in chunk]
                ).values_list("remote_id", flat=True)
            )
            todo = [c for c in chunk if c.remote_id not in done]
            for decision in _decide_all(ctx, todo):
                _import_one(batch, ctx, actor, decision)
            _update_progress(batch)
    except Exception as problem:
        log.exception("import batch %s into directory %s failed", batch.pk, directory.pk)
        _update_progress(batch)
        message = problem.message if isinstance(problem, Conflict) else f"The import stopped: {problem}"
        ImportBatch.objects.filter(pk=batch.pk).update(
            state="failed",
            finished_at=timezone.now(),
            errors=[*batch.errors, {"reason": message}][-MAX_ERRORS_SHOWN:],
        )
        batch.refresh_from_db()
        return batch
    _update_progress(batch)
    ImportBatch.objects.filter(pk=batch.pk).update(state="done", finished_at=timezone.now())
    batch.refresh_from_db()
    audit.record(
        actor=actor,
        action="m365.import.finish",
        target_type="directory",
        target_id=directory.pk,
        target_label=directory.name,
        after={
            "batch": batch.pk,
            "processed": batch.processed,
            "created_users": batch.created_users,
            "bound_existing": batch.bound_existing,
            "skipped": batch.skipped,
            "failed": batch.failed,
        },
    )
    transaction.on_commit(wakeup.notify)
    return batch


def _import_one(batch: ImportBatch, ctx: _Context, actor: Actor, decision: Decision) -> None:
    c = decision.candidate
    item = ImportedAccount(batch=batch, remote_id=c.remote_id, upn=c.upn)
    if decision.action in ("skip", "already_bound"):
        item.outcome = "skipped" if decision.action == "skip" else "already_bound"
        item.reason = decision.reason
        item.user = decision.user if decision.user is not None and decision.user.pk else None
        item.user_ref = item.user.pk if item.user else None
        item.save()
        return
    try:
        with transaction.atomic():
            user = decision.user
            assert user is not None
            if decision.action == "create":
                fields = importer.new_user_fields(c, importer.unique_username(c.upn, actor.organization_id))
                user = user_service.create_user(
                    actor=actor, fields=fields, state=importer.new_user_state(c, ctx.options.state)
                )
                _, decision.known = importer.plan_operations(c, ctx.directory, user, federated=ctx.federated)
                item.created_user = True
            # the account's own immutable id stays (refused, and all undone, on a clash)
            replaced = immutable_ids.take_over(
                actor=actor, user=user, directory=ctx.directory, account={**c.attributes, "id": c.remote_id}
            )
            item.replaced_immutable_id = "" if item.created_user else replaced
            _bind(batch, ctx, actor, decision, user)
            item.user, item.user_ref = user, user.pk
            item.outcome = "created" if decision.action == "create" else "bound"
            item.reason = decision.reason
            item.save()
    except (ServiceError, ValueError) as problem:
        item.outcome = "error"
        item.reason = _plain(problem)
        item.created_user = False
        item.replaced_immutable_id = ""
        item.user = None
        item.user_ref = None
        item.save()


def _plain(problem: Exception) -> str:
    if isinstance(problem, Conflict):
        return problem.message
    if isinstance(problem, ValidationFailed):
        return "Cannot create the Lockstep user: " + "; ".join(
            f"{f}: {' '.join(m)}" for f, m in problem.errors.items()
        )
    return str(problem)


def _bind(batch: ImportBatch, ctx: _Context, actor: Actor, decision: Decision, user: User) -> None:
    """Bind `user` to the candidate's account as adopted: no password is ever dispatched."""
    c = decision.candidate
    now = timezone.now()
    existing = UserBinding.objects.select_for_update().filter(directory=ctx.directory, user=user).first()
    if existing is not None:
        if existing.unbound or (existing.remote_id and existing.remote_id != c.remote_id):
            raise Conflict("candidate_ids", f"{user.username} is already bound to another account.")
        if existing.lease_until and existing.lease_until > now:
            raise Conflict(
                "candidate_ids",
                f"{user.username} is being provisioned right now; import it again in a minute.",
            )
        existing.remote_id = c.remote_id
        existing.remote_upn = c.upn
        existing.adopted = True
        existing.last_applied = decision.known
        existing.password_pending = False
        existing.desired_version += 1
        existing.status = SyncStatus.PENDING
        existing.retry_at = None
        existing.changed_at = now
        existing.save()  # a binding made before the import: the undo leaves it
    else:
        UserBinding.objects.create(
            directory=ctx.directory,
            user=user,
            remote_id=c.remote_id,
            remote_upn=c.upn,
            adopted=True,
            last_applied=decision.known,
            import_batch=batch,
            password_pending=False,
        )
    audit.record(
        actor=actor,
        action="user.bind",
        target_type="user",
        target_id=user.pk,
        target_label=user.username,
        after={
            "directory": ctx.directory.name,
            "remote_id": c.remote_id,
            "adopted": True,
            "import_batch": batch.pk,
        },
    )


def _update_progress(batch: ImportBatch) -> None:
    counts = dict(
        ImportedAccount.objects.filter(batch=batch)
        .order_by()
        .values_list("outcome")
        .annotate(n=Count("id"))
        .values_list("outcome", "n")
    )
    errors = [
        {"remote_id": r, "upn": u, "reason": why}
        for r, u, why in ImportedAccount.objects.filter(batch=batch, outcome="error")
        .order_by("id")
        .values_list("remote_id", "upn", "reason")[:MAX_ERRORS_SHOWN]
    ]
    ImportBatch.objects.filter(pk=batch.pk).update(
        processed=sum(counts.values()),
        created_users=counts.get("created", 0),
        bound_existing=counts.get("bound", 0),
        skipped=counts.get("skipped", 0) + counts.get("already_bound", 0),
        failed=counts.get("error", 0),
        errors=errors,
    )


def get_import(*, actor: Actor, batch_id: int) -> ImportBatch:
    try:
        return ImportBatch.objects.select_related("directory").get(
            pk=batch_id, directory__organization_id=actor.organization_id
        )
    except (ImportBatch.DoesNotExist, ValueError, TypeError):
        raise NotFound("import", batch_id) from None


def list_imports(*, actor: Actor, directory_id: int) -> QuerySet[ImportBatch]:
    directory = get_directory(actor=actor, directory_id=directory_id)
    return ImportBatch.objects.filter(directory=directory).order_by("-created_at", "-id")


def list_import_items(
    *, actor: Actor, batch_id: int, outcome: str | None = None
) -> QuerySet[ImportedAccount]:
    """What a batch did per account (created, bound, already_bound, skipped, error) with reasons."""
    batch = get_import(actor=actor, batch_id=batch_id)
    queryset = ImportedAccount.objects.filter(batch=batch)
    if outcome:
        allowed = ("created", "bound", "already_bound", "skipped", "error")
        if outcome not in allowed:
            raise ValidationFailed({"outcome": [f"Must be one of: {', '.join(allowed)}."]})
        queryset = queryset.filter(outcome=outcome)
    return queryset.order_by("id")


__all__ = [
    "MAX_SELECTION",
    "UNDO_WINDOW",
    "CandidateFilter",
    "CandidatePage",
    "CandidatePlan",
    "DirectoryUsage",
    "GroupImportOutcome",
    "GroupImportPlan",
    "GroupWrite",
    "ImportPreview",
    "PlannedWrite",
    "RemoteGroup",
    "SkippedCandidate",
    "UsageReport",
    "get_candidate",
    "get_import",
    "get_scan",
    "group_kind",
    "import_groups",
    "latest_scan",
    "list_candidates",
    "list_import_items",
    "list_imports",
    "list_remote_groups",
    "plan_for",
    "plans_for",
    "preview_group_import",
    "preview_import",
    "run_import",
    "run_scan",
    "scan_candidates",
    "start_import",
    "undo_import",
    "usage_report",
]

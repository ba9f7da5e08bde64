"""Step 3 of the import wizard: run an import as a batch and report what it did per account."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from lockstep.directory import audit, events
from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict, NotFound, ServiceError, ValidationFailed
from lockstep.directory.models import ActorKind, Administrator, User, UserState
from lockstep.directory.services import users as user_service
from lockstep.m365 import immutable_ids, takeover, takeover_values, wakeup
from lockstep.m365.jobs import enqueue_on_commit
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
from lockstep.m365.services.import_decisions import (
    Context,
    Decision,
    ImportOptions,
    clean_options,
    context,
    decide_all,
)
from lockstep.m365.services.import_previews import chunks_of, resolve_selection
from lockstep.m365.services.import_scans import (
    ACTIVE_STATES,
    SCAN_STALE_AFTER,
    CandidateFilter,
    active_rows,
    filtered,
    refuse_if_busy,
)

log = logging.getLogger(__name__)

MAX_ERRORS_SHOWN = 200


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


def _options_from(options: dict[str, Any]) -> tuple[Sequence[int] | None, CandidateFilter | None]:
    if "filter" in options:
        return None, CandidateFilter(**options["filter"])
    return list(options.get("candidate_ids") or []), None


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
    fill_from_m365: bool = True,
    wait: bool = False,
) -> ImportBatch:
    """Import a selection of candidates, or every candidate matching `filter`, as a batch.

    Creates missing Lockstep users (in `state`; a disabled account's user is suspended),
    binds every account (adopted: no password is dispatched) and records the batch.
    Admin-role holders are skipped unless `confirm_admins`; unlicensed and disabled accounts
    unless included. With `fill_from_m365` (the default), empty Lockstep fields of matched
    users get the account's values before binding, so the takeover clears nothing in Microsoft
    365. Runs as a background job unless `wait`; the returned `ImportBatch` is
    the progress row (`requested`, `processed`, `created_users`, `bound_existing`,
    `skipped`, `failed`, `state` running -> done/failed). Importing twice creates nothing twice.
    """
    actor.require_write()
    options = clean_options(state, confirm_admins, include_unlicensed, include_disabled, fill_from_m365)
    directory = get_directory(actor=actor, directory_id=directory_id)
    with transaction.atomic():
        Directory.objects.select_for_update().filter(pk=directory.pk).first()  # one import at a time
        refuse_if_busy(directory)
        if active_rows(
            ImportScan.objects.filter(directory=directory), ACTIVE_STATES, SCAN_STALE_AFTER
        ).exists():
            raise Conflict(
                "directory_id", f"A listing of {directory.name} is running; import once it is done."
            )
        scan, queryset, selection = resolve_selection(directory, candidate_ids, filter)
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
            enqueue_on_commit("import_accounts", batch_id=batch.pk)
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
        fill_from_m365=bool(stored.get("fill_from_m365", False)),  # batches from before the option: off
    )
    try:
        if batch.scan_id is None:
            raise Conflict(
                "scan", "The listing this import was started from is gone; list again and re-import."
            )
        candidate_ids, flt = _options_from(stored)
        if flt is not None:
            queryset = filtered(batch.scan, flt)
        else:
            queryset = ImportCandidate.objects.filter(scan_id=batch.scan_id, id__in=list(candidate_ids or []))
        ctx = context(directory, options)
        for chunk in chunks_of(queryset):
            done = set(
                ImportedAccount.objects.filter(
                    batch=batch, remote_id__in=[c.remote_id for c in chunk]
                ).values_list("remote_id", flat=True)
            )
            todo = [c for c in chunk if c.remote_id not in done]
            for decision in decide_all(ctx, todo):
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


def _import_one(batch: ImportBatch, ctx: Context, actor: Actor, decision: Decision) -> None:
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
                fields = takeover.new_user_fields(c, takeover.unique_username(c.upn, actor.organization_id))
                user = user_service.create_user(
                    actor=actor, fields=fields, state=takeover.new_user_state(c, ctx.options.state)
                )
                _, decision.known = takeover.plan_operations(c, ctx.directory, user, federated=ctx.federated)
                item.created_user = True
            elif decision.fills:  # before binding: the takeover then clears none of these values
                user = user_service.update_user(actor=actor, user_id=user.pk, changes=decision.fills)
            item.remote_before = takeover_values.remote_values(c, takeover.tracked_properties(ctx.directory))
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


def _bind(batch: ImportBatch, ctx: Context, actor: Actor, decision: Decision, user: User) -> None:
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
        events.emit(
            events.user_bound,
            organization_id=user.organization_id,
            user_id=user.pk,
            directory_id=ctx.directory.pk,
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
        }
        | ({"filled_from_m365": decision.fills} if decision.fills else {}),
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

"""Plans and previews (step 2 of the import wizard, SPEC 2.7): what an import would change.

`plan_for` shows, attribute by attribute, what taking one account over changes;
`preview_import` lists the exact Microsoft 365 writes an import of a selection causes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet

from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict, NotFound, ValidationFailed
from lockstep.directory.models import UserState
from lockstep.m365 import takeover, takeover_values
from lockstep.m365.models import Directory, ImportCandidate, ImportScan
from lockstep.m365.services.bindings import get_directory
from lockstep.m365.services.import_decisions import (
    Decision,
    PlannedWrite,
    clean_options,
    context,
    decide_all,
    planned_writes,
)
from lockstep.m365.services.import_scans import CandidateFilter, current_scan, filtered, get_candidate

MAX_SELECTION = 50_000
CHUNK = 200


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
    changes: list[takeover.AttributeChange]
    writes: list[PlannedWrite]


def plan_for(
    *, actor: Actor, candidate_id: int, state: str = UserState.STAGED, fill_from_m365: bool = True
) -> CandidatePlan:
    """The attribute-by-attribute plan of taking over one candidate (nothing is written).

    A `new` candidate's user is created from the remote values, so mostly nothing changes
    except `onPremisesImmutableId`; for a `matched` one Lockstep's values win. Admin,
    licence and disabled flags are shown as if confirmed/included (the plan is per account).
    With `fill_from_m365` (the import's default) empty Lockstep fields keep the account's values.
    """
    candidate = get_candidate(actor=actor, candidate_id=candidate_id)
    return _plans(actor, candidate.scan.directory, [candidate], state, fill_from_m365)[0]


def plans_for(
    *,
    actor: Actor,
    candidate_ids: Sequence[int],
    state: str = UserState.STAGED,
    fill_from_m365: bool = True,
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
    return _plans(actor, candidates[0].scan.directory, candidates, state, fill_from_m365)


def _plans(
    actor: Actor, directory: Directory, candidates: list[ImportCandidate], state: str, fill: bool
) -> list[CandidatePlan]:
    options = clean_options(state, True, True, True, fill)
    plans = []
    for decision in decide_all(context(directory, options), candidates):
        candidate, user = decision.candidate, decision.user
        shown: dict[str, Any] = {}
        if user is not None:
            shown = {
                "id": user.pk,
                "username": user.username
                if user.pk
                else takeover.unique_username(candidate.upn, actor.organization_id),
                "email": user.email,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "display_name": user.display_name,
                "state": user.state,
            }
        changes = []
        if decision.action not in ("already_bound", "skip"):
            changes = takeover.attribute_changes(candidate, directory, decision.operations)
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
                writes=planned_writes(decision),
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
    losses: dict[str, int] = field(default_factory=dict)  # label -> accounts that would lose that value
    fills: dict[str, int] = field(default_factory=dict)  # label -> Lockstep users that get it filled
    accounts_losing: int = 0
    accounts_filled: int = 0

    @property
    def loss_words(self) -> str:
        """ "12 accounts would lose their Job title, 3 their Mobile phone in Microsoft 365." or ""."""
        words = takeover_values.count_words(self.losses, "would lose")
        return f"{words} in Microsoft 365." if words else ""

    @property
    def fill_words(self) -> str:
        words = takeover_values.count_words(self.fills, "keep", "keeps")
        return f"{words}: the empty Lockstep field is filled from Microsoft 365." if words else ""

    def count(self, decision: Decision) -> None:
        """Add one bound account's losses and fills."""
        lost = {takeover_values.label_of(p) for p in decision.lost}
        for name in lost:
            self.losses[name] = self.losses.get(name, 0) + 1
        self.accounts_losing += bool(lost)
        props = {f: p for p, f in takeover_values.USER_FIELDS.items()}
        for field_name in decision.fills:
            name = takeover_values.label_of(props[field_name])
            self.fills[name] = self.fills.get(name, 0) + 1
        self.accounts_filled += bool(decision.fills)


def resolve_selection(
    directory: Directory, candidate_ids: Sequence[int] | None, filter: CandidateFilter | None
) -> tuple[ImportScan, QuerySet[ImportCandidate], dict[str, Any]]:
    if (candidate_ids is None) == (filter is None):
        raise ValidationFailed(
            {"candidate_ids": ["Give either candidate_ids or a filter (everything matching it), not both."]}
        )
    scan = current_scan(directory)
    if scan is None:
        raise Conflict(
            "directory_id", f"List the users of {directory.name} first: there is no finished scan."
        )
    if filter is not None:
        return scan, filtered(scan, filter), {"filter": filter.as_dict()}
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


def chunks_of(queryset: QuerySet[ImportCandidate], size: int = CHUNK) -> Iterator[list[ImportCandidate]]:
    """The selection in id order, a chunk at a time (memory bounded at any size)."""
    last = 0
    while True:
        chunk = list(queryset.filter(id__gt=last).order_by("id")[:size])
        if not chunk:
            return
        yield chunk
        last = chunk[-1].pk


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
    fill_from_m365: bool = True,
    limit: int = 1000,
) -> ImportPreview:
    """The exact Microsoft 365 writes an import with these arguments would cause (SPEC 2.7).

    The writes are those the sync engine makes once the accounts are bound (an import itself
    writes nothing to Microsoft 365). At most `limit` writes are listed; counts are complete.
    `losses` counts the values accounts would lose (an empty Lockstep field clearing the
    account's value); with `fill_from_m365` those fields are filled instead (`fills`).
    """
    if not isinstance(limit, int) or not 0 <= limit <= 100_000:
        raise ValidationFailed({"limit": ["Must be between 0 and 100000."]})
    options = clean_options(state, confirm_admins, include_unlicensed, include_disabled, fill_from_m365)
    directory = get_directory(actor=actor, directory_id=directory_id)
    _, queryset, _ = resolve_selection(directory, candidate_ids, filter)
    ctx = context(directory, options)
    preview = ImportPreview()
    for chunk in chunks_of(queryset):
        for decision in decide_all(ctx, chunk):
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
            preview.count(decision)
            for write in planned_writes(decision):
                preview.write_count += 1
                if len(preview.writes) < limit:
                    preview.writes.append(write)
                else:
                    preview.truncated = True
    return preview

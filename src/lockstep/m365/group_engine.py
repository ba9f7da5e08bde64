"""Sync pass for bound security groups: attributes, then membership in both directions.

Each binding is handled on its own: a failed member read or write parks or delays that binding
only. A 404 for a group or member Lockstep created moments ago is replication lag (§12.2) and is
retried shortly; removing a member that is already gone (404 or 400) counts as done.

Members are added with `members@odata.bind`, 20 per write (the first 20 in the group's create),
and a refused bind is resent member by member once; removals are one `$ref` write each.
"""

from __future__ import annotations

from contextlib import nullcontext
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from lockstep.directory import audit
from lockstep.directory.actors import Actor
from lockstep.directory.models import GroupMembership
from lockstep.m365 import lanes, mapping, reconcile, replication
from lockstep.m365.graph.errors import AccessDenied, FatalForDirectory, GraphError, NotFound, Throttled
from lockstep.m365.models import Directory, GroupBinding, Health, SyncStatus, UserBinding
from lockstep.m365.port import GraphPort, WriteOutcome, WriteRequest
from lockstep.m365.sync_pass import (
    GROUP_CLAIM_LIMIT,
    PARK_FOR,
    PASS_FIELDS,
    PassResult,
    claim_lanes,
    retry_delay,
)

REFUSED = "Authorization_RequestDenied"
GROUP_PERMISSION_WORDS = (
    "Microsoft 365 refused to let Lockstep read or change this group while the directory otherwise "
    "works: Lockstep's app lacks Group.ReadWrite.All (Verify names it). Grant it and admin consent; "
    "the group then syncs."
)

# A group holding back its last few new members for accounts being created is planned again
# after this at the latest (sooner when those accounts exist).
HOLD_FOR = timedelta(seconds=30)
# An account pending for longer than this is not waited for (something else holds it up).
WAIT_AT_MOST = timedelta(minutes=10)

SAVED_FIELDS = [*PASS_FIELDS, "members_written_at"]


def _member_remote_ids(binding: GroupBinding) -> frozenset[str]:
    """Remote ids of the group's members that are bound (and synced) to the same directory."""
    if binding.group_id is None:
        return frozenset()
    user_ids = GroupMembership.objects.filter(group_id=binding.group_id).values_list("user_id", flat=True)
    remote = UserBinding.objects.filter(
        directory_id=binding.directory_id, user_id__in=user_ids, unbound=False
    ).exclude(remote_id="")
    return frozenset(remote.values_list("remote_id", flat=True))


def run_group_pass(directory: Directory, port: GraphPort, *, worker: str = "worker") -> PassResult:
    result = PassResult()
    claimed = claim_lanes(GroupBinding, directory, worker, GROUP_CLAIM_LIMIT)
    ids = claimed.ids
    result.claimed = len(ids)
    actor = Actor.system(directory.organization_id, f"Microsoft 365 sync ({directory.name})")
    bindings = GroupBinding.objects.filter(id__in=ids).select_related("group")
    for binding in sorted(bindings, key=lambda b: (b.pk not in claimed.interactive, b.pk)):  # hand-made first
        version = binding.desired_version
        read_refused = False
        try:
            with lanes.priority() if binding.pk in claimed.interactive else nullcontext():
                ok = _sync_one(directory, binding, port, actor, result)
        except AccessDenied as exc:  # the member read refused: this group, or the whole directory?
            result.paused, ok, read_refused = exc.plain_words or str(exc), False, True
        except FatalForDirectory as exc:  # no token at all: pause the directory, keep the queue
            result.paused, ok = exc.plain_words or str(exc), False
        except GraphError as exc:  # e.g. the $batch itself failed: this group only
            _read_failed(binding, exc, result)
            ok = False
        refused = read_refused or binding.last_error_code == REFUSED
        if result.paused and refused and _directory_works(port, result):
            # Only group reads/writes are refused (no Group.ReadWrite.All): park the group, keep the rest.
            result.paused = ""
            result.errors += int(read_refused)
            binding.status = SyncStatus.ERROR
            binding.retry_at = timezone.now() + PARK_FOR
            binding.last_error = GROUP_PERMISSION_WORDS
            binding.last_error_code = REFUSED
        binding.lease_until = None
        binding.lease_owner = ""
        with transaction.atomic():
            binding.save(update_fields=SAVED_FIELDS)
            if ok:
                GroupBinding.objects.filter(pk=binding.pk).update(applied_version=version)
        if result.paused:
            Directory.objects.filter(pk=directory.pk).update(health=Health.RED, health_reason=result.paused)
            GroupBinding.objects.filter(id__in=ids, lease_owner=worker).update(
                lease_until=None, lease_owner=""
            )
            break
    return result


def _directory_works(port: GraphPort, result: PassResult) -> bool:
    """The health probe, asked at most once per pass (a broken probe means "not known to work")."""
    if result.healthy is None:
        try:
            result.healthy = port.healthy()
        except Exception:
            result.healthy = False
    return result.healthy


def _sync_one(
    directory: Directory, binding: GroupBinding, port: GraphPort, actor: Actor, result: PassResult
) -> bool:
    if binding.group is None:
        return True
    desired = mapping.desired_group(binding.group, _member_remote_ids(binding))
    remote_members = None
    written = binding.members_written_at
    maybe_stale = written is not None and timezone.now() - written < replication.RECHECK_AFTER
    if binding.remote_id:
        try:
            remote_members = port.member_ids(binding.remote_id)
        except FatalForDirectory:
            raise
        except GraphError as exc:  # this group only: the pass goes on with the others
            _read_failed(binding, exc, result)
            return False
    on_the_way = _members_on_the_way(binding)
    operations = reconcile.plan_group(
        desired=desired,
        remote_id=binding.remote_id,
        last_known=binding.last_applied,
        remote_member_ids=remote_members,
        directory_object_base=port.directory_object_base(),
        hold_partial=on_the_way,
    )
    if not binding.remote_id and operations:
        if on_the_way and len(desired.member_remote_ids) < reconcile.MAX_BIND:
            _hold_rest(binding)  # created with the accounts on the way, in the same write
            return True
        return _create(binding, operations[0], desired, port, actor, result)
    if operations and not _write(binding, operations, port, actor, result):
        return False
    held = (
        on_the_way
        and remote_members is not None
        and bool(len(desired.member_remote_ids - remote_members) % reconcile.MAX_BIND)
    )
    binding.status = SyncStatus.SYNCED
    binding.last_error = ""
    binding.last_error_code = ""
    binding.attempts = 0
    binding.retry_at = None
    binding.synced_at = timezone.now()
    if maybe_stale and written is not None:
        _recheck_members(binding, binding.members_written_at or written)
    elif held:
        _hold_rest(binding)
    return True


def _members_on_the_way(binding: GroupBinding) -> bool:
    """Whether some of the group's members have accounts the user pass is about to create."""
    if binding.group_id is None:
        return False
    user_ids = GroupMembership.objects.filter(group_id=binding.group_id).values_list("user_id", flat=True)
    now = timezone.now()
    due = Q(retry_at=None) | Q(retry_at__lte=now)
    return (
        UserBinding.objects.filter(
            due,
            changed_at__gte=now - WAIT_AT_MOST,
            directory_id=binding.directory_id,
            user_id__in=user_ids,
            unbound=False,
            remote_id="",
            status=SyncStatus.PENDING,
        )
        .exclude(remote_deleted_at__isnull=False)
        .exists()
    )


def _hold_rest(binding: GroupBinding) -> None:
    """The last (< 20) new members, or the creation of a group with fewer than 20 members yet,
    wait for the accounts being created, to share one write with them; the group comes back
    when those accounts exist, or after `HOLD_FOR` in any case."""
    binding.status = SyncStatus.PENDING
    binding.retry_at = timezone.now() + HOLD_FOR
    GroupBinding.objects.filter(pk=binding.pk).update(desired_version=F("desired_version") + 1)


def _request(operation: reconcile.Operation) -> WriteRequest:
    return WriteRequest(operation.method, operation.url, operation.body)


def _create(
    binding: GroupBinding,
    operation: reconcile.Operation,
    desired: reconcile.DesiredGroup,
    port: GraphPort,
    actor: Actor,
    result: PassResult,
) -> bool:
    """`POST /groups` carrying the first 20 members. The create is atomic: if a bound member is
    refused (404: gone, or not replicated yet), the group is created alone at once and its
    members follow by `PATCH` on the next pass."""
    [outcome] = port.write([_request(operation)])
    bound = reconcile.bound_members(operation.body)
    if bound and outcome.status == 404:
        alone = {k: v for k, v in (operation.body or {}).items() if k != "members@odata.bind"}
        operation = reconcile.Operation(operation.kind, operation.method, operation.url, alone)
        bound = []
        [outcome] = port.write([_request(operation)])
    if not _handle(binding, operation, outcome, actor, result):
        return False
    now = timezone.now()
    binding.remote_id = str((outcome.body or {}).get("id", ""))
    binding.remote_created_at = now
    if bound:
        binding.members_written_at = now
    binding.last_applied = {"displayName": desired.display_name, "description": desired.description}
    # The rest of the membership follows on the next pass, once the group exists.
    GroupBinding.objects.filter(pk=binding.pk).update(desired_version=F("desired_version") + 1)
    return True


def _write(
    binding: GroupBinding,
    operations: list[reconcile.Operation],
    port: GraphPort,
    actor: Actor,
    result: PassResult,
) -> bool:
    """Send the planned writes; a refused `members@odata.bind` write (atomic: nothing added) is
    sent again one member at a time, once, so no member is lost and nothing loops."""
    all_ok = True
    fallback: list[reconcile.Operation] = []
    outcomes = port.write([_request(o) for o in operations])
    for operation, outcome in zip(operations, outcomes, strict=True):
        if _member_by_member(binding, operation, outcome):
            members = reconcile.bound_members(operation.body)
            fallback += reconcile.member_ref_operations(
                binding.remote_id, members, port.directory_object_base()
            )
            continue
        all_ok = _record(binding, operation, outcome, actor, result) and all_ok
    if fallback:
        outcomes = port.write([_request(o) for o in fallback])
        for operation, outcome in zip(fallback, outcomes, strict=True):
            all_ok = _record(binding, operation, outcome, actor, result) and all_ok
    return all_ok


def _member_by_member(binding: GroupBinding, operation: reconcile.Operation, outcome: WriteOutcome) -> bool:
    """Whether a refused `members@odata.bind` write is retried per member: one of its members is
    already in the group (400), or does not exist (a 404 that does not name the group, for
    members none of which is new enough to be replicating); which one is not said, so each
    member gets its own `$ref` write (a new group's own lag then shows there)."""
    if operation.kind != "add_members" or outcome.ok or len(reconcile.bound_members(operation.body)) < 2:
        return False  # a one-member bind's refusal already says which member
    if outcome.code == "already_member":
        return True
    names_group = binding.remote_id in (outcome.message or "")
    return outcome.status == 404 and not names_group and not _members_recent(binding, operation)


def _record(
    binding: GroupBinding,
    operation: reconcile.Operation,
    outcome: WriteOutcome,
    actor: Actor,
    result: PassResult,
) -> bool:
    if operation.kind == "update_group" and outcome.ok:
        binding.last_applied = {**binding.last_applied, **(operation.body or {})}
    if operation.kind in ("add_member", "add_members", "remove_member") and outcome.ok:
        binding.members_written_at = timezone.now()
    return _handle(binding, operation, outcome, actor, result)


def _recheck_members(binding: GroupBinding, written: datetime) -> None:
    """The member list was read moments after Lockstep's own membership write and may not show it
    (§12.2): plan this group again once that write has had time to replicate."""
    binding.status = SyncStatus.PENDING
    binding.last_error = replication.RECHECK_WORDS
    binding.last_error_code = replication.LAG_CODE
    binding.retry_at = max(written + replication.RECHECK_AFTER, timezone.now() + timedelta(seconds=1))
    GroupBinding.objects.filter(pk=binding.pk).update(desired_version=F("desired_version") + 1)


def _handle(
    binding: GroupBinding,
    operation: reconcile.Operation,
    outcome: WriteOutcome,
    actor: Actor,
    result: PassResult,
) -> bool:
    # Membership already as wanted (a replay after a lost response, a member already gone:
    # 400 or 404, graph-facts §12.3) counts as done.
    benign = (operation.kind in ("add_member", "add_members") and outcome.code == "already_member") or (
        operation.kind == "remove_member" and (outcome.code == "not_member" or outcome.status == 404)
    )
    if outcome.ok or benign:
        result.writes += int(outcome.ok)
        audit.record(
            actor=actor,
            action=f"m365.{operation.kind}",
            target_type="group",
            target_id=binding.group_id or "",
            target_label=binding.group.name if binding.group else binding.remote_id,
            after={"directory": binding.directory_id, "request": f"{operation.method} {operation.url}"},
        )
        return True
    result.errors += 1
    if outcome.status == 404 and _replicating(binding, operation):
        _wait_for_replication(binding)
        return False
    binding.last_error = outcome.plain_words or outcome.message
    binding.last_error_code = outcome.code
    if outcome.error_kind == "fatal":
        result.paused = binding.last_error
    elif outcome.error_kind == "transient":
        binding.attempts += 1
        binding.retry_at = timezone.now() + retry_delay(binding.attempts, outcome.retry_after)
        binding.status = SyncStatus.PENDING
    else:
        binding.status = SyncStatus.ERROR
        binding.retry_at = timezone.now() + PARK_FOR
    return False


def _replicating(binding: GroupBinding, operation: reconcile.Operation) -> bool:
    """Whether the group, or a member being added, was created or restored by Lockstep moments ago."""
    return replication.recent(binding.remote_created_at) or _members_recent(binding, operation)


def _members_recent(binding: GroupBinding, operation: reconcile.Operation) -> bool:
    """Whether a member this write adds was created or restored by Lockstep moments ago."""
    if operation.kind == "add_member":
        members = [replication.member_of_ref(operation.body)]
    elif operation.kind in ("add_members", "create_group"):
        members = reconcile.bound_members(operation.body)
    else:
        return False
    created = (
        UserBinding.objects.filter(directory_id=binding.directory_id, remote_id__in=members)
        .exclude(remote_created_at=None)
        .values_list("remote_created_at", flat=True)
    )
    return any(replication.recent(at) for at in created)


def _wait_for_replication(binding: GroupBinding) -> None:
    binding.attempts += 1
    binding.retry_at = timezone.now() + replication.retry_delay(binding.attempts)
    binding.status = SyncStatus.PENDING
    binding.last_error = replication.LAG_WORDS
    binding.last_error_code = replication.LAG_CODE


def _read_failed(binding: GroupBinding, exc: GraphError, result: PassResult) -> None:
    """A read (or a whole `$batch`) failed: wait for replication, retry later, or park this group."""
    result.errors += 1
    if isinstance(exc, NotFound) and replication.recent(binding.remote_created_at):
        _wait_for_replication(binding)
        return
    binding.last_error = exc.plain_words or exc.message
    binding.last_error_code = exc.code or type(exc).__name__
    if exc.kind in ("transient", "uncertain"):
        binding.attempts += 1
        retry_after = exc.retry_after if isinstance(exc, Throttled) else None
        binding.retry_at = timezone.now() + retry_delay(binding.attempts, retry_after)
        binding.status = SyncStatus.PENDING
    else:
        binding.status = SyncStatus.ERROR
        binding.retry_at = timezone.now() + PARK_FOR

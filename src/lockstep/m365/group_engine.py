"""Sync pass for bound security groups: attributes, then membership in both directions.

Each binding is handled on its own: a failed member read or write parks or delays that binding
only. A 404 for a group or member Lockstep created moments ago is replication lag (§12.2) and is
retried shortly; removing a member that is already gone (404 or 400) counts as done.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from lockstep.directory import audit
from lockstep.directory.actors import Actor
from lockstep.directory.models import GroupMembership
from lockstep.m365 import mapping, reconcile, replication
from lockstep.m365.graph.errors import AccessDenied, FatalForDirectory, GraphError, NotFound, Throttled
from lockstep.m365.models import Directory, GroupBinding, Health, SyncStatus, UserBinding
from lockstep.m365.port import GraphPort, WriteOutcome, WriteRequest
from lockstep.m365.sync_pass import CLAIM_LIMIT, PARK_FOR, PassResult, claim, retry_delay

REFUSED = "Authorization_RequestDenied"
GROUP_PERMISSION_WORDS = (
    "Microsoft 365 refused to let Lockstep read or change this group while the directory otherwise "
    "works: Lockstep's app lacks Group.ReadWrite.All (Verify names it). Grant it and admin consent; "
    "the group then syncs."
)

# Never the versions: a concurrent change must not be overwritten by this pass.
SAVED_FIELDS = [
    "remote_id",
    "last_applied",
    "status",
    "last_error",
    "last_error_code",
    "attempts",
    "retry_at",
    "lease_until",
    "lease_owner",
    "synced_at",
    "remote_created_at",
    "members_written_at",
]


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
    ids = claim(GroupBinding, directory, worker, CLAIM_LIMIT)
    result.claimed = len(ids)
    actor = Actor.system(directory.organization_id, f"Microsoft 365 sync ({directory.name})")
    for binding in GroupBinding.objects.filter(id__in=ids).select_related("group"):
        version = binding.desired_version
        read_refused = False
        try:
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
    operations = reconcile.plan_group(
        desired=desired,
        remote_id=binding.remote_id,
        last_known=binding.last_applied,
        remote_member_ids=remote_members,
        directory_object_base=port.directory_object_base(),
    )
    if not binding.remote_id and operations:
        [outcome] = port.write([WriteRequest(o.method, o.url, o.body) for o in operations])
        if not _handle(binding, operations[0], outcome, actor, result):
            return False
        binding.remote_id = str((outcome.body or {}).get("id", ""))
        binding.remote_created_at = timezone.now()
        binding.last_applied = {"displayName": desired.display_name, "description": desired.description}
        # Membership follows on the next pass, once the group exists.
        GroupBinding.objects.filter(pk=binding.pk).update(desired_version=F("desired_version") + 1)
        return True
    if operations:
        outcomes = port.write([WriteRequest(o.method, o.url, o.body) for o in operations])
        all_ok = True
        for operation, outcome in zip(operations, outcomes, strict=True):
            if operation.kind == "update_group" and outcome.ok:
                binding.last_applied = {**binding.last_applied, **(operation.body or {})}
            if operation.kind in ("add_member", "remove_member") and outcome.ok:
                binding.members_written_at = timezone.now()
            all_ok = _handle(binding, operation, outcome, actor, result) and all_ok
        if not all_ok:
            return False
    binding.status = SyncStatus.SYNCED
    binding.last_error = ""
    binding.last_error_code = ""
    binding.attempts = 0
    binding.retry_at = None
    binding.synced_at = timezone.now()
    if maybe_stale and written is not None:
        _recheck_members(binding, binding.members_written_at or written)
    return True


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
    benign = (operation.kind == "add_member" and outcome.code == "already_member") or (
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
    """Whether the group, or the member being added, was created or restored by Lockstep moments ago."""
    if replication.recent(binding.remote_created_at):
        return True
    if operation.kind != "add_member":
        return False
    member = replication.member_of_ref(operation.body)
    created = (
        UserBinding.objects.filter(directory_id=binding.directory_id, remote_id=member)
        .exclude(remote_created_at=None)
        .values_list("remote_created_at", flat=True)
        .first()
    )
    return replication.recent(created)


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

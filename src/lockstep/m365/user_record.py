"""The user pass's record: each write's outcome on its binding (adoption after a create
conflict, replication lag, retries, parking), one audit row per write, and the closing
transaction that stores it all (`engine`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from lockstep.directory import audit
from lockstep.directory.actors import Actor
from lockstep.directory.models import GroupMembership
from lockstep.m365 import (
    adoption,
    mapping,
    password_delivery,
    password_hold,
    reconcile,
    replication,
    row_updates,
)
from lockstep.m365.graph.errors import FatalForDirectory, GraphError, Throttled
from lockstep.m365.models import (
    Directory,
    GroupBinding,
    Health,
    HeldWrite,
    PendingPassword,
    SyncActivity,
    SyncStatus,
    UserBinding,
)
from lockstep.m365.port import GraphPort, WriteOutcome
from lockstep.m365.sync_pass import (
    ADMIN_ROLE_WORDS,
    PARK_FOR,
    PASS_FIELDS,
    PassResult,
    backoff,
    retry_delay,
)
from lockstep.m365.user_plan import Work, deleted_match, deleted_users, offer_restore


def record_one(
    directory: Directory,
    work: Work,
    operation: reconcile.Operation,
    outcome: WriteOutcome,
    port: GraphPort,
    result: PassResult,
) -> None:
    """`_record`, where a failed read (a create conflict's lookup) stays with its binding: the
    pass goes on and `finish` records everything already done."""
    try:
        _record(directory, work, operation, outcome, port, result)
    except FatalForDirectory as exc:
        result.paused = exc.plain_words or str(exc)
    except GraphError as exc:
        retry_after = exc.retry_after if isinstance(exc, Throttled) else None
        _retry_later(work, result, exc.plain_words or str(exc), exc.code or "lookup_failed", retry_after)
    except ObjectDoesNotExist:
        _retry_later(work, result, adoption.USER_CHANGED_WORDS, "user_changed")


def _retry_later(
    work: Work, result: PassResult, words: str, code: str, retry_after: float | None = None
) -> None:
    binding = work.binding
    result.errors += 1
    work.done = False
    work.error = binding.last_error = words
    binding.last_error_code = code
    binding.attempts += 1
    binding.retry_at = timezone.now() + retry_delay(binding.attempts, retry_after)
    binding.status = SyncStatus.PENDING


def _record(
    directory: Directory,
    work: Work,
    operation: reconcile.Operation,
    outcome: WriteOutcome,
    port: GraphPort,
    result: PassResult,
) -> None:
    binding = work.binding
    actor = Actor.system(directory.organization_id, f"Microsoft 365 sync ({directory.name})")
    known_before = dict(binding.last_applied or {})  # the last known remote values, for the audit row
    if outcome.ok:
        result.writes += 1
        if operation.kind == "create_user":
            body = dict(operation.body or {})
            body.pop("passwordProfile", None)
            created = outcome.body or {}
            binding.remote_id = str(created.get("id", ""))
            binding.remote_upn = str(body.get("userPrincipalName", ""))
            # what Microsoft 365 filled in itself (businessPhones: []), so that the first drift
            # round reads the account back as written instead of storing it once more
            managed = directory.managed()
            binding.last_applied = {**{k: v for k, v in created.items() if k in managed}, **body}
            binding.remote_created_at = timezone.now()
        elif operation.kind in ("update_user",):
            applied = {k: v for k, v in (operation.body or {}).items() if k != "passwordProfile"}
            if operation.disables and _revoke_follows(work, operation):
                # the disable counts as applied once the sessions are revoked too: a revoke that
                # fails now is planned again (with its PATCH) by the next pass
                applied.pop("accountEnabled", None)
            binding.last_applied = {**binding.last_applied, **applied}
            if "userPrincipalName" in (operation.body or {}):
                binding.remote_upn = str((operation.body or {})["userPrincipalName"])
        elif operation.kind == "revoke_sessions":
            binding.last_applied = {**binding.last_applied, "accountEnabled": False}
        _audit_write(actor, binding, operation, known_before, result)
        return
    if outcome.error_kind == "conflict" and operation.kind == "create_user":
        found = port.find_user(str((operation.body or {}).get("userPrincipalName", "")))
        if found is not None and mapping.synced_from_on_premises(found):
            _refuse_synced(binding, work, found, result)
            return
        if found is not None:
            refusal = adoption.problem(directory, binding, found)
            if refusal:  # the account keeps its immutable id, which clashes: park, adopt nothing
                result.errors += 1
                work.done = False
                work.error = binding.last_error = refusal
                binding.last_error_code, binding.status = adoption.CONFLICT_CODE, SyncStatus.ERROR
                binding.retry_at = timezone.now() + PARK_FOR
                return
            wanted = str((operation.body or {}).get("onPremisesImmutableId") or "")
            if not adoption.adopt(binding, found, wanted):
                work.password_sent = False
            work.adopting = found  # the takeover is written with the binding, in `finish`
            work.done = False  # dirty again: the next pass applies the managed attributes
            return
        body = operation.body or {}
        try:
            deleted = deleted_users(port, result, fresh=True)
        except GraphError:
            deleted = []
        item = deleted_match(deleted, str(body.get("onPremisesImmutableId") or ""))
        if item is not None:  # the address is held by this user's account in the recycle bin
            offer_restore(binding, item)
            work.done = False
            result.restore_offered += 1
            return
        # Only a user holds a UPN, so a UPN conflict whose lookup finds nobody is replication lag.
        if (
            outcome.code == "ObjectConflict:userPrincipalName"
            and binding.attempts < replication.CONFLICT_RETRIES
        ):
            _wait_for_replication(work, result, replication.CONFLICT_WORDS)
            return
    if outcome.status == 404 and binding.remote_id and replication.recent(binding.remote_created_at):
        _wait_for_replication(work, result, replication.LAG_WORDS)
        return
    result.errors += 1
    work.done = False
    work.error = outcome.plain_words or outcome.message
    if outcome.error_kind == "fatal" and outcome.status == 403 and _healthy(port, result):
        # One object refused while the directory works: an admin-role holder, not a revoked consent.
        binding.status = SyncStatus.ERROR
        binding.retry_at = timezone.now() + PARK_FOR
        binding.last_error = work.error = ADMIN_ROLE_WORDS
        binding.last_error_code = "admin_role_target"
        return
    if outcome.error_kind == "fatal":
        result.paused = outcome.plain_words or outcome.message
    elif outcome.error_kind == "transient":
        binding.attempts += 1
        binding.retry_at = timezone.now() + retry_delay(binding.attempts, outcome.retry_after)
        binding.status = SyncStatus.PENDING
    else:
        binding.status = SyncStatus.ERROR
        binding.retry_at = timezone.now() + PARK_FOR
    binding.last_error = work.error
    binding.last_error_code = outcome.code


def _revoke_follows(work: Work, operation: reconcile.Operation) -> bool:
    later = work.operations[work.operations.index(operation) + 1 :]
    return any(op.kind == "revoke_sessions" for op in later)


def _refuse_synced(binding: UserBinding, work: Work, found: dict[str, Any], result: PassResult) -> None:
    """The address belongs to an account synced from on-premises AD: never adopted (§12.3)."""
    result.errors += 1
    work.done = False
    binding.status = SyncStatus.ERROR
    binding.retry_at = timezone.now() + PARK_FOR
    binding.last_error = work.error = (
        f"{found.get('userPrincipalName')} already exists in Microsoft 365 and is not taken over. "
        + mapping.SYNCED_FROM_ON_PREMISES
    )
    binding.last_error_code = "synced_from_on_premises"


def _wait_for_replication(work: Work, result: PassResult, words: str) -> None:
    """Retry soon: the object is there but Microsoft 365 has not replicated it yet (§12.2)."""
    binding = work.binding
    result.errors += 1
    work.done = False
    work.error = words
    binding.attempts += 1
    binding.retry_at = timezone.now() + replication.retry_delay(binding.attempts)
    binding.status = SyncStatus.PENDING
    binding.last_error = words
    binding.last_error_code = replication.LAG_CODE


def _healthy(port: GraphPort, result: PassResult) -> bool:
    if result.healthy is None:
        try:
            result.healthy = port.healthy()
        except Exception:  # a broken check means the directory is not known to be healthy
            result.healthy = False
    return result.healthy


def _audit_write(
    actor: Actor,
    binding: UserBinding,
    operation: reconcile.Operation,
    known_before: dict[str, Any],
    result: PassResult,
) -> None:
    """The write's audit row; for an update, `before` holds the values Microsoft 365 was last
    known to hold for the properties it changes (so the log reads "Job title: Manager → CTO")."""
    after = None
    if operation.body is not None:
        after = {k: v for k, v in operation.body.items() if k != "passwordProfile"}
        if "passwordProfile" in operation.body:
            after["password"] = "(delivered)"
        if operation.random_password:  # a UPN moved out of a federated domain (reconcile.plan_user)
            after["passwordProfile"] = (
                "a random password known to nobody, until the user sets one in Lockstep"
            )
    before = None
    if operation.kind == "update_user" and after:
        before = {k: known_before[k] for k in after if k in known_before}
    result.audit_rows.append(_audit(actor, binding, f"m365.{operation.kind}", after, before or None))


def _audit(
    actor: Actor,
    binding: UserBinding,
    action: str,
    after: dict[str, Any] | None,
    before: dict[str, Any] | None = None,
) -> audit.AuditEvent:
    """The row; the pass saves its rows together in `finish`, in the transaction with the bindings."""
    label = binding.user.username if binding.user else binding.remote_upn
    return audit.build(
        actor=actor,
        action=action,
        target_type="user",
        target_id=binding.user_id or "",
        target_label=label,
        before=before,
        after={"directory": binding.directory_id, **(after or {})},
    )


RECORDED_FIELDS = (*PASS_FIELDS, "remote_upn", "adopted", "restore_candidate_id")
PASSWORD_FIELDS = (
    "password_pending",
    "password_synced_at",
    "first_sync_notice_pending",
    "password_expired_at",
)


def finish(directory: Directory, works: list[Work], result: PassResult) -> None:
    """Store the pass in one transaction: every binding (`row_updates`: one statement per set
    of changed fields), the writes' audit rows (one INSERT), and what follows from them."""
    now = timezone.now()
    with transaction.atomic():
        fresh = _fresh_password_fields(works)
        deleted: list[int] = []
        saves: dict[tuple[str, ...], list[UserBinding]] = {}
        for work in works:
            binding = work.binding
            if work.adopting is not None and adoption.apply(
                actor=Actor.system(directory.organization_id, f"Microsoft 365 sync ({directory.name})"),
                directory=directory,
                binding=binding,
                account=work.adopting,
                park_until=now + PARK_FOR,
                retry_at=now + backoff(binding.attempts + 1),
            ):
                result.errors += 1
            fields = RECORDED_FIELDS
            binding.lease_until = None
            binding.lease_owner = ""
            if work.done and not result.paused:
                if binding.status != SyncStatus.NOT_SYNCED:
                    binding.status = (
                        SyncStatus.SYNCED if binding.remote_id or binding.unbound else binding.status
                    )
                    binding.last_error = ""
                    binding.last_error_code = ""
                binding.attempts = 0
                binding.retry_at = None
                binding.synced_at = now
                if work.approved_hold:  # the approval covered this disable; the next one is braked again
                    HeldWrite.objects.filter(binding=binding, decision="approved").update(decision="applied")
                if work.move_held:  # the rest synced; the move stays planned, parked
                    password_hold.park(binding, timezone.now() + PARK_FOR)
                else:
                    # Only the version seen at claim time counts as applied: a change made
                    # meanwhile keeps the binding dirty for the next pass.
                    binding.applied_version = work.version
                    fields += ("applied_version",)
            if binding.pk in fresh:
                _password_outcome(work, fresh[binding.pk], now, delivered=work.done and not result.paused)
                fields += PASSWORD_FIELDS
            if work.done and binding.unbound and not result.paused:
                deleted.append(binding.pk)
            else:
                saves.setdefault(fields, []).append(binding)
        for fields, bindings in saves.items():
            row_updates.save_fields(bindings, fields)
        if deleted:
            UserBinding.objects.filter(pk__in=deleted).delete()
        audit.record_many(result.audit_rows)
        result.audit_rows.clear()
        # delivered everywhere, or nowhere left to go: erase
        password_delivery.forget_if_delivered(w.binding.user_id for w in works if w.binding.user_id)
        if result.paused:
            Directory.objects.filter(pk=directory.pk).update(health=Health.RED, health_reason=result.paused)
        _refresh_groups_of_new_accounts(directory, works, now)
        _count_activity(directory, result)


PasswordFields = dict[str, Any]


def _fresh_password_fields(works: list[Work]) -> dict[int, PasswordFields]:
    """The bindings' password fields as they are now (locked): a password held, a notice shown or
    an expiry during the pass is never overwritten with what the pass read at its start."""
    ids = sorted(w.binding.pk for w in works)
    rows = (
        UserBinding.objects.select_for_update()
        .filter(pk__in=ids)
        .order_by("pk")
        .values(
            "pk",
            "password_pending",
            "password_synced_at",
            "first_sync_notice_pending",
            "password_expired_at",
        )
    )
    return {int(row["pk"]): {k: v for k, v in row.items() if k != "pk"} for row in rows}


def _password_outcome(work: Work, fresh: PasswordFields, now: datetime, *, delivered: bool) -> None:
    """Set the binding's password fields from what the pass did, on top of their current values."""
    binding = work.binding
    for name, value in fresh.items():
        setattr(binding, name, value)
    user_id = binding.user_id or 0
    if delivered and work.password_sent:
        current = PendingPassword.objects.filter(user_id=user_id).values_list("created_at", flat=True).first()
        # a newer password held meanwhile still waits for the next pass
        binding.password_pending = current is not None and current != work.held_at
        binding.password_synced_at = now
        binding.first_sync_notice_pending = True
        binding.password_expired_at = None
    elif work.password_not_needed or (binding.adopted and work.adopting is not None):
        binding.password_pending = False  # federated, not in the tenant, or adopted (SPEC 2.3)
    elif work.password_gone and binding.password_pending:
        waiting = PendingPassword.objects.filter(user_id=user_id, expires_at__gt=now).exists()
        if not waiting:  # the held password expired before it could be sent
            binding.password_pending = False
            binding.password_expired_at = binding.password_expired_at or now


def _refresh_groups_of_new_accounts(directory: Directory, works: list[Work], now: datetime) -> None:
    """A user whose account now exists can become a member: its bound groups are planned again."""
    gained = [
        w.binding.user_id
        for w in works
        if w.binding.user_id and w.binding.remote_id and not w.initial_remote_id
    ]
    if not gained:
        return
    group_ids = GroupMembership.objects.filter(user_id__in=gained).values_list("group_id", flat=True)
    GroupBinding.objects.filter(directory=directory, group_id__in=group_ids, unbound=False).update(
        desired_version=F("desired_version") + 1, changed_at=now, retry_at=None
    )


def _count_activity(directory: Directory, result: PassResult) -> None:
    if not (result.writes or result.errors):
        return
    minute = timezone.now().replace(second=0, microsecond=0)
    row, _ = SyncActivity.objects.get_or_create(directory=directory, minute=minute)
    SyncActivity.objects.filter(pk=row.pk).update(
        writes=F("writes") + result.writes, errors=F("errors") + result.errors
    )

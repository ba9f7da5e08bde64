"""The sync engine: claim dirty bindings, plan their writes, send them, record the outcome.

One pass for one directory:
1. claim up to `CLAIM_LIMIT` bindings whose desired version is ahead of the applied one
   (and whose retry time has come) with a lease, so several workers never write the same
   object twice (`SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL);
2. plan each binding's writes with the pure `reconcile` functions;
3. hold back disables beyond the deletion brake (counted over a sliding window: `brake_window`);
4. send the writes as `$batch` requests of up to 20, in rounds (an object's second write
   goes only after its first succeeded);
5. record per binding: applied version, last applied state, status and plain-words error;
   an audit row per write; transient failures get a retry time with backoff and jitter.
A binding that fails never stops the others; a directory-fatal error pauses the directory
and keeps the queue.
"""

from __future__ import annotations

import logging
import random
import secrets
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from lockstep.directory import audit, crypto
from lockstep.directory.actors import Actor
from lockstep.directory.models import GroupMembership, User
from lockstep.m365 import adoption, brake_window, mapping, password_hold, reconcile, replication
from lockstep.m365.graph.errors import FatalForDirectory, GraphError
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
from lockstep.m365.port import GraphPort, WriteOutcome, WriteRequest
from lockstep.m365.subscribers import password_context

log = logging.getLogger(__name__)

CLAIM_LIMIT = 500
MAX_BACKOFF = timedelta(minutes=30)
PARK_FOR = timedelta(hours=6)  # a permanent error is retried only after a change, or after this

REMOTE_DELETED_WORDS = (
    "Deleted in Microsoft 365; restore it or unbind. The account is in Microsoft 365's recycle bin "
    "(Deleted users) for 30 days after its deletion; Lockstep never re-creates it on its own."
)
REMOTE_PURGED_WORDS = (
    "Deleted permanently in Microsoft 365 (purged from the recycle bin); unbind, then bind again to "
    "create a new account."
)
ADMIN_ROLE_WORDS = (
    "Lockstep may not change this account: it probably holds an admin role that needs a higher directory "
    "role than Lockstep's app has (Privileged Authentication Administrator or Global Administrator). "
    "Change it in the Microsoft 365 admin center, or remove its admin role, then retry."
)


def backoff(attempts: int, rng: random.Random | None = None) -> timedelta:
    """Exponential backoff with full jitter: 2, 4, 8 ... seconds, capped."""
    rng = rng or random.Random()
    ceiling = min(MAX_BACKOFF.total_seconds(), 2.0 ** max(1, attempts))
    return timedelta(seconds=rng.uniform(ceiling / 2, ceiling))


def random_password() -> str:
    """A password nobody knows that satisfies Microsoft's policy (all four classes, 32 chars)."""
    alphabet = string.ascii_letters + string.digits + "-_.!#"
    while True:
        value = "".join(secrets.choice(alphabet) for _ in range(32))
        if (
            any(c.islower() for c in value)
            and any(c.isupper() for c in value)
            and any(c.isdigit() for c in value)
            and any(c in "-_.!#" for c in value)
        ):
            return value


@dataclass
class PassResult:
    claimed: int = 0
    writes: int = 0
    errors: int = 0
    held: int = 0
    paused: str = ""
    notes: list[str] = field(default_factory=list)
    restore_offered: int = 0
    healthy: bool | None = None  # port.healthy(), asked at most once per pass
    deleted_users: list[dict[str, Any]] | None = None  # the recycle bin, listed at most once per pass


def _dirty(now: datetime) -> Q:
    return (
        Q(desired_version__gt=F("applied_version"))
        & (Q(retry_at__isnull=True) | Q(retry_at__lte=now))
        & (Q(lease_until__isnull=True) | Q(lease_until__lt=now))
    )


def claim(
    model: type[UserBinding] | type[GroupBinding], directory: Directory, worker: str, limit: int
) -> list[int]:
    """Lease dirty bindings to this worker; other workers skip rows being claimed."""
    now = timezone.now()
    with transaction.atomic():
        queryset = model.objects.filter(_dirty(now), directory=directory).exclude(status=SyncStatus.HELD)
        queryset = queryset.order_by("changed_at", "id")
        if connection.vendor == "postgresql":
            queryset = queryset.select_for_update(skip_locked=True)
        ids = list(queryset.values_list("id", flat=True)[:limit])
        if ids:
            lease = timedelta(seconds=settings.M365_LEASE_SECONDS)
            model.objects.filter(id__in=ids).update(lease_until=now + lease, lease_owner=worker)
    return ids


def verified_domains(directory: Directory) -> set[str]:
    return set(directory.domains.filter(is_verified=True).values_list("name", flat=True))


def federated_domains(directory: Directory) -> set[str]:
    return set(directory.domains.filter(authentication_type="Federated").values_list("name", flat=True))


@dataclass
class Work:
    """One claimed binding and the writes planned for it."""

    binding: UserBinding
    version: int
    operations: list[reconcile.Operation]
    password_sent: bool = False
    done: bool = True
    error: str = ""
    approved_hold: bool = False  # an admin approved this binding's held disable
    move_held: bool = False  # a federated UPN move waits for the User Administrator role
    initial_remote_id: str = ""
    adopting: dict[str, Any] | None = None  # the account taken over (written in `_finish`)

    def __post_init__(self) -> None:
        self.initial_remote_id = self.binding.remote_id


def _plan_users(directory: Directory, ids: list[int]) -> list[Work]:
    bindings = list(
        UserBinding.objects.filter(id__in=ids).select_related("user").order_by("changed_at", "id")
    )
    domains = verified_domains(directory)
    federated = federated_domains(directory)
    user_ids = [b.user_id for b in bindings if b.user_id and b.password_pending]
    held = {
        p.user_id: p
        for p in PendingPassword.objects.filter(user_id__in=user_ids, expires_at__gt=timezone.now())
    }
    works: list[Work] = []
    managed = directory.managed()
    hold_passwords = passwords_held(directory)
    for binding in bindings:
        user: User | None = binding.user
        if binding.remote_deleted_at is not None:
            works.append(_remote_deleted(binding))
            continue
        if user is None or binding.unbound:
            operations = reconcile.plan_user(
                desired=None,
                remote_id=binding.remote_id,
                last_known=binding.last_applied,
                managed=managed,
                password=None,
                random_password=random_password,
            )
            works.append(Work(binding, binding.desired_version, _kept_enabled(binding, operations)))
            continue
        domain = mapping.email_domain(user.email)
        if domain not in domains:
            binding.status = SyncStatus.NOT_SYNCED
            binding.last_error = "Not synced: email domain not in this tenant."
            works.append(Work(binding, binding.desired_version, []))
            continue
        password = None
        pending = held.get(user.pk)
        if pending is not None:
            password = crypto.decrypt(pending.ciphertext, context=password_context(user.pk))
        operations = reconcile.plan_user(
            desired=mapping.desired_user(user),
            remote_id=binding.remote_id,
            last_known=binding.last_applied,
            managed=managed,
            password=password,
            random_password=random_password,
            federated=domain in federated,
            federated_before=_remote_domain(binding, domain) in federated,
        )
        move_held = False
        if hold_passwords:
            # No User Administrator role (Verify said so): the password waits, the account syncs.
            kept, move_held = password_hold.without_password_writes(operations)
            if move_held or len(kept) != len(operations):
                password = None  # not sent (a create still carries it: no role needed)
            operations = kept
        work = Work(binding, binding.desired_version, _kept_enabled(binding, operations))
        work.password_sent = password is not None
        work.move_held = move_held
        works.append(work)
    return works


def _remote_domain(binding: UserBinding, default: str) -> str:
    """The domain of the account's UPN as last known (its domain may differ from Lockstep's)."""
    upn = str(binding.last_applied.get("userPrincipalName") or binding.remote_upn or "")
    return mapping.email_domain(upn) if "@" in upn else default


def passwords_held(directory: Directory) -> bool:
    """True when the last Verify found no role allowing password changes (graph-facts §9)."""
    return bool((directory.verification or {}).get("missing_roles"))


def _remote_deleted(binding: UserBinding) -> Work:
    """A binding whose account was deleted in Microsoft 365: no write, never a re-create."""
    work = Work(binding, binding.desired_version, [])
    if binding.user is None or binding.unbound:
        return work  # nothing left to block: forget the binding
    work.done = False
    binding.status = SyncStatus.ERROR
    if binding.last_error_code not in ("deleted_in_m365", "purged_in_m365"):
        binding.last_error, binding.last_error_code = REMOTE_DELETED_WORDS, "deleted_in_m365"
    binding.retry_at = timezone.now() + PARK_FOR
    return work


def _kept_enabled(binding: UserBinding, operations: list[reconcile.Operation]) -> list[reconcile.Operation]:
    """Drop the disable (and its session revoke) an admin rejected, until the next Lockstep change."""
    if binding.keep_enabled_version is None or binding.keep_enabled_version != binding.desired_version:
        return operations
    kept: list[reconcile.Operation] = []
    for op in operations:
        if op.kind == "revoke_sessions":
            continue
        if op.disables:
            body = {k: v for k, v in (op.body or {}).items() if k != "accountEnabled"}
            if not body:
                continue
            op = reconcile.Operation(op.kind, op.method, op.url, body)
        kept.append(op)
    return kept


def _deleted_match(deleted: list[dict[str, Any]], immutable_id: str) -> dict[str, Any] | None:
    """The soft-deleted account that is this user's: the one with its immutable id.

    Never by address: a deleted user's UPN is prefixed with its object id (graph-facts §12.3),
    and an address alone may belong to someone else's deleted account (an address reused for a
    new person), whose restore would hand that person's mailbox and files to this user.
    """
    if not immutable_id:
        return None
    for item in deleted:
        if item.get("onPremisesImmutableId") == immutable_id:
            return item
    return None


def _deleted_users(port: GraphPort, result: PassResult, *, fresh: bool = False) -> list[dict[str, Any]]:
    if result.deleted_users is None or fresh:
        try:
            result.deleted_users = port.deleted_users()
        except FatalForDirectory:
            raise
        except GraphError as exc:  # e.g. no read access to deleted items: create as before
            log.warning("could not list deleted users: %s", exc)
            result.deleted_users = []
    return result.deleted_users


def offer_restore(binding: UserBinding, item: dict[str, Any]) -> None:
    """Point the binding at a soft-deleted account instead of creating a duplicate."""
    deleted_on = str(item.get("deletedDateTime") or "")[:10]
    binding.status = SyncStatus.RESTORE_OFFERED
    binding.restore_candidate_id = str(item.get("id", ""))
    binding.last_error = (
        f"A deleted Microsoft 365 account with this address ({item.get('userPrincipalName')}"
        + (f", deleted on {deleted_on}" if deleted_on else "")
        + ") is in the recycle bin, where it stays restorable for 30 days after deletion. Restore it "
        "instead of creating a duplicate; nothing is created until you decide."
    )
    binding.last_error_code = "restore_offered"
    binding.retry_at = timezone.now() + PARK_FOR


def _offer_restores(works: list[Work], port: GraphPort, result: PassResult) -> None:
    """Before creating accounts, look for soft-deleted matches (one recycle-bin listing per pass)."""
    creating = [w for w in works if w.operations and w.operations[0].kind == "create_user"]
    if not creating:
        return
    deleted = _deleted_users(port, result)
    for work in creating:
        body = work.operations[0].body or {}
        item = _deleted_match(deleted, str(body.get("onPremisesImmutableId") or ""))
        if item is None:
            work.binding.restore_candidate_id = ""
            continue
        offer_restore(work.binding, item)
        work.operations = []
        work.done = False
        work.password_sent = False
        result.restore_offered += 1


def _apply_brake(
    directory: Directory, works: list[Work], result: PassResult
) -> brake_window.Admission | None:
    """Hold disables beyond the brake's thresholds (count AND percentage, over its sliding window).

    A paused pass sends nothing, so its disables are neither decided nor counted.
    """
    if result.paused:
        return None
    approved = set(
        HeldWrite.objects.filter(
            directory=directory, binding_id__in=[w.binding.pk for w in works], decision="approved"
        ).values_list("binding_id", flat=True)
    )
    for work in works:
        work.approved_hold = work.binding.pk in approved
    pending = [w for w in works if w.binding.pk not in approved and any(op.disables for op in w.operations)]
    if not pending:
        return None
    bound = UserBinding.objects.filter(directory=directory).count()
    admission = brake_window.admit(directory, [w.binding.remote_id for w in pending], bound)
    for work in pending:
        if work.binding.remote_id not in admission.held:
            continue  # within the thresholds over the sliding window, or let through before (a retry)
        HeldWrite.objects.get_or_create(
            directory=directory, binding=work.binding, decision="", defaults={"operation": "disable"}
        )
        work.operations = []
        work.binding.status = SyncStatus.HELD
        work.done = False
        result.held += 1
    return admission


def run_user_pass(directory: Directory, port: GraphPort, *, worker: str = "worker") -> PassResult:
    result = PassResult()
    ids = claim(UserBinding, directory, worker, CLAIM_LIMIT)
    result.claimed = len(ids)
    if not ids:
        return result
    works = _plan_users(directory, ids)
    try:
        _offer_restores(works, port, result)
    except FatalForDirectory as exc:
        result.paused = exc.plain_words or str(exc)
    admission = _apply_brake(directory, works, result)
    sent_disables: set[str] = set()
    rounds = 0 if result.paused else max((len(w.operations) for w in works), default=0)
    for step in range(rounds):
        todo = [w for w in works if w.done and len(w.operations) > step]
        requests = [WriteRequest(op.method, op.url, op.body) for w in todo for op in [w.operations[step]]]
        if not requests:
            break
        try:
            outcomes = port.write(requests)
        except (
            FatalForDirectory
        ) as exc:  # no token at all (expired secret, deleted app): pause, keep the queue
            result.paused = exc.plain_words or str(exc)
            break
        sent_disables.update(w.binding.remote_id for w in todo if w.operations[step].disables)
        for work, outcome in zip(todo, outcomes, strict=True):
            _record_one(directory, work, work.operations[step], outcome, port, result)
        if result.paused:
            break
    if admission is not None:  # only the disables that went out count against others
        brake_window.release_unsent(directory, admission, sent_disables)
    _finish(directory, works, result)
    return result


def _record_one(
    directory: Directory,
    work: Work,
    operation: reconcile.Operation,
    outcome: WriteOutcome,
    port: GraphPort,
    result: PassResult,
) -> None:
    """`_record`, where a failed read (a create conflict's lookup) stays with its binding: the
    pass goes on and `_finish` records everything already done."""
    try:
        _record(directory, work, operation, outcome, port, result)
    except FatalForDirectory as exc:
        result.paused = exc.plain_words or str(exc)
    except GraphError as exc:
        _retry_later(work, result, exc.plain_words or str(exc), exc.code or "lookup_failed")
    except ObjectDoesNotExist:
        _retry_later(work, result, adoption.USER_CHANGED_WORDS, "user_changed")


def _retry_later(work: Work, result: PassResult, words: str, code: str) -> None:
    binding = work.binding
    result.errors += 1
    work.done = False
    work.error = binding.last_error = words
    binding.last_error_code = code
    binding.attempts += 1
    binding.retry_at = timezone.now() + backoff(binding.attempts)
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
    if outcome.ok:
        result.writes += 1
        if operation.kind == "create_user":
            body = dict(operation.body or {})
            body.pop("passwordProfile", None)
            binding.remote_id = str((outcome.body or {}).get("id", ""))
            binding.remote_upn = str(body.get("userPrincipalName", ""))
            binding.last_applied = body
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
        _audit_write(actor, binding, operation)
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
            work.adopting = found  # the takeover is written with the binding, in `_finish`
            work.done = False  # dirty again: the next pass applies the managed attributes
            return
        body = operation.body or {}
        try:
            deleted = _deleted_users(port, result, fresh=True)
        except GraphError:
            deleted = []
        item = _deleted_match(deleted, str(body.get("onPremisesImmutableId") or ""))
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
        binding.retry_at = timezone.now() + backoff(binding.attempts)
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


def _audit_write(actor: Actor, binding: UserBinding, operation: reconcile.Operation) -> None:
    after = None
    if operation.body is not None:
        after = {k: v for k, v in operation.body.items() if k != "passwordProfile"}
        if "passwordProfile" in operation.body:
            after["password"] = "(delivered)"
        if operation.random_password:  # a UPN moved out of a federated domain (reconcile.plan_user)
            after["passwordProfile"] = (
                "a random password known to nobody, until the user sets one in Lockstep"
            )
    _audit(actor, binding, f"m365.{operation.kind}", after)


def _audit(actor: Actor, binding: UserBinding, action: str, after: dict[str, Any] | None) -> None:
    label = binding.user.username if binding.user else binding.remote_upn
    audit.record(
        actor=actor,
        action=action,
        target_type="user",
        target_id=binding.user_id or "",
        target_label=label,
        after={"directory": binding.directory_id, **(after or {})},
    )


def _finish(directory: Directory, works: list[Work], result: PassResult) -> None:
    now = timezone.now()
    delivered_users: list[int] = []
    with transaction.atomic():
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
            fields = [
                "remote_id",
                "remote_upn",
                "last_applied",
                "status",
                "last_error",
                "last_error_code",
                "attempts",
                "retry_at",
                "lease_until",
                "lease_owner",
                "adopted",
                "password_pending",
                "synced_at",
                "password_synced_at",
                "first_sync_notice_pending",
                "restore_candidate_id",
                "remote_created_at",
            ]
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
                if work.password_sent:
                    binding.password_pending = False
                    binding.password_synced_at = now
                    binding.first_sync_notice_pending = True
                    if binding.user_id:
                        delivered_users.append(binding.user_id)
                if work.approved_hold:  # the approval covered this disable; the next one is braked again
                    HeldWrite.objects.filter(binding=binding, decision="approved").update(decision="applied")
                if work.move_held:  # the rest synced; the move stays planned, parked
                    password_hold.park(binding, timezone.now() + PARK_FOR)
                else:
                    # Only the version seen at claim time counts as applied: a change made
                    # meanwhile keeps the binding dirty for the next pass.
                    UserBinding.objects.filter(pk=binding.pk).update(applied_version=work.version)
            binding.save(update_fields=fields)
            if work.done and binding.unbound and not result.paused:
                binding.delete()
        for user_id in delivered_users:
            if not UserBinding.objects.filter(user_id=user_id, password_pending=True).exists():
                PendingPassword.objects.filter(user_id=user_id).delete()  # delivered everywhere: erase
        if result.paused:
            Directory.objects.filter(pk=directory.pk).update(health=Health.RED, health_reason=result.paused)
        _refresh_groups_of_new_accounts(directory, works, now)
        _count_activity(directory, result)


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

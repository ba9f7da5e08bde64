"""The user pass's record: each write's outcome on its binding (adoption after a create
conflict, replication lag, retries, parking) and one audit row per write; `user_finish`
stores it all in the pass's closing transaction (`engine`)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone

from lockstep.directory import audit
from lockstep.directory.actors import Actor
from lockstep.m365 import adoption, mapping, reconcile, replication
from lockstep.m365.graph.errors import FatalForDirectory, GraphError, Throttled
from lockstep.m365.models import Directory, SyncStatus, UserBinding
from lockstep.m365.port import GraphPort, WriteOutcome
from lockstep.m365.sync_pass import ADMIN_ROLE_WORDS, PARK_FOR, PassResult, retry_delay
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

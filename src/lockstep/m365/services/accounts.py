"""Explicit account actions (SPEC 2.3, 2.4): delete or restore a Microsoft 365 account, and the
per-directory set of managed attributes.

Deleting is never a side effect of a sync: `delete_remote_account` is its own confirmed admin
action. Microsoft 365 keeps a deleted user in its recycle bin (Deleted users) for 30 days,
restorable until then, and purges it afterwards. Before creating an account the engine looks
for such a deleted account with the user's immutable id (never by address: a deleted user's UPN
is prefixed with its object id, and an address may be someone else's) and offers it for restore
(`SyncStatus.RESTORE_OFFERED`) instead of creating a duplicate; `restore_remote_account` restores
and adopts it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from lockstep.directory import audit
from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict, NotFound, ValidationFailed
from lockstep.directory.models import GroupMembership
from lockstep.m365 import lanes, replication, wakeup
from lockstep.m365.budget import DatabaseBudget
from lockstep.m365.credentials import connection_for
from lockstep.m365.graph.client import GraphClient
from lockstep.m365.graph.errors import AccessDenied, FatalForDirectory, GraphError
from lockstep.m365.graph.errors import NotFound as GraphNotFound
from lockstep.m365.graph_port import LOOKUP_SELECT, GraphClientPort
from lockstep.m365.models import (
    DEFAULT_MANAGED_ATTRIBUTES,
    Directory,
    GroupBinding,
    PendingPassword,
    SyncStatus,
    UserBinding,
)
from lockstep.m365.services.bindings import get_directory
from lockstep.m365.services.errors import MicrosoftRefused, microsoft_refusals, refusal
from lockstep.m365.sync_pass import ADMIN_ROLE_WORDS

log = logging.getLogger(__name__)

RECYCLE_BIN_DAYS = 30

# Graph user properties Lockstep holds a value for (`mapping.desired_user`), so it can manage them.
MANAGEABLE_ATTRIBUTES = tuple(DEFAULT_MANAGED_ATTRIBUTES)


@dataclass(frozen=True)
class DeletedAccount:
    remote_id: str
    user_principal_name: str
    deleted_at: datetime
    restorable_until: datetime
    message: str


@contextmanager
def graph_client(directory: Directory) -> Iterator[GraphClient]:
    """A short-lived Graph client for one admin action, paced by the directory's shared budget."""
    with GraphClient(connection_for(directory), rate_limiter=DatabaseBudget(directory.tenant_id)) as client:
        yield client


def _refusal(field: str, exc: GraphError, client: GraphClient) -> MicrosoftRefused:
    if isinstance(exc, AccessDenied) and GraphClientPort(client).healthy():
        return refusal(field, exc, ADMIN_ROLE_WORDS)
    return refusal(field, exc)


def _forget_pending_password(user_id: int | None) -> None:
    if user_id and not UserBinding.objects.filter(user_id=user_id, password_pending=True).exists():
        PendingPassword.objects.filter(user_id=user_id).delete()


def delete_remote_account(*, actor: Actor, user_id: int, directory_id: int, confirm: bool) -> DeletedAccount:
    """DELETE the user's Microsoft 365 account (to the 30-day recycle bin) and unbind the user.

    `confirm` must be True. The Lockstep user stays; binding again within 30 days offers the
    deleted account for restore.
    """
    actor.require_write()
    if confirm is not True:
        raise ValidationFailed(
            {
                "confirm": [
                    "Deleting the Microsoft 365 account must be confirmed explicitly (confirm=true). It goes "
                    f"to Microsoft 365's recycle bin for {RECYCLE_BIN_DAYS} days, then is purged for good."
                ]
            }
        )
    directory = get_directory(actor=actor, directory_id=directory_id)
    binding = (
        UserBinding.objects.filter(
            directory=directory, user_id=user_id, user__organization_id=actor.organization_id
        )
        .select_related("user")
        .first()
    )
    if binding is None or binding.unbound or binding.user is None:
        raise NotFound("binding", f"{user_id}@{directory_id}")
    if not binding.remote_id:
        raise Conflict("user_id", "No Microsoft 365 account is linked to this user yet; nothing to delete.")
    if binding.remote_deleted_at is not None:
        raise Conflict("user_id", "The Microsoft 365 account is already deleted.")
    if binding.lease_until and binding.lease_until > timezone.now():
        raise Conflict("user_id", "Lockstep is writing to this account right now; try again in a minute.")
    with microsoft_refusals("user_id"), graph_client(directory) as client:
        try:
            _delete_user(client, binding)
        except GraphNotFound:
            pass  # already gone (deleted directly in Microsoft 365): forget the binding all the same
        except GraphError as exc:
            raise _refusal("user_id", exc, client) from exc
    now = timezone.now()
    until = now + timedelta(days=RECYCLE_BIN_DAYS)
    upn = binding.remote_upn or binding.user.email
    with transaction.atomic():
        audit.record(
            actor=actor,
            action="m365.user.delete",
            target_type="user",
            target_id=binding.user_id or "",
            target_label=binding.user.username,
            before={"directory": directory.name, "remote_id": binding.remote_id, "userPrincipalName": upn},
            after={"recycle_bin_until": until.isoformat()},
        )
        binding.delete()
        _forget_pending_password(user_id)
    return DeletedAccount(
        remote_id=binding.remote_id,
        user_principal_name=upn,
        deleted_at=now,
        restorable_until=until,
        message=(
            f"{upn} was deleted in Microsoft 365. It stays in the recycle bin (Deleted users) for "
            f"{RECYCLE_BIN_DAYS} days, until {until:%Y-%m-%d}, and can be restored until then; after that "
            f"Microsoft deletes it permanently with its mailbox and files. {binding.user.username} is no "
            f"longer synced to {directory.name}."
        ),
    )


def _delete_user(client: GraphClient, binding: UserBinding) -> None:
    """DELETE the account; a 404 for an account Lockstep created or restored moments ago is
    replication lag (§12.2), not "already gone": wait and try again before believing it."""
    delays = RESTORED_READ_DELAYS if replication.recent(binding.remote_created_at) else ()
    for delay in delays:
        try:
            client.delete_user(binding.remote_id)
            return
        except GraphNotFound:
            time.sleep(delay)
    try:
        client.delete_user(binding.remote_id)
    except GraphNotFound:
        if delays:
            raise Conflict(
                "user_id",
                "Microsoft 365 has not finished creating this account yet (replication takes seconds, "
                "occasionally minutes); try deleting it again in a minute.",
            ) from None
        raise


def restore_remote_account(*, actor: Actor, binding_id: int) -> UserBinding:
    """Restore the soft-deleted account offered for this binding and adopt it (instead of a create)."""
    actor.require_write()
    binding = (
        UserBinding.objects.filter(pk=binding_id, directory__organization_id=actor.organization_id)
        .select_related("directory", "user")
        .first()
    )
    if binding is None or binding.user is None:
        raise NotFound("binding", binding_id)
    if binding.status != SyncStatus.RESTORE_OFFERED or not binding.restore_candidate_id:
        raise Conflict(
            "binding_id", "No deleted Microsoft 365 account is offered for restore on this binding."
        )
    directory, user, candidate = binding.directory, binding.user, binding.restore_candidate_id
    with microsoft_refusals("binding_id"), graph_client(directory) as client:
        try:
            # the UPN Lockstep wants: the deleted account's UPN is prefixed with its id, and the
            # user's email may have changed while the account was in the recycle bin
            restored = client.restore_deleted_item(candidate, new_user_principal_name=user.email)
        except GraphNotFound as exc:  # the restore itself: the account is no longer in the recycle bin
            UserBinding.objects.filter(pk=binding.pk).update(
                restore_candidate_id="",
                status=SyncStatus.PENDING,
                last_error="",
                last_error_code="",
                retry_at=None,
                desired_version=F("desired_version") + 1,
                changed_at=timezone.now(),
                **lanes.interactive(),
            )
            transaction.on_commit(wakeup.notify)
            raise Conflict(
                "binding_id",
                "The deleted account is no longer in the recycle bin (purged, or restored elsewhere); "
                "Lockstep now creates a new account.",
            ) from exc
        except GraphError as exc:
            raise _refusal("binding_id", exc, client) from exc
        try:  # restored: from here on only a directory-fatal error is raised (see _read_restored)
            account = _read_restored(client, candidate, restored)
        except FatalForDirectory as exc:
            raise _refusal("binding_id", exc, client) from exc
    # the candidate was offered because it carries the user's immutable id (user_plan.deleted_match);
    # an account read back without one is the restore's answer (default properties only), not another's
    carried = account.get("onPremisesImmutableId")
    ours = carried in (None, "", user.immutable_id)
    with transaction.atomic():
        UserBinding.objects.filter(pk=binding.pk).update(
            remote_id=candidate,
            remote_upn=str(account.get("userPrincipalName", "")),
            last_applied={k: v for k, v in account.items() if k != "id"},
            adopted=not ours,
            password_pending=binding.password_pending and ours,
            restore_candidate_id="",
            remote_deleted_at=None,
            remote_created_at=timezone.now(),  # a 404 for a while yet is replication lag
            status=SyncStatus.PENDING,
            last_error="",
            last_error_code="",
            retry_at=None,
            attempts=0,
            # dirty: the next pass applies Lockstep's attributes and state to the restored account
            desired_version=F("desired_version") + 1,
            changed_at=timezone.now(),
            **lanes.interactive(),
        )
        if not ours:
            _forget_pending_password(user.pk)
        _recheck_groups_of(directory, user.pk)
        audit.record(
            actor=actor,
            action="m365.user.restore",
            target_type="user",
            target_id=user.pk,
            target_label=user.username,
            after={"directory": directory.name, "remote_id": candidate},
        )
        transaction.on_commit(wakeup.notify)
    binding.refresh_from_db()
    return binding


def _recheck_groups_of(directory: Directory, user_id: int) -> None:
    """A restored account comes back with the group memberships it had (graph-facts §12.3):
    the bound groups of the user are planned again so their membership is made equal to
    Lockstep's; memberships restored into other bound groups reach the group engine through
    the next drift round (`members@delta`)."""
    group_ids = GroupMembership.objects.filter(user_id=user_id).values_list("group_id", flat=True)
    GroupBinding.objects.filter(directory=directory, group_id__in=group_ids, unbound=False).update(
        desired_version=F("desired_version") + 1,
        changed_at=timezone.now(),
        retry_at=None,
        **lanes.interactive(),
    )


# Seconds to wait before each new read of a just-restored account (replication lag, §12.2).
RESTORED_READ_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)


def _read_restored(client: GraphClient, candidate: str, restored: dict[str, Any]) -> dict[str, Any]:
    """The restored account, read again while Microsoft 365 still answers 404 (replication lag).

    A restore that succeeded is never taken for a purge: when the account still cannot be read,
    what the restore answered is used and the engine's next pass (which tolerates such 404s for a
    while) applies Lockstep's values. Any other failed read (a 429 or 5xx after the client's
    retries) falls back the same way at once; only a directory-fatal error is raised.
    """
    for delay in (0.0, *RESTORED_READ_DELAYS):
        time.sleep(delay)
        try:
            return dict(client.get_user(candidate, select=LOOKUP_SELECT))
        except GraphNotFound:
            continue
        except FatalForDirectory:
            raise
        except GraphError as exc:
            log.warning("could not read the restored account %s: %s", candidate, exc)
            break
    return {k: v for k, v in restored.items() if k in LOOKUP_SELECT or k == "id"}


@transaction.atomic
def set_managed_attributes(*, actor: Actor, directory_id: int, attributes: list[str]) -> Directory:
    """Choose which Graph user properties Lockstep keeps equal to its own values (drift restores them).

    Newly managed attributes are written on the next pass; the drift round restarts with a full
    listing because the tracked `$select` changed.
    """
    actor.require_write()
    directory = get_directory(actor=actor, directory_id=directory_id)
    if isinstance(attributes, str) or not isinstance(attributes, list | tuple):
        raise ValidationFailed({"managed_attributes": ["Give a list of Graph user property names."]})
    names = list(dict.fromkeys(str(a).strip() for a in attributes))
    unknown = [n for n in names if n not in MANAGEABLE_ATTRIBUTES]
    if unknown:
        raise ValidationFailed(
            {
                "managed_attributes": [
                    f"Unknown or unmanageable Graph user properties: {', '.join(unknown)}. "
                    f"Choose from: {', '.join(MANAGEABLE_ATTRIBUTES)}."
                ]
            }
        )
    if not names:
        raise ValidationFailed({"managed_attributes": ["Choose at least one attribute."]})
    before = directory.managed()
    added = set(names) - set(before)
    directory.managed_attributes = names
    directory.users_delta_link = ""
    directory.save(update_fields=["managed_attributes", "users_delta_link"])
    if added:
        UserBinding.objects.filter(directory=directory, unbound=False).update(
            desired_version=F("desired_version") + 1, changed_at=timezone.now(), retry_at=None, attempts=0
        )
        transaction.on_commit(wakeup.notify)
    audit.record(
        actor=actor,
        action="directory.managed_attributes",
        target_type="directory",
        target_id=directory.pk,
        target_label=directory.name,
        before={"managed_attributes": before},
        after={"managed_attributes": names},
    )
    return directory

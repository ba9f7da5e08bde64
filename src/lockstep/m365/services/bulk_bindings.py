"""Bind or unbind many users to one directory at once (bulk actions on the Users list).

The same rules as `bindings.bind_user` / `unbind_user` (a user is bound only when the company
email is on a verified domain of the tenant), validated for every user first, then written in
one transaction with one audit row per user; queries go per chunk of ids, never per user.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from lockstep.directory import audit, events
from lockstep.directory.actors import Actor
from lockstep.directory.models import PasswordSetup, User
from lockstep.directory.services.bulk import BulkPlan, BulkResult, Skipped, chunks, resolve_users
from lockstep.m365 import mapping, password_delivery, wakeup
from lockstep.m365.models import Directory, PendingPassword, SyncStatus, UserBinding
from lockstep.m365.services.bindings import (
    REBOUND_PASSWORD_FIELDS,
    domain_refusal,
    federated_domains,
    get_directory,
    verified_domains,
)


def _bindings_of(directory: Directory, users: list[User]) -> dict[int, UserBinding]:
    found: dict[int, UserBinding] = {}
    for chunk in chunks([user.pk for user in users]):
        for binding in UserBinding.objects.filter(directory=directory, user_id__in=chunk).only(
            "id", "user_id", "unbound"
        ):
            assert binding.user_id is not None
            found[binding.user_id] = binding
    return found


def _bind_plan(directory: Directory, users: list[User]) -> tuple[BulkPlan, dict[int, UserBinding]]:
    verified = verified_domains(directory)
    existing = _bindings_of(directory, users)
    changing: list[User] = []
    skipped: list[Skipped] = []
    for user in users:
        domain = mapping.email_domain(user.email)
        binding = existing.get(user.pk)
        if binding is not None and not binding.unbound:
            skipped.append(Skipped(user.pk, user.username, f"Already bound to {directory.name}."))
        elif domain not in verified:
            skipped.append(Skipped(user.pk, user.username, domain_refusal(directory, domain, verified)))
        else:
            changing.append(user)
    return BulkPlan(selected=len(users), changing=changing, skipped=skipped), existing


def plan_bind_users(*, actor: Actor, user_ids: Sequence[object], directory_id: int) -> BulkPlan:
    """Which of the selected users would be bound (nothing is written)."""
    directory = get_directory(actor=actor, directory_id=directory_id)
    plan, _ = _bind_plan(directory, resolve_users(actor=actor, user_ids=user_ids))
    return plan


@transaction.atomic
def bind_users(*, actor: Actor, user_ids: Sequence[object], directory_id: int) -> BulkResult:
    """Bind every selected user the tenant's verified domains allow; the others are reported."""
    actor.require_write()
    directory = get_directory(actor=actor, directory_id=directory_id)
    users = resolve_users(actor=actor, user_ids=user_ids, lock=True)
    plan, existing = _bind_plan(directory, users)
    changing_ids = plan.changing_ids
    held: set[int] = set()
    now = timezone.now()
    for chunk in chunks(changing_ids):
        held.update(
            PendingPassword.objects.filter(user_id__in=chunk, expires_at__gt=now).values_list(
                "user_id", flat=True
            )
        )
    federated = federated_domains(directory)
    # an initial password set before the binding goes with the new account (not to a federated one)
    pending = {
        user.pk
        for user in plan.changing
        if user.pk in held
        and user.password_setup == PasswordSetup.INITIAL
        and mapping.email_domain(user.email) not in federated
    }
    rebind = [user_id for user_id in changing_ids if user_id in existing]
    UserBinding.objects.bulk_create(
        [
            UserBinding(directory=directory, user_id=user_id, password_pending=user_id in pending)
            for user_id in changing_ids
            if user_id not in existing
        ],
        batch_size=500,
    )
    for chunk in chunks(rebind):
        for flag in (True, False):
            UserBinding.objects.filter(
                directory=directory, user_id__in=[u for u in chunk if (u in pending) == flag]
            ).update(
                unbound=False,
                desired_version=F("desired_version") + 1,
                changed_at=now,
                retry_at=None,
                status=SyncStatus.PENDING,
                password_pending=flag,
                **REBOUND_PASSWORD_FIELDS,
            )
    _audit(actor, "user.bind", directory, plan.changing)
    for user in plan.changing:
        events.emit(
            events.user_bound,
            organization_id=user.organization_id,
            user_id=user.pk,
            directory_id=directory.pk,
        )
    if changing_ids:
        transaction.on_commit(wakeup.notify)
    return BulkResult(changed=changing_ids, skipped=plan.skipped)


def _unbind_plan(directory: Directory, users: list[User]) -> BulkPlan:
    existing = _bindings_of(directory, users)
    changing: list[User] = []
    skipped: list[Skipped] = []
    for user in users:
        binding = existing.get(user.pk)
        if binding is None or binding.unbound:
            skipped.append(Skipped(user.pk, user.username, f"Not bound to {directory.name}."))
        else:
            changing.append(user)
    return BulkPlan(selected=len(users), changing=changing, skipped=skipped)


def plan_unbind_users(*, actor: Actor, user_ids: Sequence[object], directory_id: int) -> BulkPlan:
    directory = get_directory(actor=actor, directory_id=directory_id)
    return _unbind_plan(directory, resolve_users(actor=actor, user_ids=user_ids))


@transaction.atomic
def unbind_users(*, actor: Actor, user_ids: Sequence[object], directory_id: int) -> BulkResult:
    """Block Microsoft 365 sign-in and revoke sessions of every selected user bound to the directory."""
    actor.require_write()
    directory = get_directory(actor=actor, directory_id=directory_id)
    plan = _unbind_plan(directory, resolve_users(actor=actor, user_ids=user_ids, lock=True))
    now = timezone.now()
    for chunk in chunks(plan.changing_ids):
        UserBinding.objects.filter(directory=directory, user_id__in=chunk, unbound=False).update(
            unbound=True,
            desired_version=F("desired_version") + 1,
            changed_at=now,
            retry_at=None,
            status=SyncStatus.PENDING,
            password_pending=False,
        )
    password_delivery.forget_if_delivered(plan.changing_ids)
    _audit(actor, "user.unbind", directory, plan.changing)
    if plan.changing:
        transaction.on_commit(wakeup.notify)
    return BulkResult(changed=plan.changing_ids, skipped=plan.skipped)


def _audit(actor: Actor, action: str, directory: Directory, users: list[User]) -> None:
    audit.record_many(
        [
            audit.build(
                actor=actor,
                action=action,
                target_type="user",
                target_id=user.pk,
                target_label=user.username,
                after={"directory": directory.name},
            )
            for user in users
        ]
    )

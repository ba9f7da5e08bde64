"""Bind and unbind users and groups to a directory (SPEC 2.3, 2.5).

One object at a time, by hand: the change goes in the interactive lane (`lanes`).
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from lockstep.directory import audit, events
from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict, NotFound
from lockstep.directory.models import PasswordSetup
from lockstep.directory.services.groups import get_group
from lockstep.directory.services.users import get_user
from lockstep.m365 import lanes, mapping, password_delivery, wakeup
from lockstep.m365.models import Directory, GroupBinding, PendingPassword, SyncStatus, UserBinding


def get_directory(*, actor: Actor, directory_id: int) -> Directory:
    try:
        return Directory.objects.get(pk=directory_id, organization_id=actor.organization_id)
    except (Directory.DoesNotExist, ValueError, TypeError):
        raise NotFound("directory", directory_id) from None


def verified_domains(directory: Directory) -> list[str]:
    return sorted(directory.domains.filter(is_verified=True).values_list("name", flat=True))


def federated_domains(directory: Directory) -> set[str]:
    return set(directory.domains.filter(authentication_type="Federated").values_list("name", flat=True))


# A binding made again starts over: the takeover sends the password at the next portal sign-in.
REBOUND_PASSWORD_FIELDS = {
    "password_synced_at": None,
    "password_expired_at": None,
    "first_sync_notice_pending": False,
}


def domain_refusal(directory: Directory, domain: str, verified: list[str]) -> str:
    """Why a user whose company email is on `domain` cannot be bound to this directory."""
    shown = ", ".join(verified) or "none yet (verify the directory first)"
    if not verified and "Domain.Read.All" in (directory.verification or {}).get("missing_permissions", []):
        shown = "none readable: Lockstep's app lacks Domain.Read.All (grant it, then verify again)"
    return (
        f"The company email's domain {domain} is not a verified domain of {directory.name}. "
        f"Verified domains: {shown}."
    )


@transaction.atomic
def bind_user(*, actor: Actor, user_id: int, directory_id: int) -> UserBinding:
    """Bind a user; refused unless the company email is on a verified domain of the tenant."""
    actor.require_write()
    user = get_user(actor=actor, user_id=user_id)
    directory = get_directory(actor=actor, directory_id=directory_id)
    domain = mapping.email_domain(user.email)
    verified = verified_domains(directory)
    if domain not in verified:
        raise Conflict("email", domain_refusal(directory, domain, verified))
    binding = UserBinding.objects.select_for_update().filter(directory=directory, user=user).first()
    if binding is not None and not binding.unbound:
        raise Conflict("directory_id", f"{user.username} is already bound to {directory.name}.")
    has_held_password = PendingPassword.objects.filter(user=user, expires_at__gt=timezone.now()).exists()
    # an initial password set before the binding goes with the new account (not to a federated one)
    pending = (
        has_held_password
        and user.password_setup == PasswordSetup.INITIAL
        and domain not in federated_domains(directory)
    )
    if binding is None:
        binding = UserBinding.objects.create(
            directory=directory, user=user, password_pending=pending, **lanes.interactive()
        )
    else:
        UserBinding.objects.filter(pk=binding.pk).update(
            unbound=False,
            desired_version=F("desired_version") + 1,
            changed_at=timezone.now(),
            retry_at=None,
            status=SyncStatus.PENDING,
            **REBOUND_PASSWORD_FIELDS,
            password_pending=pending,
            **lanes.interactive(),
        )
        binding.refresh_from_db()
    audit.record(
        actor=actor,
        action="user.bind",
        target_type="user",
        target_id=user.pk,
        target_label=user.username,
        after={"directory": directory.name},
    )
    events.emit(
        events.user_bound, organization_id=user.organization_id, user_id=user.pk, directory_id=directory.pk
    )
    transaction.on_commit(wakeup.notify)
    return binding


@transaction.atomic
def unbind_user(*, actor: Actor, user_id: int, directory_id: int) -> None:
    """Block Microsoft 365 sign-in and revoke sessions, then forget the binding."""
    actor.require_write()
    user = get_user(actor=actor, user_id=user_id)
    directory = get_directory(actor=actor, directory_id=directory_id)
    updated = UserBinding.objects.filter(directory=directory, user=user, unbound=False).update(
        unbound=True,
        desired_version=F("desired_version") + 1,
        changed_at=timezone.now(),
        retry_at=None,
        status=SyncStatus.PENDING,
        password_pending=False,
        **lanes.interactive(),
    )
    if not updated:
        raise NotFound("binding", f"{user.pk}@{directory.pk}")
    password_delivery.forget_if_delivered([user.pk])
    audit.record(
        actor=actor,
        action="user.unbind",
        target_type="user",
        target_id=user.pk,
        target_label=user.username,
        after={"directory": directory.name},
    )
    transaction.on_commit(wakeup.notify)


@transaction.atomic
def bind_group(*, actor: Actor, group_id: int, directory_id: int) -> GroupBinding:
    actor.require_write()
    group = get_group(actor=actor, group_id=group_id)
    directory = get_directory(actor=actor, directory_id=directory_id)
    if GroupBinding.objects.filter(directory=directory, group=group).exists():
        raise Conflict("directory_id", f"{group.name} is already bound to {directory.name}.")
    binding = GroupBinding.objects.create(directory=directory, group=group, **lanes.interactive())
    audit.record(
        actor=actor,
        action="group.bind",
        target_type="group",
        target_id=group.pk,
        target_label=group.name,
        after={"directory": directory.name},
    )
    transaction.on_commit(wakeup.notify)
    return binding


@transaction.atomic
def unbind_group(*, actor: Actor, group_id: int, directory_id: int) -> None:
    """Stop managing the group's security group in that directory; Microsoft 365 is left as it is.

    Security groups deleted in Microsoft 365 cannot be restored (graph-facts §1), so unbinding
    never deletes the group or changes its members there: Lockstep forgets its remote id, as it
    does when the Lockstep group is deleted. Binding again creates a new security group; the old
    one can be taken over from the directory's Groups page instead.
    """
    actor.require_write()
    group = get_group(actor=actor, group_id=group_id)
    directory = get_directory(actor=actor, directory_id=directory_id)
    binding = GroupBinding.objects.select_for_update().filter(directory=directory, group=group).first()
    if binding is None:
        raise NotFound("binding", f"{group.pk}@{directory.pk}")
    if binding.lease_until is not None and binding.lease_until > timezone.now():
        raise Conflict(
            "directory_id",
            f"{group.name} is being synced to {directory.name} right now; unbind it again in a few seconds.",
        )
    remote_id = binding.remote_id
    binding.delete()
    audit.record(
        actor=actor,
        action="group.unbind",
        target_type="group",
        target_id=group.pk,
        target_label=group.name,
        before={"remote_id": remote_id} if remote_id else None,
        after={"directory": directory.name},
    )

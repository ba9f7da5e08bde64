"""The bindings of users and groups to Microsoft 365 directories, with their sync status
(SPEC 2.3); deleting and restoring a user's Microsoft 365 account."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema, Status
from pydantic import ConfigDict

from lockstep.api.auth import actor_of, writer
from lockstep.api.directory_schemas import DirectoryRef, StatusName
from lockstep.api.errors import error_responses
from lockstep.directory.actors import Actor
from lockstep.directory.errors import NotFound
from lockstep.directory.services import groups as group_services
from lockstep.directory.services import users as user_services
from lockstep.m365 import health as sync_health
from lockstep.m365 import overview, password_status
from lockstep.m365.models import GroupBinding, SyncStatus, UserBinding
from lockstep.m365.services import accounts
from lockstep.m365.services.bindings import bind_group, bind_user, get_directory, unbind_group, unbind_user

router = Router(tags=["directories"])

PasswordStateName = Literal[
    "delivered",
    "on_its_way",
    "expired",
    "waiting_sign_in",
    "waiting_change",
    "no_password",
    "federated",
    "not_in_tenant",
    "unbound",
]


class UserBindingOut(Schema):
    id: int
    directory_id: int
    directory_name: str
    user_id: int | None
    status: StatusName
    status_words: str = Field(description="The status, or the last error in plain words with what to do.")
    unbound: bool = Field(description="Unbinding: sign-in is being blocked, then the binding is forgotten.")
    remote_id: str
    remote_upn: str
    adopted: bool
    restore_offered: bool
    last_error: str
    synced_at: datetime | None
    created_at: datetime
    password_status: PasswordStateName = Field(
        description="Where the user's Lockstep password stands for this account: delivered, on_its_way, "
        "expired (held too long: the next sign-in or change sends it), waiting_sign_in (takeover on), "
        "waiting_change (takeover off), no_password, federated (not needed: signs in through Lockstep), "
        "not_in_tenant, unbound."
    )
    password_words: str = Field(description="The password status in plain words.")
    password_synced_at: datetime | None = Field(
        description="When a Lockstep password last reached the account."
    )
    password_expired_at: datetime | None = Field(
        description="When the held password expired before reaching the account (cleared by the next delivery)."
    )

    @staticmethod
    def resolve_directory_name(obj: UserBinding) -> str:
        return obj.directory.name

    @staticmethod
    def resolve_status(obj: UserBinding) -> str:
        return sync_health.user_binding_health(obj).status

    @staticmethod
    def resolve_password_status(obj: UserBinding) -> str:
        return str(password_status.password_state(obj))

    @staticmethod
    def resolve_password_words(obj: UserBinding) -> str:
        return password_status.admin_words(obj, password_status.password_state(obj))

    @staticmethod
    def resolve_status_words(obj: UserBinding) -> str:
        return overview.status_words(obj)

    @staticmethod
    def resolve_restore_offered(obj: UserBinding) -> bool:
        return obj.status == SyncStatus.RESTORE_OFFERED and bool(obj.restore_candidate_id)


class GroupBindingOut(Schema):
    id: int
    directory_id: int
    directory_name: str
    group_id: int | None
    status: StatusName
    status_words: str
    unbound: bool
    remote_id: str
    last_error: str
    synced_at: datetime | None
    created_at: datetime

    @staticmethod
    def resolve_directory_name(obj: GroupBinding) -> str:
        return obj.directory.name

    @staticmethod
    def resolve_status(obj: GroupBinding) -> str:
        return sync_health.group_binding_health(obj).status

    @staticmethod
    def resolve_status_words(obj: GroupBinding) -> str:
        return overview.status_words(obj)


class DeleteAccount(Schema):
    model_config = ConfigDict(extra="forbid")

    confirm: bool = Field(description="Must be true: the account goes to Microsoft 365's 30-day recycle bin.")


class DeletedAccountOut(Schema):
    remote_id: str
    user_principal_name: str
    deleted_at: datetime
    restorable_until: datetime
    message: str


# --- bindings ----------------------------------------------------------------------------------------


def _user_binding(actor: Actor, user_id: int, directory_id: int) -> UserBinding:
    user = user_services.get_user(actor=actor, user_id=user_id)
    directory = get_directory(actor=actor, directory_id=directory_id)
    binding = (
        UserBinding.objects.filter(directory=directory, user=user)
        .select_related("directory", "user__organization")
        .first()
    )
    if binding is None:
        raise NotFound("binding", f"{user_id}@{directory_id}")
    return binding


@router.get(
    "/users/{int:user_id}/bindings",
    response={200: list[UserBindingOut], **error_responses(404)},
    summary="A user's directories with the per-directory sync status",
)
def user_bindings(request: HttpRequest, user_id: int) -> list[UserBinding]:
    user = user_services.get_user(actor=actor_of(request), user_id=user_id)
    return list(
        UserBinding.objects.filter(user=user)
        .select_related("directory", "user__organization")
        .order_by("directory__name")
    )


@router.post(
    "/users/{int:user_id}/bindings",
    response={201: UserBindingOut, **error_responses(403, 404, 409, 422)},
    summary="Bind a user to a directory",
    description="Refused (409) unless the company email is on a verified domain of the tenant.",
)
def bind(request: HttpRequest, user_id: int, payload: DirectoryRef) -> Status[UserBinding]:
    actor = writer(request)
    binding = bind_user(actor=actor, user_id=user_id, directory_id=payload.directory_id)
    return Status(
        201, UserBinding.objects.select_related("directory", "user__organization").get(pk=binding.pk)
    )


@router.get(
    "/users/{int:user_id}/bindings/{int:directory_id}",
    response={200: UserBindingOut, **error_responses(404)},
    summary="A user's binding to one directory",
)
def user_binding(request: HttpRequest, user_id: int, directory_id: int) -> UserBinding:
    return _user_binding(actor_of(request), user_id, directory_id)


@router.delete(
    "/users/{int:user_id}/bindings/{int:directory_id}",
    response={204: None, **error_responses(403, 404)},
    summary="Unbind a user (blocks Microsoft 365 sign-in and revokes sessions; the account stays)",
)
def unbind(request: HttpRequest, user_id: int, directory_id: int) -> HttpResponse:
    actor = writer(request)
    unbind_user(actor=actor, user_id=user_id, directory_id=directory_id)
    return HttpResponse(status=204)


@router.post(
    "/users/{int:user_id}/bindings/{int:directory_id}/delete-account",
    response={200: DeletedAccountOut, **error_responses(403, 404, 409, 422)},
    summary="Delete the user's Microsoft 365 account (explicit; 30-day recycle bin)",
    description="Microsoft 365 keeps the deleted account in its recycle bin for 30 days, restorable; "
    "then it is purged. The Lockstep user stays and is unbound from this directory.",
)
def delete_account(request: HttpRequest, user_id: int, directory_id: int, payload: DeleteAccount) -> Any:
    actor = writer(request)
    user_services.get_user(actor=actor, user_id=user_id)
    return accounts.delete_remote_account(
        actor=actor, user_id=user_id, directory_id=directory_id, confirm=payload.confirm
    )


@router.post(
    "/users/{int:user_id}/bindings/{int:directory_id}/restore",
    response={200: UserBindingOut, **error_responses(403, 404, 409)},
    summary="Restore the deleted Microsoft 365 account offered for this binding and adopt it",
)
def restore(request: HttpRequest, user_id: int, directory_id: int) -> UserBinding:
    actor = writer(request)
    binding = _user_binding(actor, user_id, directory_id)
    accounts.restore_remote_account(actor=actor, binding_id=binding.pk)
    return UserBinding.objects.select_related("directory", "user__organization").get(pk=binding.pk)


@router.get(
    "/groups/{int:group_id}/bindings",
    response={200: list[GroupBindingOut], **error_responses(404)},
    summary="A group's directories with the per-directory sync status",
)
def group_bindings(request: HttpRequest, group_id: int) -> list[GroupBinding]:
    group = group_services.get_group(actor=actor_of(request), group_id=group_id)
    return list(
        GroupBinding.objects.filter(group=group).select_related("directory").order_by("directory__name")
    )


@router.post(
    "/groups/{int:group_id}/bindings",
    response={201: GroupBindingOut, **error_responses(403, 404, 409, 422)},
    summary="Bind a group to a directory (it becomes a security group there)",
)
def bind_a_group(request: HttpRequest, group_id: int, payload: DirectoryRef) -> Status[GroupBinding]:
    actor = writer(request)
    binding = bind_group(actor=actor, group_id=group_id, directory_id=payload.directory_id)
    return Status(201, GroupBinding.objects.select_related("directory").get(pk=binding.pk))


@router.delete(
    "/groups/{int:group_id}/bindings/{int:directory_id}",
    response={204: None, **error_responses(403, 404, 409)},
    summary="Unbind a group (Lockstep stops managing it; the security group stays in Microsoft 365)",
    description="Security groups deleted in Microsoft 365 cannot be restored, so unbinding never "
    "deletes the group or changes its members there. 409 while a worker is syncing the group.",
)
def unbind_a_group(request: HttpRequest, group_id: int, directory_id: int) -> HttpResponse:
    actor = writer(request)
    unbind_group(actor=actor, group_id=group_id, directory_id=directory_id)
    return HttpResponse(status=204)

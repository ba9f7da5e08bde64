"""/directories: Microsoft 365 directories, their health, settings, held writes, pending writes and
bindings of users and groups (SPEC 2.1, 2.3, 2.4, 2.6, 2.7)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, TypeVar

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from lockstep.api.auth import actor_of
from lockstep.api.errors import error_responses
from lockstep.api.pagination import BY_NAME, DEFAULT_LIMIT, MAX_LIMIT, paginate
from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict, NotFound, ValidationFailed
from lockstep.directory.services import groups as group_services
from lockstep.directory.services import users as user_services
from lockstep.m365 import health as sync_health
from lockstep.m365 import overview
from lockstep.m365.credentials import certificate_thumbprint
from lockstep.m365.graph.errors import GraphError
from lockstep.m365.models import Directory, GroupBinding, SyncStatus, UserBinding
from lockstep.m365.services import accounts, brake, deactivate, directories
from lockstep.m365.services.bindings import bind_group, bind_user, get_directory, unbind_user

router = Router(tags=["directories"])

T = TypeVar("T")

CloudName = Literal["global", "us_gov", "us_dod", "china", "custom"]
HealthName = Literal["unknown", "ok", "degraded", "red"]
StatusName = Literal["pending", "synced", "waiting_login", "error", "not_synced", "held", "restore_offered"]
MAX_HELD_IDS = 1000


def writer(request: HttpRequest) -> Actor:
    """The caller, who must be allowed to write (checked before anything else is looked at)."""
    actor = actor_of(request)
    actor.require_write()
    return actor


def graph(call: Callable[[], T], field: str = "directory_id") -> T:
    """Run a call that talks to Microsoft 365; a Graph failure becomes a 409 in plain words."""
    try:
        return call()
    except GraphError as error:
        raise Conflict(field, error.plain_words or error.message or str(error)) from None


# --- schemas ---------------------------------------------------------------------------------------


class DomainOut(Schema):
    name: str
    is_verified: bool
    is_default: bool
    is_initial: bool
    authentication_type: str = Field(description="Managed or Federated.")


class VerificationOut(Schema):
    token_ok: bool
    token_error: str = ""
    granted_permissions: list[str] = []
    missing_permissions: list[str] = Field(
        default=[], description="Each application permission still missing."
    )
    roles: list[str] = Field(default=[], description="Directory roles of the app's service principal.")
    missing_roles: list[str] = []
    default_domain: str = ""
    federated_domains: list[str] = []
    is_godaddy: bool = False
    godaddy_signals: list[str] = []
    problems: list[str] = Field(default=[], description="What to fix, in plain words.")
    access_denied: bool = False
    pending: list[str] = Field(
        default=[], description="Granted but not yet in Microsoft's tokens (may take a few minutes)."
    )
    disabled_features: list[str] = Field(
        default=[], description="What the missing permissions and roles disable; everything else works."
    )


class DirectoryOut(Schema):
    id: int
    name: str
    tenant_id: str
    client_id: str
    credential_kind: Literal["secret", "certificate"]
    has_certificate: bool = Field(
        description="A generated certificate is in use (its private key never leaves Lockstep)."
    )
    cloud: CloudName
    login_base_url: str
    graph_base_url: str
    sync_enabled: bool
    godaddy_override: bool
    health: HealthName
    health_reason: str
    verified_at: datetime | None
    verification: VerificationOut | None
    domains: list[DomainOut]
    managed_attributes: list[str]
    brake_count: int
    brake_percent: int
    brake_window_minutes: int
    created_at: datetime

    certificate_thumbprint: str = Field(
        description="SHA-1 thumbprint of the generated certificate, as Entra shows it (empty: none)."
    )

    @staticmethod
    def resolve_has_certificate(obj: Directory) -> bool:
        return bool(obj.certificate_pem)

    @staticmethod
    def resolve_certificate_thumbprint(obj: Directory) -> str:
        return certificate_thumbprint(obj.certificate_pem) if obj.certificate_pem else ""

    @staticmethod
    def resolve_verification(obj: Directory) -> dict[str, Any] | None:
        return overview.verification_view(obj) or None

    @staticmethod
    def resolve_domains(obj: Directory) -> list[Any]:
        return list(obj.domains.order_by("-is_default", "name"))

    @staticmethod
    def resolve_managed_attributes(obj: Directory) -> list[str]:
        return obj.managed()


class DirectoryPageOut(Schema):
    items: list[DirectoryOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class DirectoryCreate(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(json_schema_extra={"maxLength": 100})
    tenant_id: str
    client_id: str
    credential_kind: Literal["secret", "certificate"] = Field(
        "secret", description="certificate: Lockstep generates the key pair and returns the certificate once."
    )
    client_secret: str | None = Field(None, description="For credential_kind secret. Never returned.")
    cloud: CloudName = "global"
    login_base_url: str | None = Field(None, description="Custom endpoints only (https://...).")
    graph_base_url: str | None = Field(None, description="Custom endpoints only (https://.../v1.0).")
    godaddy_override: bool = Field(False, description="Override GoDaddy detection explicitly.")


class DirectoryCreated(Schema):
    directory: DirectoryOut
    certificate_pem: str = Field(
        description="The generated certificate to upload to the app registration, returned only now "
        "(empty for a client secret)."
    )
    consent_url: str = Field(description="The admin-consent link for the app.")


class SettingsUpdate(Schema):
    model_config = ConfigDict(extra="forbid")

    managed_attributes: list[str] | None = Field(None, description="Graph user properties Lockstep manages.")
    brake_count: int | None = Field(None, description="Hold disables beyond this many accounts...")
    brake_percent: int | None = Field(None, description="...and beyond this percentage of bound accounts...")
    brake_window_minutes: int | None = Field(
        None, description="...within any this many minutes (a sliding window; default 10)."
    )


class BindingErrorOut(Schema):
    kind: Literal["user", "group"]
    object_id: int | None
    label: str
    message: str = Field(description="The last error in plain words.")
    advice: str = Field(description="What to do about it.")
    code: str
    changed_at: datetime


class HealthOut(Schema):
    directory_id: int
    name: str
    health: HealthName
    health_reason: str
    sync_enabled: bool
    last_verified: datetime | None
    users_bound: int
    groups_bound: int
    queue_depth: int = Field(description="Bindings with a change not yet written.")
    oldest_pending_age_seconds: float = Field(description="Age of the oldest pending change (0: none).")
    error_count: int = Field(description="Bindings whose last write Microsoft 365 refused.")
    held_count: int = Field(description="Writes held by the deletion brake, waiting for an admin.")
    restore_offered_count: int
    budget_in_use: dict[str, float] = Field(
        description="Share of the Graph budget spent now (0 idle, 1 exhausted)."
    )
    statuses: dict[str, int] = Field(description="Bindings per sync status.")
    recent_errors: list[BindingErrorOut]


class BindingHealthOut(Schema):
    kind: Literal["user", "group"]
    binding_id: int
    directory_id: int
    name: str
    remote_id: str
    status: StatusName
    last_error: str
    what_to_do: str
    pending_since: datetime | None
    synced_at: datetime | None
    kept_enabled: bool


class Deactivate(Schema):
    model_config = ConfigDict(extra="forbid")

    confirmation: str = Field(description="The directory's name, typed exactly.")


class DeactivatedOut(Schema):
    user_bindings: int
    group_bindings: int
    held_writes: int
    import_batches: int


class ConsentOut(Schema):
    url: str


class PendingWriteOut(Schema):
    kind: Literal["user", "group"]
    object_id: int | None
    label: str
    status: str
    operation: str
    description: str = Field(description="Method, URL and body; passwords are never shown.")


class PlanOut(Schema):
    total: int
    writes: list[PendingWriteOut]


class HeldOut(Schema):
    id: int
    binding_id: int
    user_id: int | None
    username: str
    email: str
    user_principal_name: str
    operation: str
    reason: str
    created_at: datetime


class HeldIds(Schema):
    model_config = ConfigDict(extra="forbid")

    held_ids: list[int] = Field(min_length=1, max_length=MAX_HELD_IDS)


class Decided(Schema):
    decided: int


class DirectoryRef(Schema):
    model_config = ConfigDict(extra="forbid")

    directory_id: int


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

    @staticmethod
    def resolve_directory_name(obj: UserBinding) -> str:
        return obj.directory.name

    @staticmethod
    def resolve_status(obj: UserBinding) -> str:
        return sync_health.user_binding_health(obj).status

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


# --- directories -------------------------------------------------------------------------------------


def _loaded(directory: Directory) -> Directory:
    directory.refresh_from_db()
    return directory


@router.get(
    "/directories", response={200: DirectoryPageOut, **error_responses(422)}, summary="List directories"
)
def list_directories(
    request: HttpRequest, cursor: str | None = None, limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
) -> dict[str, Any]:
    queryset = directories.list_directories(actor=actor_of(request))
    page = paginate(queryset, BY_NAME, cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post(
    "/directories",
    response={201: DirectoryCreated, **error_responses(403, 409, 422)},
    summary="Add a directory (verified at once)",
    description="With a client secret (never returned) or a certificate Lockstep generates (returned "
    "once as `certificate_pem`). A GoDaddy-operated tenant, or a domain another directory already "
    "serves, answers 409 with the reason.",
)
def create_directory(request: HttpRequest, payload: DirectoryCreate) -> Status[dict[str, Any]]:
    actor = writer(request)
    fields = {k: v for k, v in payload.model_dump(exclude_unset=True).items() if v is not None}
    directory, certificate_pem = graph(lambda: directories.add_directory(actor=actor, fields=fields))
    return Status(
        201,
        {
            "directory": _loaded(directory),
            "certificate_pem": certificate_pem,
            "consent_url": directories.consent_url(
                directory, _consent_redirect(request, directory), _state(directory)
            ),
        },
    )


def _state(directory: Directory) -> str:
    return f"lockstep-directory-{directory.pk}"


def _consent_redirect(request: HttpRequest, directory: Directory) -> str:
    return request.build_absolute_uri(f"/directories/{directory.pk}/")


@router.get(
    "/directories/{int:directory_id}",
    response={200: DirectoryOut, **error_responses(404)},
    summary="Get a directory",
)
def get_one(request: HttpRequest, directory_id: int) -> Directory:
    return get_directory(actor=actor_of(request), directory_id=directory_id)


@router.post(
    "/directories/{int:directory_id}/verify",
    response={200: DirectoryOut, **error_responses(403, 404, 409)},
    summary="Verify a directory now",
    description="Token, each missing permission, the app's roles, the domains; the result is stored.",
)
def verify(request: HttpRequest, directory_id: int) -> Directory:
    actor = writer(request)
    directory = get_directory(actor=actor, directory_id=directory_id)
    graph(lambda: directories.verify_directory(actor=actor, directory_id=directory.pk))
    return _loaded(directory)


@router.get(
    "/directories/{int:directory_id}/health",
    response={200: HealthOut, **error_responses(404)},
    summary="Sync health: queue depth, oldest pending change, errors, budget in use",
)
def health(request: HttpRequest, directory_id: int) -> dict[str, Any]:
    directory = get_directory(actor=actor_of(request), directory_id=directory_id)
    summary = overview.summary(directory)
    return {
        **dataclasses.asdict(summary.health),
        "users_bound": summary.users_bound,
        "groups_bound": summary.groups_bound,
        "recent_errors": overview.recent_errors(directory),
    }


@router.get(
    "/directories/{int:directory_id}/bindings",
    response={200: list[BindingHealthOut], **error_responses(404, 422)},
    summary="Per-binding sync status of a directory's users and groups, with what to do",
)
def binding_statuses(
    request: HttpRequest,
    directory_id: int,
    problems_only: bool = Query(
        False, description="Only bindings in error, held, restore offered or not synced."
    ),
    limit: int = Query(500, ge=1, le=5000),
) -> list[Any]:
    return sync_health.list_binding_health(
        actor=actor_of(request), directory_id=directory_id, problems_only=problems_only, limit=limit
    )


@router.get(
    "/directories/{int:directory_id}/consent-link",
    response={200: ConsentOut, **error_responses(404, 422)},
    summary="The admin-consent link for the app",
)
def consent_link(
    request: HttpRequest,
    directory_id: int,
    redirect_uri: str | None = Query(
        None, description="Where Microsoft sends the admin back (default: the portal page)."
    ),
) -> dict[str, str]:
    directory = get_directory(actor=actor_of(request), directory_id=directory_id)
    target = redirect_uri or _consent_redirect(request, directory)
    return {"url": directories.consent_url(directory, target, _state(directory))}


@router.patch(
    "/directories/{int:directory_id}/settings",
    response={200: DirectoryOut, **error_responses(403, 404, 422)},
    summary="Managed attributes and deletion-brake thresholds (only the fields sent)",
)
def update_settings(request: HttpRequest, directory_id: int, payload: SettingsUpdate) -> Directory:
    actor = writer(request)
    directory = get_directory(actor=actor, directory_id=directory_id)
    values = payload.model_dump(exclude_unset=True)
    if {"brake_count", "brake_percent", "brake_window_minutes"} & set(values):
        count = values.get("brake_count")
        percent = values.get("brake_percent")
        brake.set_brake(
            actor=actor,
            directory_id=directory.pk,
            count=directory.brake_count if count is None else count,
            percent=directory.brake_percent if percent is None else percent,
            window_minutes=values.get("brake_window_minutes"),
        )
    if values.get("managed_attributes") is not None:
        accounts.set_managed_attributes(
            actor=actor, directory_id=directory.pk, attributes=values["managed_attributes"]
        )
    return _loaded(directory)


@router.get(
    "/directories/{int:directory_id}/settings/managed-attributes/preview",
    response={200: PlanOut, **error_responses(404, 422)},
    summary="Preview the writes a change of the managed attributes causes",
    description="Pass the proposed set as `attributes`, comma-separated; nothing is saved.",
)
def preview_managed(
    request: HttpRequest,
    directory_id: int,
    attributes: str = Query("", description="The proposed managed attributes, comma-separated."),
    limit: int = Query(1000, ge=1, le=10_000),
) -> dict[str, Any]:
    directory = get_directory(actor=actor_of(request), directory_id=directory_id)
    proposed = [a.strip() for a in attributes.split(",") if a.strip()]
    unknown = [a for a in proposed if a not in accounts.MANAGEABLE_ATTRIBUTES]
    if unknown:
        raise ValidationFailed(
            {
                "attributes": [
                    f"Unknown or unmanageable: {', '.join(unknown)}. Choose from: {', '.join(accounts.MANAGEABLE_ATTRIBUTES)}."
                ]
            }
        )
    writes, total = overview.managed_change_writes(directory, proposed, limit=limit)
    return {"total": total, "writes": writes}


@router.get(
    "/directories/{int:directory_id}/plan",
    response={200: PlanOut, **error_responses(404)},
    summary="The pending Microsoft 365 writes (plan preview; no passwords)",
)
def plan(
    request: HttpRequest, directory_id: int, limit: int = Query(1000, ge=1, le=10_000)
) -> dict[str, Any]:
    directory = get_directory(actor=actor_of(request), directory_id=directory_id)
    writes, total = overview.pending_writes(directory, limit=limit)
    return {"total": total, "writes": writes}


@router.get(
    "/directories/{int:directory_id}/export",
    response={200: None, **error_responses(404)},
    summary="Export the directory's bindings as CSV",
    description="Users and groups with their remote ids, status and last error (`text/csv`).",
)
def export(request: HttpRequest, directory_id: int) -> HttpResponse:
    actor = actor_of(request)
    directory = get_directory(actor=actor, directory_id=directory_id)
    text = deactivate.export_bindings(actor=actor, directory_id=directory.pk)
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="directory-{directory.pk}-bindings.csv"'
    return response


@router.post(
    "/directories/{int:directory_id}/deactivate",
    response={200: DeactivatedOut, **error_responses(403, 404, 422)},
    summary="Deactivate a directory: delete everything Lockstep holds for it (typed confirmation)",
    description="Bindings, remote ids, credentials and sync history are deleted permanently; Microsoft "
    "365 is left untouched. Reactivating starts from nothing. Export the bindings first.",
)
def deactivate_directory(request: HttpRequest, directory_id: int, payload: Deactivate) -> dict[str, int]:
    actor = writer(request)
    return deactivate.deactivate_directory(
        actor=actor, directory_id=directory_id, typed_confirmation=payload.confirmation
    )


# --- deletion brake ---------------------------------------------------------------------------------


@router.get(
    "/directories/{int:directory_id}/held-writes",
    response={200: list[HeldOut], **error_responses(404)},
    summary="Writes held by the deletion brake",
)
def held(request: HttpRequest, directory_id: int) -> list[Any]:
    return brake.list_held(actor=actor_of(request), directory_id=directory_id)


@router.post(
    "/directories/{int:directory_id}/held-writes/approve",
    response={200: Decided, **error_responses(403, 404, 422)},
    summary="Approve held writes (they go out on the next pass)",
)
def approve(request: HttpRequest, directory_id: int, payload: HeldIds) -> dict[str, int]:
    actor = writer(request)
    return {"decided": brake.approve_held(actor=actor, directory_id=directory_id, held_ids=payload.held_ids)}


@router.post(
    "/directories/{int:directory_id}/held-writes/reject",
    response={200: Decided, **error_responses(403, 404, 422)},
    summary="Reject held writes (the accounts stay enabled until the user's next change)",
)
def reject(request: HttpRequest, directory_id: int, payload: HeldIds) -> dict[str, int]:
    actor = writer(request)
    return {"decided": brake.reject_held(actor=actor, directory_id=directory_id, held_ids=payload.held_ids)}


# --- bindings ----------------------------------------------------------------------------------------


def _user_binding(actor: Actor, user_id: int, directory_id: int) -> UserBinding:
    user = user_services.get_user(actor=actor, user_id=user_id)
    directory = get_directory(actor=actor, directory_id=directory_id)
    binding = UserBinding.objects.filter(directory=directory, user=user).select_related("directory").first()
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
    return list(UserBinding.objects.filter(user=user).select_related("directory").order_by("directory__name"))


@router.post(
    "/users/{int:user_id}/bindings",
    response={201: UserBindingOut, **error_responses(403, 404, 409, 422)},
    summary="Bind a user to a directory",
    description="Refused (409) unless the company email is on a verified domain of the tenant.",
)
def bind(request: HttpRequest, user_id: int, payload: DirectoryRef) -> Status[UserBinding]:
    actor = writer(request)
    binding = bind_user(actor=actor, user_id=user_id, directory_id=payload.directory_id)
    return Status(201, UserBinding.objects.select_related("directory").get(pk=binding.pk))


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
    return graph(
        lambda: accounts.delete_remote_account(
            actor=actor, user_id=user_id, directory_id=directory_id, confirm=payload.confirm
        ),
        "user_id",
    )


@router.post(
    "/users/{int:user_id}/bindings/{int:directory_id}/restore",
    response={200: UserBindingOut, **error_responses(403, 404, 409)},
    summary="Restore the deleted Microsoft 365 account offered for this binding and adopt it",
)
def restore(request: HttpRequest, user_id: int, directory_id: int) -> UserBinding:
    actor = writer(request)
    binding = _user_binding(actor, user_id, directory_id)
    graph(lambda: accounts.restore_remote_account(actor=actor, binding_id=binding.pk), "binding_id")
    return UserBinding.objects.select_related("directory").get(pk=binding.pk)


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

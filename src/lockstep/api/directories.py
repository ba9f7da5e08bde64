"""/directories: Microsoft 365 directories, their health, settings, held writes and pending writes
(SPEC 2.1, 2.4, 2.6, 2.7). The bindings of users and groups are in api/bindings.py."""

from __future__ import annotations

import dataclasses
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Status

from lockstep.api.auth import actor_of, writer
from lockstep.api.directory_schemas import (
    BindingHealthOut,
    ConsentOut,
    Deactivate,
    DeactivatedOut,
    Decided,
    DirectoryCreate,
    DirectoryCreated,
    DirectoryOut,
    DirectoryPageOut,
    HealthOut,
    HeldIds,
    HeldOut,
    PlanOut,
    SettingsUpdate,
)
from lockstep.api.errors import error_responses
from lockstep.api.pagination import BY_NAME, DEFAULT_LIMIT, MAX_LIMIT, paginate
from lockstep.directory.errors import ValidationFailed
from lockstep.m365 import health as sync_health
from lockstep.m365 import overview, write_plans
from lockstep.m365.models import Directory
from lockstep.m365.services import accounts, brake, deactivate, directories
from lockstep.m365.services.bindings import get_directory

router = Router(tags=["directories"])


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
    directory, certificate_pem = directories.add_directory(actor=actor, fields=fields)
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
    response={200: DirectoryOut, 202: DirectoryOut, **error_responses(403, 404, 409, 429)},
    summary="Verify a directory now",
    description="Token, each missing permission, the app's roles, the domains; the result is stored. "
    "200: verified, the result is in `verification`. 202: Microsoft 365 did not answer within a few "
    "seconds (LOCKSTEP_VERIFY_WAIT_SECONDS); the verification goes on in the background "
    "(`verification_running`) and its result replaces `verification` when it ends. 429: the "
    "organization already runs its limit of verifications (LOCKSTEP_VERIFY_PER_ORGANIZATION).",
)
def verify(request: HttpRequest, directory_id: int) -> Status:
    actor = writer(request)
    directory = get_directory(actor=actor, directory_id=directory_id)
    report = directories.verify_directory(
        actor=actor, directory_id=directory.pk, wait=settings.M365_VERIFY_WAIT_SECONDS
    )
    return Status(200 if report is not None else 202, _loaded(directory))


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
    writes, total = write_plans.managed_change_writes(directory, proposed, limit=limit)
    return {"total": total, "writes": writes}


@router.get(
    "/directories/{int:directory_id}/plan",
    response={200: PlanOut, **error_responses(404, 422)},
    summary="The pending Microsoft 365 writes (plan preview; no passwords)",
)
def plan(
    request: HttpRequest, directory_id: int, limit: int = Query(1000, ge=1, le=10_000)
) -> dict[str, Any]:
    directory = get_directory(actor=actor_of(request), directory_id=directory_id)
    writes, total = write_plans.pending_writes(directory, limit=limit)
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

"""/users: directory users, their state transitions and passwords."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from django.db.models import Prefetch, prefetch_related_objects
from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from lockstep.api.auth import actor_of
from lockstep.api.errors import error_responses
from lockstep.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, check_user_cursor
from lockstep.directory import models as m
from lockstep.directory.models import Group, User
from lockstep.directory.services import user_queries
from lockstep.directory.services import users as user_services
from lockstep.m365 import list_status
from lockstep.portal.services import emails, readiness

router = Router(tags=["users"])

StateName = Literal["staged", "active", "suspended"]
M365StatusName = Literal["unbound", "pending", "synced", "error", "held", "not_synced"]
M365_STATUS_QUERY = Query(
    None, description="Microsoft 365 status of any of the user's bindings (in `directory_id` if given)."
)


def _limit(n: int) -> Any:
    """Documents Graph's length limit in OpenAPI; the service enforces it with every other rule."""
    return {"maxLength": n}


class LastEmailOut(Schema):
    kind: Literal["activation", "welcome", "added_to_directory", "password_reset", "password_changed", "test"]
    status: Literal["queued", "retrying", "sent", "failed"]
    status_words: str
    at: datetime = Field(description="When the email was queued.")


def _sign_in(obj: User) -> tuple[bool, str]:
    if not hasattr(obj, "_sign_in"):
        obj._sign_in = readiness.can_sign_in(obj)  # type: ignore[attr-defined]
    return obj._sign_in  # type: ignore[attr-defined,no-any-return]


class UserOut(Schema):
    id: int
    immutable_id: str = Field(
        description="Stable, never reused; the SAML NameID and Entra onPremisesImmutableId."
    )
    username: str
    email: str = Field(description="Company (primary) email; becomes the Microsoft 365 userPrincipalName.")
    alternate_email: str
    first_name: str
    last_name: str
    display_name: str
    job_title: str
    department: str
    business_phone: str
    mobile_phone: str
    employee_id: str
    usage_location: str
    state: StateName
    has_password: bool
    password_setup: Literal["initial", "activation"]
    password_changed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    group_ids: list[int]
    can_sign_in: bool = Field(
        description="Whether the user can sign in to the User Portal now: active, has a password, not locked."
    )
    sign_in_words: str = Field(description="Why not, in plain words (or 'Yes.').")
    last_email: LastEmailOut | None = Field(description="The newest email sent to the user; null if none.")

    @staticmethod
    def resolve_group_ids(obj: User) -> list[int]:
        return sorted(group.pk for group in obj.groups.all())

    @staticmethod
    def resolve_can_sign_in(obj: User) -> bool:
        return _sign_in(obj)[0]

    @staticmethod
    def resolve_sign_in_words(obj: User) -> str:
        return _sign_in(obj)[1]

    @staticmethod
    def resolve_last_email(obj: User) -> emails.LastEmail | None:
        if not hasattr(obj, "_last_email"):
            obj._last_email = emails.last_emails([obj.pk]).get(obj.pk)  # type: ignore[attr-defined]
        return obj._last_email  # type: ignore[attr-defined,no-any-return]


class UserPageOut(Schema):
    items: list[UserOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class UserFields(Schema):
    """Attributes shared by create and update (Graph's limits apply)."""

    model_config = ConfigDict(extra="forbid")

    alternate_email: str | None = Field(None, json_schema_extra=_limit(254))
    first_name: str | None = Field(None, json_schema_extra=_limit(m.GIVEN_NAME_MAX))
    last_name: str | None = Field(None, json_schema_extra=_limit(m.SURNAME_MAX))
    display_name: str | None = Field(
        None,
        json_schema_extra=_limit(m.DISPLAY_NAME_MAX),
        description="Defaults to first and last name, or the username.",
    )
    job_title: str | None = Field(None, json_schema_extra=_limit(m.JOB_TITLE_MAX))
    department: str | None = Field(None, json_schema_extra=_limit(m.DEPARTMENT_MAX))
    business_phone: str | None = Field(None, json_schema_extra=_limit(m.PHONE_MAX))
    mobile_phone: str | None = Field(None, json_schema_extra=_limit(m.PHONE_MAX))
    employee_id: str | None = Field(None, json_schema_extra=_limit(m.EMPLOYEE_ID_MAX))
    usage_location: str | None = Field(None, description="Two-letter country code, e.g. US.")


class UserCreate(UserFields):
    username: str = Field(json_schema_extra=_limit(m.USERNAME_MAX))
    email: str = Field(json_schema_extra=_limit(m.EMAIL_MAX))
    state: StateName = "staged"
    initial_password: str | None = Field(
        None,
        description="Set a first password now (Password Settings: 'specify initial password'); "
        "leave out to send an activation email later.",
    )


class UserUpdate(UserFields):
    username: str | None = Field(None, json_schema_extra=_limit(m.USERNAME_MAX))
    email: str | None = Field(None, json_schema_extra=_limit(m.EMAIL_MAX))


class StateChange(Schema):
    model_config = ConfigDict(extra="forbid")

    state: StateName = Field(
        description="staged → active | suspended; active → suspended; suspended → active."
    )


class PasswordSet(Schema):
    model_config = ConfigDict(extra="forbid")

    password: str


def with_group_ids(users: Sequence[User]) -> list[User]:
    """Load every user's group ids, sign-in readiness and last email in one query each (no N+1)."""
    items = list(users)
    prefetch_related_objects(items, Prefetch("groups", queryset=Group.objects.only("id")))
    ready = readiness.for_users(items)
    last = emails.last_emails([user.pk for user in items])
    for user in items:
        user._sign_in = ready[user.pk]  # type: ignore[attr-defined]
        user._last_email = last.get(user.pk)  # type: ignore[attr-defined]
    return items


def _one(user: User) -> User:
    return with_group_ids([user])[0]


@router.post("/users", response={201: UserOut, **error_responses(403, 409, 422)}, summary="Create a user")
def create_user(request: HttpRequest, payload: UserCreate) -> Status[User]:
    values = payload.model_dump(exclude_unset=True)
    state = values.pop("state", m.UserState.STAGED)
    initial_password = values.pop("initial_password", None)
    user = user_services.create_user(
        actor=actor_of(request), fields=values, state=state, initial_password=initial_password
    )
    return Status(201, _one(user))


@router.get("/users", response={200: UserPageOut, **error_responses(422)}, summary="List users")
def list_users(
    request: HttpRequest,
    state: StateName | None = None,
    email: str | None = Query(None, description="Exact company email."),
    group_id: int | None = Query(None, ge=1, description="Only members of this group."),
    search: str | None = Query(
        None, description="Any part of the username, display, first or last name or email, any case."
    ),
    department: str | None = Query(None, description="Exact department."),
    domain: str | None = Query(None, description="Company email domain, e.g. contoso.com."),
    m365_status: M365StatusName | None = M365_STATUS_QUERY,
    directory_id: int | None = Query(None, ge=1, description="With `m365_status`: in this directory only."),
    cursor: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    check_user_cursor(cursor)
    actor = actor_of(request)
    queryset = user_queries.filter_users(
        actor=actor,
        state=state,
        email=email,
        group_id=group_id,
        search=search,
        department=department,
        domain=domain,
    )
    if m365_status or directory_id is not None:
        queryset = list_status.filter_users(
            queryset, organization_id=actor.organization_id, status=m365_status, directory_id=directory_id
        )
    page = user_queries.page_after(queryset, cursor=cursor or None, limit=limit)
    return {"items": with_group_ids(page.items), "next_cursor": page.next_cursor}


@router.get("/users/{int:user_id}", response={200: UserOut, **error_responses(404)}, summary="Get a user")
def get_user(request: HttpRequest, user_id: int) -> User:
    return _one(user_services.get_user(actor=actor_of(request), user_id=user_id))


@router.patch(
    "/users/{int:user_id}",
    response={200: UserOut, **error_responses(403, 404, 409, 422)},
    summary="Update a user (only the fields sent)",
)
def update_user(request: HttpRequest, user_id: int, payload: UserUpdate) -> User:
    user = user_services.update_user(
        actor=actor_of(request), user_id=user_id, changes=payload.model_dump(exclude_unset=True)
    )
    return _one(user)


@router.delete(
    "/users/{int:user_id}", response={204: None, **error_responses(403, 404)}, summary="Delete a user"
)
def delete_user(request: HttpRequest, user_id: int) -> HttpResponse:
    user_services.delete_user(actor=actor_of(request), user_id=user_id)
    return HttpResponse(status=204)


@router.post(
    "/users/{int:user_id}/state",
    response={200: UserOut, **error_responses(403, 404, 409, 422)},
    summary="Change a user's state (activate, suspend, unsuspend)",
    description="A transition that is not allowed answers 409 with the allowed target states in "
    "`error.allowed`.",
)
def change_state(request: HttpRequest, user_id: int, payload: StateChange) -> User:
    user = user_services.change_state(actor=actor_of(request), user_id=user_id, to_state=payload.state)
    return _one(user)


@router.post(
    "/users/{int:user_id}/password",
    response={200: UserOut, **error_responses(403, 404, 422)},
    summary="Set a user's password",
    description="A password that breaks the policy answers 422 listing every broken rule under "
    "`error.fields.password`.",
)
def set_password(request: HttpRequest, user_id: int, payload: PasswordSet) -> User:
    user = user_services.set_password(actor=actor_of(request), user_id=user_id, password=payload.password)
    return _one(user)

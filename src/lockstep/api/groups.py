"""/groups: security groups and their members."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from lockstep.api.auth import actor_of
from lockstep.api.errors import error_responses, json_error
from lockstep.api.pagination import BY_NAME, BY_USERNAME, DEFAULT_LIMIT, MAX_LIMIT, paginate
from lockstep.api.users import UserPageOut, with_group_ids
from lockstep.directory import models as m
from lockstep.directory.models import Group
from lockstep.directory.services import groups as group_services
from lockstep.directory.services import users as user_services

router = Router(tags=["groups"])

MAX_IDS = 1000


class GroupOut(Schema):
    id: int
    name: str
    description: str
    member_count: int
    created_at: datetime
    updated_at: datetime


class GroupPageOut(Schema):
    items: list[GroupOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class GroupCreate(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(json_schema_extra={"maxLength": m.GROUP_NAME_MAX})
    description: str = Field("", json_schema_extra={"maxLength": 1024})


class GroupUpdate(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, json_schema_extra={"maxLength": m.GROUP_NAME_MAX})
    description: str | None = Field(None, json_schema_extra={"maxLength": 1024})


class MemberIds(Schema):
    model_config = ConfigDict(extra="forbid")

    user_ids: list[int] = Field(min_length=1, max_length=MAX_IDS)


class MembersAdded(Schema):
    added: list[int] = Field(description="Users that became members (those already members are skipped).")


class MembersRemoved(Schema):
    removed: list[int] = Field(description="Users that were members and no longer are.")


def _counted(group: Group) -> Group:
    group.member_count = group.members.count()  # type: ignore[attr-defined]
    return group


@router.post("/groups", response={201: GroupOut, **error_responses(403, 409, 422)}, summary="Create a group")
def create_group(request: HttpRequest, payload: GroupCreate) -> Status[Group]:
    group = group_services.create_group(actor=actor_of(request), fields=payload.model_dump())
    return Status(201, _counted(group))


@router.get("/groups", response={200: GroupPageOut, **error_responses(422)}, summary="List groups")
def list_groups(
    request: HttpRequest,
    search: str | None = Query(None, description="Part of the name."),
    cursor: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    queryset = group_services.list_groups(actor=actor_of(request), search=search).annotate(
        member_count=Count("members")
    )
    page = paginate(queryset, BY_NAME, cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.get("/groups/{int:group_id}", response={200: GroupOut, **error_responses(404)}, summary="Get a group")
def get_group(request: HttpRequest, group_id: int) -> Group:
    return _counted(group_services.get_group(actor=actor_of(request), group_id=group_id))


@router.patch(
    "/groups/{int:group_id}",
    response={200: GroupOut, **error_responses(403, 404, 409, 422)},
    summary="Update a group (only the fields sent)",
)
def update_group(request: HttpRequest, group_id: int, payload: GroupUpdate) -> Group:
    group = group_services.update_group(
        actor=actor_of(request), group_id=group_id, changes=payload.model_dump(exclude_unset=True)
    )
    return _counted(group)


@router.delete(
    "/groups/{int:group_id}", response={204: None, **error_responses(403, 404)}, summary="Delete a group"
)
def delete_group(request: HttpRequest, group_id: int) -> HttpResponse:
    group_services.delete_group(actor=actor_of(request), group_id=group_id)
    return HttpResponse(status=204)


@router.get(
    "/groups/{int:group_id}/members",
    response={200: UserPageOut, **error_responses(404, 422)},
    summary="List a group's members",
)
def list_members(
    request: HttpRequest,
    group_id: int,
    cursor: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    queryset = group_services.list_members(actor=actor_of(request), group_id=group_id)
    page = paginate(queryset, BY_USERNAME, cursor=cursor, limit=limit)
    return {"items": with_group_ids(page.items), "next_cursor": page.next_cursor}


@router.post(
    "/groups/{int:group_id}/members",
    response={200: MembersAdded, **error_responses(403, 404, 422)},
    summary="Add users to a group",
    description="Every id must be a user of this organization, or nothing is added (422 on `user_ids`).",
)
def add_members(request: HttpRequest, group_id: int, payload: MemberIds) -> dict[str, list[int]]:
    added = group_services.add_members(actor=actor_of(request), group_id=group_id, user_ids=payload.user_ids)
    return {"added": added}


@router.post(
    "/groups/{int:group_id}/members/remove",
    response={200: MembersRemoved, **error_responses(403, 404, 422)},
    summary="Remove users from a group",
    description="Ids that are not members are ignored.",
)
def remove_members(request: HttpRequest, group_id: int, payload: MemberIds) -> dict[str, list[int]]:
    removed = group_services.remove_members(
        actor=actor_of(request), group_id=group_id, user_ids=payload.user_ids
    )
    return {"removed": removed}


@router.delete(
    "/groups/{int:group_id}/members/{int:user_id}",
    response={204: None, **error_responses(403, 404)},
    summary="Remove one user from a group",
    description="404 when the group or the user does not exist, or the user is not a member.",
)
def remove_member(request: HttpRequest, group_id: int, user_id: int) -> HttpResponse:
    actor = actor_of(request)
    group_services.get_group(actor=actor, group_id=group_id)
    user_services.get_user(actor=actor, user_id=user_id)
    removed = group_services.remove_members(actor=actor, group_id=group_id, user_ids=[user_id])
    if not removed:
        return json_error(404, "not_found", "This user is not a member of the group.")
    return HttpResponse(status=204)

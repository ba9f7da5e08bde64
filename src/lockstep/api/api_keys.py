"""/api-keys: list and revoke the organization's API keys (owners may also create them here)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict, StrictInt

from lockstep.api.auth import actor_of
from lockstep.api.errors import error_responses
from lockstep.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, NEWEST_CREATED_FIRST, paginate
from lockstep.directory.errors import NotFound
from lockstep.directory.models import ApiKey
from lockstep.directory.services import api_keys as key_services

router = Router(tags=["api keys"])


class ApiKeyOut(Schema):
    id: int
    name: str
    prefix: str = Field(description="Public part of the key (lsk_<prefix>_...), to recognise it.")
    role: Literal["administrator", "read_only"]
    created_by_id: int | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    expires_at: datetime | None = Field(description="When the key stops working; null: until revoked.")


class ApiKeyPageOut(Schema):
    items: list[ApiKeyOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class ApiKeyCreate(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(json_schema_extra={"maxLength": 100})
    role: Literal["administrator", "read_only"] = "administrator"
    expires_in_days: StrictInt | None = Field(
        None, description="The key stops working this many days from now (1 to 3650); null: until revoked."
    )


class ApiKeyCreated(Schema):
    key: ApiKeyOut
    secret: str = Field(description="The full key. Shown once: it is stored only as a digest.")


def _key(request: HttpRequest, key_id: int) -> ApiKey:
    key = key_services.list_api_keys(actor=actor_of(request)).filter(pk=key_id).first()
    if key is None:
        raise NotFound("api_key", key_id)
    return key


@router.get("/api-keys", response={200: ApiKeyPageOut, **error_responses(422)}, summary="List API keys")
def list_api_keys(
    request: HttpRequest,
    cursor: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    queryset = key_services.list_api_keys(actor=actor_of(request))
    page = paginate(queryset, NEWEST_CREATED_FIRST, cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.get(
    "/api-keys/{int:key_id}", response={200: ApiKeyOut, **error_responses(404)}, summary="Get an API key"
)
def get_api_key(request: HttpRequest, key_id: int) -> ApiKey:
    return _key(request, key_id)


@router.post(
    "/api-keys",
    response={201: ApiKeyCreated, **error_responses(403, 422)},
    summary="Create an API key (owners, signed in to the Admin Portal)",
    description="API keys cannot create API keys: only an owner's Admin Portal session may.",
)
def create_api_key(request: HttpRequest, payload: ApiKeyCreate) -> Status[dict[str, Any]]:
    key, secret = key_services.create_api_key(
        actor=actor_of(request), name=payload.name, role=payload.role, expires_in_days=payload.expires_in_days
    )
    return Status(201, {"key": key, "secret": secret})


@router.post(
    "/api-keys/{int:key_id}/revoke",
    response={200: ApiKeyOut, **error_responses(403, 404)},
    summary="Revoke an API key (at once and for good)",
)
def revoke_api_key(request: HttpRequest, key_id: int) -> ApiKey:
    return key_services.revoke_api_key(actor=actor_of(request), key_id=key_id)

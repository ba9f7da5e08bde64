"""Fixtures for the REST API tests: JSON helpers, factories, a second organization's key."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.db.models import Model
from django.test import Client

from lockstep.directory.actors import Actor
from lockstep.directory.models import (
    ApiKey,
    AuditEvent,
    Group,
    GroupMembership,
    IssuedImmutableId,
    Organization,
    User,
)
from lockstep.directory.services import admins, api_keys, groups, users

GOOD_PASSWORD = "Tr1cky-Kangaroo-Lamp"


class JsonClient:
    """Thin wrapper: sends and decodes JSON, keeps the Django test client's response."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def request(self, method: str, path: str, body: Any = None, **extra: Any) -> Any:
        url = path if path.startswith("/") else f"/api/v1/{path}"
        kwargs: dict[str, Any] = {}
        if body is not None:
            kwargs = {"data": body if isinstance(body, (str, bytes)) else json.dumps(body)}
            kwargs["content_type"] = "application/json"
        response = getattr(self.client, method.lower())(url, **kwargs, **extra)
        response.data = json.loads(response.content) if response.content else None
        return response

    def get(self, path: str, **extra: Any) -> Any:
        return self.request("GET", path, **extra)

    def post(self, path: str, body: Any = None, **extra: Any) -> Any:
        return self.request("POST", path, body if body is not None else {}, **extra)

    def patch(self, path: str, body: Any, **extra: Any) -> Any:
        return self.request("PATCH", path, body, **extra)

    def delete(self, path: str, **extra: Any) -> Any:
        return self.request("DELETE", path, **extra)


@pytest.fixture
def client_a(api: Client) -> JsonClient:
    """Organization A's read-write API key."""
    return JsonClient(api)


@pytest.fixture
def read_only_client(actor: Actor) -> JsonClient:
    _key, secret = api_keys.create_api_key(actor=actor, name="reader", role="read_only")
    return JsonClient(Client(headers={"Authorization": f"Bearer {secret}"}))


@pytest.fixture
def other_owner_actor(other_org: Organization) -> Actor:
    admin = admins.create_admin(
        organization=other_org, email="owner@fabrikam.com", password="Correct-Horse-Battery-9", role="owner"
    )
    return Actor.for_admin(admin)


@pytest.fixture
def client_b(other_owner_actor: Actor) -> JsonClient:
    """Organization B's read-write API key."""
    _key, secret = api_keys.create_api_key(actor=other_owner_actor, name="fabrikam")
    return JsonClient(Client(headers={"Authorization": f"Bearer {secret}"}))


@pytest.fixture
def make_user(actor: Actor) -> Callable[..., User]:
    def make(username: str = "adele", who: Actor | None = None, **fields: Any) -> User:
        values = {"username": username, "email": f"{username}@contoso.com", **fields}
        return users.create_user(actor=who or actor, fields=values)

    return make


@pytest.fixture
def make_group(actor: Actor) -> Callable[..., Group]:
    def make(name: str = "Sales", who: Actor | None = None, **fields: Any) -> Group:
        return groups.create_group(actor=who or actor, fields={"name": name, **fields})

    return make


def _rows(model: type[Model], exclude: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in row.items() if k not in exclude} for row in model.objects.order_by("pk").values()
    ]


@pytest.fixture
def db_state() -> Callable[[], dict[str, Any]]:
    """A snapshot of every directory table, to prove a refused request wrote nothing."""

    def snapshot() -> dict[str, Any]:
        return {
            "users": _rows(User),
            "groups": _rows(Group),
            "memberships": _rows(GroupMembership),
            "audit": _rows(AuditEvent),
            "immutable_ids": _rows(IssuedImmutableId),
            "api_keys": _rows(ApiKey, exclude=("last_used_at",)),
            "organizations": _rows(Organization),
        }

    return snapshot

"""/api-keys: list, get, revoke; creation only by an owner's session."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from lockstep.directory.models import ApiKey

from .conftest import JsonClient

pytestmark = pytest.mark.django_db


def test_list_shows_no_secrets(client_a: JsonClient, api_key_secret: str) -> None:
    response = client_a.get("api-keys")
    assert response.status_code == 200
    (item,) = response.data["items"]
    assert item["name"] == "tests" and item["role"] == "administrator"
    assert "digest" not in item and "secret" not in item
    assert api_key_secret not in response.content.decode()
    assert ApiKey.objects.get().digest not in response.content.decode()
    assert client_a.get(f"api-keys/{item['id']}").data == item


def test_owner_session_creates_a_key_that_works_once_shown(admin_client: Client) -> None:
    owner = JsonClient(admin_client)
    response = owner.post("api-keys", {"name": "backup script", "role": "read_only"})
    assert response.status_code == 201, response.data
    secret = response.data["secret"]
    assert response.data["key"]["role"] == "read_only"
    assert secret not in owner.get("api-keys").content.decode()
    keyed = JsonClient(Client(headers={"Authorization": f"Bearer {secret}"}))
    assert keyed.get("users").status_code == 200
    assert keyed.post("groups", {"name": "x"}).status_code == 403


def test_an_api_key_cannot_create_keys(client_a: JsonClient, db_state: Callable[[], Any]) -> None:
    before = db_state()
    response = client_a.post("api-keys", {"name": "escalate"})
    assert response.status_code == 403
    assert response.data["error"]["code"] == "permission_denied"
    assert db_state() == before


def test_bad_key_input_is_422(admin_client: Client, db_state: Callable[[], Any]) -> None:
    owner = JsonClient(admin_client)
    before = db_state()
    assert list(owner.post("api-keys", {"name": ""}).data["error"]["fields"]) == ["name"]
    assert list(owner.post("api-keys", {"name": "x" * 101}).data["error"]["fields"]) == ["name"]
    assert list(owner.post("api-keys", {"name": "a", "role": "owner"}).data["error"]["fields"]) == ["role"]
    assert db_state() == before


def test_revoke_takes_effect_at_once(client_a: JsonClient, actor: Any) -> None:
    from lockstep.directory.services import api_keys

    victim, secret = api_keys.create_api_key(actor=actor, name="old")
    victim_client = JsonClient(Client(headers={"Authorization": f"Bearer {secret}"}))
    assert victim_client.get("users").status_code == 200
    response = client_a.post(f"api-keys/{victim.pk}/revoke")
    assert response.status_code == 200
    assert response.data["revoked_at"] is not None
    assert victim_client.get("users").status_code == 401
    assert client_a.post("api-keys/424242/revoke").status_code == 404


def test_missing_keys_read_the_same_on_every_route(client_a: JsonClient) -> None:
    for response in (client_a.get("api-keys/424242"), client_a.post("api-keys/424242/revoke")):
        assert response.status_code == 404
        assert response.data["error"]["message"] == "No such API key."


def test_only_owners_create_keys_in_every_surface(org: Any, owner: Any) -> None:
    from lockstep.directory.actors import Actor
    from lockstep.directory.errors import PermissionDenied
    from lockstep.directory.services import admins, api_keys
    from lockstep.testing.sessions import signed_in_client

    helper = admins.create_admin(
        organization=org, email="helper@contoso.com", password="Tr1cky-Kangaroo-Lamp"
    )
    with pytest.raises(PermissionDenied):
        api_keys.create_api_key(actor=Actor.for_admin(helper), name="mine")
    portal = signed_in_client(helper)
    page = portal.get("/settings/api-keys/")
    assert page.status_code == 200 and b"Only an owner can create API keys." in page.content
    assert b"Create key" not in page.content
    assert portal.post("/settings/api-keys/", {"name": "mine", "role": "administrator"}).status_code == 403
    assert JsonClient(portal).post("api-keys", {"name": "mine"}).status_code == 403
    assert not ApiKey.objects.filter(name="mine").exists()


def test_another_admins_key_is_revoked_only_by_an_owner(org: Any, owner: Any) -> None:
    from lockstep.directory.actors import Actor
    from lockstep.directory.errors import PermissionDenied
    from lockstep.directory.services import admins, api_keys

    helper = admins.create_admin(
        organization=org, email="helper@contoso.com", password="Tr1cky-Kangaroo-Lamp"
    )
    owners_key, _ = api_keys.create_api_key(actor=Actor.for_admin(owner), name="owner's")
    with pytest.raises(PermissionDenied):
        api_keys.revoke_api_key(actor=Actor.for_admin(helper), key_id=owners_key.pk)
    assert ApiKey.objects.get(pk=owners_key.pk).revoked_at is None
    assert api_keys.revoke_api_key(actor=Actor.for_admin(owner), key_id=owners_key.pk).revoked_at is not None


def test_a_key_expires_and_its_lifetime_is_bounded(admin_client: Client) -> None:
    from datetime import timedelta

    from django.utils import timezone

    owner = JsonClient(admin_client)
    for days in (0, 3651, "7", True):
        response = owner.post("api-keys", {"name": "temp", "expires_in_days": days})
        assert response.status_code == 422, days
        assert list(response.data["error"]["fields"]) == ["expires_in_days"], days
    assert owner.post("api-keys", {"name": "decade", "expires_in_days": 3650}).status_code == 201
    made = owner.post("api-keys", {"name": "temp", "expires_in_days": 1})
    assert made.status_code == 201
    expires = made.data["key"]["expires_at"]
    assert expires is not None
    keyed = JsonClient(Client(headers={"Authorization": f"Bearer {made.data['secret']}"}))
    assert keyed.get("users").status_code == 200
    ApiKey.objects.filter(pk=made.data["key"]["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert keyed.get("users").status_code == 401
    listed = {k["name"]: k for k in owner.get("api-keys").data["items"]}
    assert listed["temp"]["last_used_at"] is not None

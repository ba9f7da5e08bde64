"""Authentication: Bearer API keys, Admin Portal sessions (MFA, CSRF), read-only roles."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from lockstep.directory.models import Administrator

from .conftest import JsonClient

pytestmark = pytest.mark.django_db


def test_no_credentials_is_401_saying_how_to_authenticate(org: Any) -> None:
    response = JsonClient(Client()).get("users")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    error = response.data["error"]
    assert error["code"] == "not_authenticated"
    assert "Authorization: Bearer" in error["message"]
    assert error["fields"] == {}


@pytest.mark.parametrize(
    "header",
    ["Bearer lsk_nope_nope", "Bearer ", "Basic dXNlcjpwYXNz", "lsk_abc", "Bearer not-a-lockstep-key"],
)
def test_bad_credentials_are_401(org: Any, header: str, db_state: Callable[[], Any]) -> None:
    before = db_state()
    client = JsonClient(Client(headers={"Authorization": header}))
    for response in (client.get("users"), client.post("groups", {"name": "x"})):
        assert response.status_code == 401
        assert response.data["error"]["code"] == "not_authenticated"
    assert db_state() == before


def test_a_valid_key_with_a_tampered_secret_is_401(api_key_secret: str) -> None:
    tampered = api_key_secret[:-2] + ("AA" if not api_key_secret.endswith("AA") else "BB")
    response = JsonClient(Client(headers={"Authorization": f"Bearer {tampered}"})).get("users")
    assert response.status_code == 401


def test_admin_session_reads(admin_client: Client) -> None:
    assert JsonClient(admin_client).get("users").status_code == 200


def test_admin_session_without_mfa_is_401(owner: Administrator) -> None:
    client = Client()
    client.force_login(owner)
    response = JsonClient(client).get("users")
    assert response.status_code == 401
    assert "MFA" in response.data["error"]["message"]


def test_inactive_admin_session_is_401(admin_client: Client, owner: Administrator) -> None:
    owner.is_active = False
    owner.save()
    assert JsonClient(admin_client).get("users").status_code == 401


def test_session_writes_need_the_csrf_token(owner: Administrator, db_state: Callable[[], Any]) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    session = client.session
    session["mfa_passed"] = True
    session.save()
    api = JsonClient(client)
    before = db_state()
    refused = api.post("groups", {"name": "Sales"})
    assert refused.status_code == 403
    assert refused.data["error"]["code"] == "csrf_failed"
    assert db_state() == before
    # GETs are safe: no token needed. The docs page hands out the token, as Swagger UI sends it.
    assert api.get("groups").status_code == 200
    docs = client.get("/api/v1/docs")
    token = client.cookies["csrftoken"].value
    assert docs.status_code == 200
    accepted = api.post("groups", {"name": "Sales"}, headers={"X-CSRFToken": token})
    assert accepted.status_code == 201, accepted.data


def test_api_keys_need_no_csrf_token(api_key_secret: str) -> None:
    client = Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {api_key_secret}"})
    assert JsonClient(client).post("groups", {"name": "Sales"}).status_code == 201


def test_read_only_admin_session_gets_403_on_writes(
    read_only_actor: Any, db_state: Callable[[], Any]
) -> None:
    client = Client()
    client.force_login(Administrator.objects.get(email="auditor@contoso.com"))
    session = client.session
    session["mfa_passed"] = True
    session.save()
    api = JsonClient(client)
    assert api.get("users").status_code == 200
    before = db_state()
    response = api.post("users", {"username": "x", "email": "x@contoso.com"})
    assert response.status_code == 403
    assert response.data["error"]["code"] == "permission_denied"
    assert db_state() == before

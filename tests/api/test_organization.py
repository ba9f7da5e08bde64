"""/organization: settings read and partial update."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lockstep.directory.models import AuditEvent, Organization

from .conftest import JsonClient

pytestmark = pytest.mark.django_db


def test_get_settings(client_a: JsonClient, org: Organization) -> None:
    response = client_a.get("organization")
    assert response.status_code == 200
    assert response.data["id"] == org.pk
    assert response.data["name"] == "Contoso Ltd"
    assert response.data["password_takeover"] is True
    assert response.data["password_min_length"] == 8


def test_patch_settings(client_a: JsonClient, org: Organization) -> None:
    response = client_a.patch(
        "organization", {"password_takeover": False, "password_min_length": 12, "password_min_classes": 4}
    )
    assert response.status_code == 200, response.data
    assert response.data["password_takeover"] is False
    org.refresh_from_db()
    assert (org.password_min_length, org.password_min_classes) == (12, 4)
    event = AuditEvent.objects.get(action="organization.update_settings")
    assert event.before == {"password_takeover": True, "password_min_length": 8, "password_min_classes": 3}


def test_stricter_policy_applies_to_passwords(client_a: JsonClient, make_user: Callable[..., Any]) -> None:
    user = make_user("adele")
    client_a.patch("organization", {"password_min_length": 21})
    response = client_a.post(f"users/{user.pk}/password", {"password": "Tr1cky-Kangaroo-Lamp"})
    assert response.status_code == 422
    assert "password" in response.data["error"]["fields"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password_min_length": 7}, "password_min_length"),
        ({"password_min_classes": 2}, "password_min_classes"),
        ({"password_takeover": "maybe"}, "password_takeover"),
        ({"name": ""}, "name"),
        ({"name": None}, "name"),
        ({"slug": "other"}, "slug"),
        ({"name": "x" * 201}, "name"),
    ],
)
def test_bad_settings_are_422_and_change_nothing(
    client_a: JsonClient, db_state: Callable[[], Any], body: dict[str, Any], field: str
) -> None:
    before = db_state()
    response = client_a.patch("organization", body)
    assert response.status_code == 422, response.data
    assert list(response.data["error"]["fields"]) == [field]
    assert db_state() == before


def test_an_administrator_key_cannot_switch_the_admin_mfa_requirement(
    client_a: JsonClient, org: Organization, admin_client: Any
) -> None:
    response = client_a.patch("organization", {"require_admin_mfa": True})
    assert response.status_code == 403
    assert response.data["error"]["code"] == "permission_denied"
    org.refresh_from_db()
    assert org.require_admin_mfa is False
    # sending the value it already has, with other changes, is not a security change
    assert client_a.patch("organization", {"require_admin_mfa": False, "name": "Contoso"}).status_code == 200
    owner = JsonClient(admin_client)
    assert owner.patch("organization", {"require_admin_mfa": True}).status_code == 200
    org.refresh_from_db()
    assert org.require_admin_mfa is True

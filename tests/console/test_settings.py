"""Settings: organization, administrators, API keys."""

from __future__ import annotations

import re

from django.test import Client
from django.urls import reverse

from lockstep.directory.models import Administrator, AdminRole, ApiKey, Organization
from lockstep.directory.services import api_keys

SETTINGS = {
    "name": "Contoso",
    "password_takeover": "on",
    "require_admin_mfa": "on",
    "password_min_length": "12",
    "password_min_classes": "4",
    "password_banned_terms": "contoso\nseattle",
}


def test_organization_settings_are_saved(admin_client: Client, org: Organization) -> None:
    page = admin_client.get(reverse("console:settings"))
    assert page.status_code == 200 and b"Password policy" in page.content
    response = admin_client.post(reverse("console:settings"), SETTINGS)
    assert response.status_code == 302
    org.refresh_from_db()
    assert org.name == "Contoso" and org.require_admin_mfa and org.password_min_length == 12
    assert org.password_min_classes == 4
    assert b"Must be 12 to 256 characters long." in admin_client.get(reverse("console:settings")).content
    admin_client.post(reverse("console:settings"), {**SETTINGS, "password_takeover": ""})
    org.refresh_from_db()
    assert not org.password_takeover


def test_policy_looser_than_microsoft_is_refused(admin_client: Client, org: Organization) -> None:
    response = admin_client.post(reverse("console:settings"), {**SETTINGS, "password_min_length": "6"})
    assert response.status_code == 200
    match = re.search(r'id="id_password_min_length_error"[^>]*>(.*?)</ul>', response.content.decode(), re.S)
    assert match and "at least 8" in match.group(1)
    org.refresh_from_db()
    assert org.password_min_length == 8 and org.name == "Contoso Ltd"


def test_owner_adds_admins_and_changes_roles(admin_client: Client, owner: Administrator) -> None:
    url = reverse("console:administrators")
    assert b"Add an administrator" in admin_client.get(url).content
    weak = admin_client.post(
        url, {"email": "new@contoso.com", "name": "", "role": "administrator", "password": "short"}
    )
    assert weak.status_code == 200 and not Administrator.objects.filter(email="new@contoso.com").exists()
    response = admin_client.post(
        url,
        {"email": "New@Contoso.com", "name": "New", "role": "read_only", "password": "Tr1cky-Kangaroo-Lamp"},
    )
    assert response.status_code == 302
    new = Administrator.objects.get(email="new@contoso.com")
    assert new.role == AdminRole.READ_ONLY
    duplicate = admin_client.post(
        url, {"email": "new@contoso.com", "name": "", "role": "read_only", "password": "Tr1cky-Kangaroo-Lamp"}
    )
    assert duplicate.status_code == 200 and b"already has an administrator" in duplicate.content
    role = reverse("console:administrator_role", args=[new.pk])
    assert admin_client.post(role, {"role": "administrator"}).status_code == 302
    new.refresh_from_db()
    assert new.role == AdminRole.ADMINISTRATOR
    last_owner = admin_client.post(
        reverse("console:administrator_role", args=[owner.pk]), {"role": "read_only"}
    )
    assert last_owner.status_code == 409 and b"last owner" in last_owner.content


def test_non_owner_cannot_manage_admins(
    signed_in_client: object, plain_admin: Administrator, owner: Administrator
) -> None:
    client = signed_in_client(plain_admin)  # type: ignore[operator]
    page = client.get(reverse("console:administrators"))
    assert page.status_code == 200 and b"Add an administrator" not in page.content
    response = client.post(
        reverse("console:administrators"),
        {"email": "x@contoso.com", "name": "", "role": "owner", "password": "Tr1cky-Kangaroo-Lamp"},
    )
    assert response.status_code == 403
    assert (
        client.post(
            reverse("console:administrator_role", args=[plain_admin.pk]), {"role": "owner"}
        ).status_code
        == 403
    )
    plain_admin.refresh_from_db()
    assert plain_admin.role == AdminRole.ADMINISTRATOR


def test_api_key_secret_is_shown_once(admin_client: Client) -> None:
    url = reverse("console:api_keys")
    response = admin_client.post(url, {"name": "CI", "role": "read_only"})
    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]
    secret = re.search(r'value="(lsk_[^"]+)"', response.content.decode())
    assert secret
    key = ApiKey.objects.get(name="CI")
    assert api_keys.authenticate(secret.group(1)) == key
    again = admin_client.get(url).content.decode()
    assert secret.group(1) not in again and f"lsk_{key.prefix}_" in again and "Read-only" in again
    assert admin_client.post(url, {"name": "", "role": "administrator"}).status_code == 200


def test_api_key_revoke(admin_client: Client, actor: object) -> None:
    key, _secret = api_keys.create_api_key(actor=actor, name="old")  # type: ignore[arg-type]
    response = admin_client.post(reverse("console:api_key_revoke", args=[key.pk]))
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert b"revoked" in admin_client.get(reverse("console:api_keys")).content

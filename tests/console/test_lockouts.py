"""Settings > Sign-in lockouts: the list, clearing, read-only administrators, the API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from lockstep.directory.actors import Actor
from lockstep.directory.models import AuditEvent, Organization, User, UserState
from lockstep.directory.services import users
from lockstep.portal import throttle
from lockstep.portal.models import SignInThrottle, ThrottleScope

pytestmark = pytest.mark.django_db


@pytest.fixture
def locked(actor: Actor, org: Organization) -> tuple[User, SignInThrottle, SignInThrottle]:
    user = users.create_user(
        actor=actor,
        fields={"username": "adele", "email": "adele@contoso.com"},
        initial_password="Quiet-Meadow-Lantern-42",
    )
    users.change_state(actor=actor, user_id=user.pk, to_state=UserState.ACTIVE)
    until = timezone.now() + timedelta(minutes=10)
    account = SignInThrottle.objects.create(
        organization=org,
        scope=ThrottleScope.ACCOUNT,
        key=str(user.pk),
        label="adele",
        failures=5,
        locked_until=until,
    )
    source = SignInThrottle.objects.create(
        organization=org,
        scope=ThrottleScope.SOURCE,
        key="203.0.113.4",
        label="203.0.113.4",
        failures=20,
        locked_until=until,
    )
    SignInThrottle.objects.create(  # counting, not locked: not listed
        organization=org, scope=ThrottleScope.SOURCE, key="203.0.113.5", label="203.0.113.5", failures=2
    )
    return user, account, source


def test_page_lists_locks_and_clears_one(
    admin_client: Client, locked: tuple[User, SignInThrottle, SignInThrottle]
) -> None:
    user, account, _source = locked
    settings_html = admin_client.get("/settings/").content.decode()
    assert 'href="/settings/sign-in-locks/"' in settings_html
    html = admin_client.get("/settings/sign-in-locks/").content.decode()
    assert "adele" in html and "203.0.113.4" in html and "203.0.113.5" not in html
    assert f'action="/settings/sign-in-locks/{account.pk}/clear/"' in html
    response = admin_client.post(f"/settings/sign-in-locks/{account.pk}/clear/")
    assert response.status_code == 302
    assert throttle.locked_until(user) is None
    assert AuditEvent.objects.filter(action="portal.clear_sign_in_lock", target_label="adele").exists()


def test_read_only_admin_sees_but_cannot_clear(
    read_only_client: Client, locked: tuple[User, SignInThrottle, SignInThrottle]
) -> None:
    user, account, _source = locked
    html = read_only_client.get("/settings/sign-in-locks/").content.decode()
    assert "adele" in html and "/clear/" not in html
    assert read_only_client.post(f"/settings/sign-in-locks/{account.pk}/clear/").status_code == 403
    assert throttle.locked_until(user) is not None


def test_api_lists_and_clears(api: Client, locked: tuple[User, SignInThrottle, SignInThrottle]) -> None:
    user, account, source = locked
    body = api.get("/api/v1/sign-in-locks").json()
    rows = {row["id"]: row for row in body["items"]}
    assert set(rows) == {account.pk, source.pk}
    assert rows[account.pk]["scope"] == "account" and rows[account.pk]["user_id"] == user.pk
    assert rows[source.pk]["label"] == "203.0.113.4" and rows[source.pk]["user_id"] is None
    assert api.delete(f"/api/v1/sign-in-locks/{account.pk}").status_code == 204
    assert throttle.locked_until(user) is None
    assert api.delete(f"/api/v1/sign-in-locks/{account.pk}").status_code == 404


def test_api_clear_needs_write_and_own_organization(
    read_only_actor: Actor, other_org: Organization, locked: tuple[User, SignInThrottle, SignInThrottle]
) -> None:
    from lockstep.directory.services import admins, api_keys

    _user, account, _source = locked
    _key, secret = api_keys.create_api_key(
        actor=Actor.system(read_only_actor.organization_id), name="ro", role="read_only"
    )
    ro = Client(headers={"Authorization": f"Bearer {secret}"})
    assert ro.get("/api/v1/sign-in-locks").status_code == 200
    assert ro.delete(f"/api/v1/sign-in-locks/{account.pk}").status_code == 403
    owner = admins.create_admin(
        organization=other_org, email="o@fabrikam.com", password="Correct-Horse-Battery-9", role="owner"
    )
    _key, other_secret = api_keys.create_api_key(actor=Actor.for_admin(owner), name="fab")
    other = Client(headers={"Authorization": f"Bearer {other_secret}"})
    assert other.get("/api/v1/sign-in-locks").json()["items"] == []
    assert other.delete(f"/api/v1/sign-in-locks/{account.pk}").status_code == 404
    assert SignInThrottle.objects.filter(pk=account.pk).exists()


def test_settings_choose_the_editable_attributes(admin_client: Client, org: Organization) -> None:
    html = admin_client.get("/settings/").content.decode()
    assert 'value="job_title"' in html and 'value="username"' not in html
    response = admin_client.post(
        "/settings/",
        {
            "name": org.name,
            "password_min_length": "8",
            "password_min_classes": "3",
            "portal_editable_fields": ["job_title", "mobile_phone"],
        },
    )
    assert response.status_code == 302
    org.refresh_from_db()
    assert org.portal_editable_fields == "job_title,mobile_phone"
    refused = admin_client.post(
        "/settings/",
        {
            "name": org.name,
            "password_min_length": "8",
            "password_min_classes": "3",
            "portal_editable_fields": ["username"],
        },
    )
    assert (
        refused.status_code == 200
        and "username is not one of the available choices" in refused.content.decode()
    )


def test_api_organization_field(api: Client, org: Organization) -> None:
    assert api.get("/api/v1/organization").json()["portal_editable_fields"] == []
    response = api.patch(
        "/api/v1/organization",
        {"portal_editable_fields": ["department", "job_title"]},
        content_type="application/json",
    )
    assert response.status_code == 200 and response.json()["portal_editable_fields"] == [
        "job_title",
        "department",
    ]
    org.refresh_from_db()
    assert org.portal_editable_fields == "job_title,department"
    bad = api.patch(
        "/api/v1/organization",
        {"portal_editable_fields": ["username", "job_title"]},
        content_type="application/json",
    )
    assert bad.status_code == 422
    fields = bad.json()["error"]["fields"]
    assert (
        "portal_editable_fields" in fields
        and "'username' cannot be edited by users" in fields["portal_editable_fields"][0]
    )

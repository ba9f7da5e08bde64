"""Administrator accounts (issue 11 point 1): owners deactivate and remove administrators, never
the last owner; a deactivated or removed administrator's sessions and API keys stop; turning on
the authenticator app ends the administrator's other sessions."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict, PermissionDenied
from lockstep.directory.models import Administrator, AdminRole, ApiKey, AuditEvent, Organization
from lockstep.directory.services import admins, api_keys
from lockstep.testing.sessions import next_totp_code

PASSWORD = "Tr1cky-Kangaroo-Lamp"


def sign_in(email: str, password: str = PASSWORD) -> Client:
    client = Client()
    assert client.post(reverse("console:login"), {"email": email, "password": password}).status_code == 302
    return client


@pytest.fixture
def two_owners(org: Organization) -> tuple[Administrator, Administrator]:
    first = admins.create_admin(
        organization=org, email="one@contoso.com", password=PASSWORD, role=AdminRole.OWNER
    )
    second = admins.create_admin(
        organization=org, email="two@contoso.com", password=PASSWORD, role=AdminRole.OWNER
    )
    return first, second


@pytest.mark.django_db
def test_a_deactivated_administrator_loses_sessions_keys_and_sign_in(
    two_owners: tuple[Administrator, Administrator],
) -> None:
    first, second = two_owners
    session = sign_in(second.email)
    _key, secret = api_keys.create_api_key(actor=Actor.for_admin(second), name="second's script")
    keyed = Client(headers={"Authorization": f"Bearer {secret}"})
    assert keyed.get("/api/v1/users").status_code == 200
    owner_page = sign_in(first.email)
    response = owner_page.post(reverse("console:administrator_active", args=[second.pk]), {"active": "0"})
    assert response.status_code == 302
    assert session.get(reverse("console:users")).status_code == 302  # signed out
    assert keyed.get("/api/v1/users").status_code == 401
    assert (
        Client().post(reverse("console:login"), {"email": second.email, "password": PASSWORD}).status_code
        == 200
    )
    owner_page.post(reverse("console:administrator_active", args=[second.pk]), {"active": "1"})
    assert keyed.get("/api/v1/users").status_code == 200
    assert AuditEvent.objects.filter(action__in=["admin.deactivate", "admin.reactivate"]).count() == 2


@pytest.mark.django_db
def test_the_last_active_owner_is_never_deactivated_removed_or_demoted(
    two_owners: tuple[Administrator, Administrator],
) -> None:
    first, second = two_owners
    actor = Actor.for_admin(first)
    admins.set_active(actor=actor, admin_id=second.pk, active=False)  # one other owner: allowed
    helper = admins.create_admin(
        organization=first.organization, email="helper@contoso.com", password=PASSWORD, role=AdminRole.OWNER
    )
    helper_actor = Actor.for_admin(helper)
    admins.set_active(actor=helper_actor, admin_id=first.pk, active=False)  # helper remains
    for attempt in (
        lambda: admins.set_active(actor=Actor.for_admin(first), admin_id=helper.pk, active=False),
        lambda: admins.remove_admin(actor=Actor.for_admin(first), admin_id=helper.pk),
        lambda: admins.set_role(
            actor=Actor.for_admin(first), admin_id=helper.pk, role=AdminRole.ADMINISTRATOR
        ),
    ):
        with pytest.raises(Conflict):
            attempt()
    helper.refresh_from_db()
    assert helper.is_active and helper.role == AdminRole.OWNER


@pytest.mark.django_db
def test_nobody_deactivates_or_removes_themselves_and_only_owners_do_it(
    two_owners: tuple[Administrator, Administrator],
) -> None:
    first, second = two_owners
    with pytest.raises(Conflict):
        admins.set_active(actor=Actor.for_admin(first), admin_id=first.pk, active=False)
    plain = admins.create_admin(organization=first.organization, email="plain@contoso.com", password=PASSWORD)
    with pytest.raises(PermissionDenied):
        admins.remove_admin(actor=Actor.for_admin(plain), admin_id=second.pk)
    page = sign_in(plain.email).get(reverse("console:administrators"))
    assert reverse("console:administrator_remove", args=[second.pk]).encode() not in page.content


@pytest.mark.django_db
def test_removing_an_administrator_revokes_their_keys(
    two_owners: tuple[Administrator, Administrator],
) -> None:
    first, second = two_owners
    key, secret = api_keys.create_api_key(actor=Actor.for_admin(second), name="left behind")
    assert admins.remove_admin(actor=Actor.for_admin(first), admin_id=second.pk) == "two@contoso.com"
    assert not Administrator.objects.filter(pk=second.pk).exists()
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
    assert Client(headers={"Authorization": f"Bearer {secret}"}).get("/api/v1/users").status_code == 401


@pytest.mark.django_db
def test_turning_on_the_authenticator_app_ends_the_other_sessions(owner: Administrator) -> None:
    from tests.conftest import ADMIN_PASSWORD

    laptop = sign_in(owner.email, ADMIN_PASSWORD)
    phone = sign_in(owner.email, ADMIN_PASSWORD)
    laptop.get(reverse("console:mfa_enrol"))
    secret = laptop.session["pending_totp_secret"]
    response = laptop.post(reverse("console:mfa_enrol"), {"code": next_totp_code(secret, owner)})
    assert response.status_code == 200 and b"Your recovery codes" in response.content
    assert laptop.get(reverse("console:users")).status_code == 200
    assert phone.get(reverse("console:users")).status_code == 302


@pytest.mark.django_db
def test_the_portal_says_why_an_owner_cannot_remove_themselves(
    two_owners: tuple[Administrator, Administrator],
) -> None:
    first, _second = two_owners
    page = sign_in(first.email).post(reverse("console:administrator_remove", args=[first.pk]))
    assert page.status_code == 409
    assert b"Nothing was removed" in page.content and b"your own account" in page.content
    assert Administrator.objects.filter(pk=first.pk).exists()

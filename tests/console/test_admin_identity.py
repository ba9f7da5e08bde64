"""An administrator's email is unique per organization (issue 11, point 5): adding one never
reveals that the address administers another organization, and signing in still finds the
right account, asking which organization only someone who knows each password can see."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from lockstep.directory.errors import Conflict
from lockstep.directory.models import Administrator, AdminRole, Organization
from lockstep.directory.services import admins

PASSWORD = "Tr1cky-Kangaroo-Lamp"
OTHER_PASSWORD = "Quiet-Harbour-Lantern-7"

pytestmark = pytest.mark.django_db


@pytest.fixture
def fabrikam(other_org: Organization) -> Administrator:
    return admins.create_admin(
        organization=other_org, email="pat@fabrikam.com", password=OTHER_PASSWORD, role=AdminRole.OWNER
    )


def login(client: Client, email: str, password: str, organization: str = "") -> object:
    data = {"email": email, "password": password}
    if organization:
        data["organization"] = organization
    return client.post(reverse("console:login"), data)


def test_adding_an_address_another_organization_uses_reveals_nothing(
    admin_client: Client, org: Organization, fabrikam: Administrator
) -> None:
    response = admin_client.post(
        reverse("console:administrators"),
        {"email": "Pat@Fabrikam.com", "name": "Pat", "role": "administrator", "password": PASSWORD},
    )
    assert response.status_code == 302  # the same answer as for any new address
    mine = Administrator.objects.get(organization=org, email="pat@fabrikam.com")
    assert mine.pk != fabrikam.pk and mine.role == AdminRole.ADMINISTRATOR
    # within one organization an address is still taken once
    with pytest.raises(Conflict) as refused:
        admins.create_admin(organization=org, email="PAT@fabrikam.com", password=PASSWORD)
    assert "This organization already has" in refused.value.message
    assert "fabrikam" not in refused.value.message.split("email")[0]


def test_each_password_signs_in_to_its_own_organization(
    org: Organization, other_org: Organization, fabrikam: Administrator
) -> None:
    mine = admins.create_admin(organization=org, email="pat@fabrikam.com", password=PASSWORD)
    client = Client()
    assert login(client, "pat@fabrikam.com", PASSWORD).status_code == 302
    assert int(client.session["_auth_user_id"]) == mine.pk
    other = Client()
    assert login(other, "pat@fabrikam.com", OTHER_PASSWORD).status_code == 302
    assert int(other.session["_auth_user_id"]) == fabrikam.pk
    wrong = Client()
    response = login(wrong, "pat@fabrikam.com", "Not-The-Password-1")
    assert response.status_code == 200 and b"not right" in response.content  # type: ignore[attr-defined]
    assert "_auth_user_id" not in wrong.session


def test_one_password_for_two_organizations_asks_which_one(
    org: Organization, other_org: Organization
) -> None:
    mine = admins.create_admin(organization=org, email="pat@fabrikam.com", password=PASSWORD)
    theirs = admins.create_admin(organization=other_org, email="pat@fabrikam.com", password=PASSWORD)
    client = Client()
    asked = login(client, "pat@fabrikam.com", PASSWORD)
    page = asked.content.decode()  # type: ignore[attr-defined]
    assert asked.status_code == 200 and 'id="organization-choice"' in page  # type: ignore[attr-defined]
    assert org.name in page and other_org.name in page
    assert "_auth_user_id" not in client.session
    chosen = login(client, "pat@fabrikam.com", PASSWORD, organization=other_org.slug)
    assert chosen.status_code == 302  # type: ignore[attr-defined]
    assert int(client.session["_auth_user_id"]) == theirs.pk != mine.pk
    # a wrong password never shows the list
    stranger = login(Client(), "pat@fabrikam.com", "Not-The-Password-1")
    assert 'id="organization-choice"' not in stranger.content.decode()  # type: ignore[attr-defined]


def test_a_deactivated_administrator_is_not_offered_or_signed_in(
    org: Organization, other_org: Organization
) -> None:
    admins.create_admin(organization=org, email="pat@fabrikam.com", password=PASSWORD)
    gone = admins.create_admin(organization=other_org, email="pat@fabrikam.com", password=PASSWORD)
    Administrator.objects.filter(pk=gone.pk).update(is_active=False)
    client = Client()
    assert login(client, "pat@fabrikam.com", PASSWORD).status_code == 302  # no choice: one fits
    assert int(client.session["_auth_user_id"]) != gone.pk

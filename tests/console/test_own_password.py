"""An administrator's own password (issue 11 point 1): the one-time password printed by
`run`/`demo` must be replaced at first sign-in, and every administrator can change theirs."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from lockstep.directory.models import Administrator, AdminRole, AuditEvent, Organization
from lockstep.directory.services import admins

ONE_TIME = "One-Time-Pass-4821"
MINE = "My-Own-Horse-Battery-7"


def sign_in(client: Client, email: str, password: str) -> int:
    return client.post(reverse("console:login"), {"email": email, "password": password}).status_code


@pytest.fixture
def first_owner(org: Organization) -> Administrator:
    return admins.create_admin(
        organization=org,
        email="first@contoso.com",
        password=ONE_TIME,
        role=AdminRole.OWNER,
        must_change_password=True,
    )


@pytest.mark.django_db
def test_a_one_time_password_leads_only_to_the_password_page(first_owner: Administrator) -> None:
    client = Client()
    assert sign_in(client, "first@contoso.com", ONE_TIME) == 302
    for name in ("console:index", "console:users", "console:settings", "console:api_keys"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and response["Location"] == reverse("console:own_password"), name
    response = client.post(reverse("console:api_keys"), {"name": "sneaky", "role": "owner"})
    assert response["Location"] == reverse("console:own_password")
    assert not first_owner.organization.api_keys.exists()
    page = client.get(reverse("console:own_password"))
    assert page.status_code == 200 and b"one-time password" in page.content


@pytest.mark.django_db
def test_replacing_it_frees_the_portal_and_retires_the_one_time_password(first_owner: Administrator) -> None:
    client = Client()
    sign_in(client, "first@contoso.com", ONE_TIME)
    response = client.post(
        reverse("console:own_password"), {"current_password": ONE_TIME, "new_password": MINE}
    )
    assert response.status_code == 302 and response["Location"] == reverse("console:index")
    assert client.get(reverse("console:users")).status_code == 200  # the same session goes on
    first_owner.refresh_from_db()
    assert not first_owner.must_change_password
    assert sign_in(Client(), "first@contoso.com", ONE_TIME) == 200  # refused
    assert sign_in(Client(), "first@contoso.com", MINE) == 302
    event = AuditEvent.objects.get(action="admin.password_change")
    assert event.after == {"replaced_one_time_password": True}
    assert ONE_TIME not in str(event.after) and MINE not in str(event.after)


@pytest.mark.django_db
def test_wrong_current_same_or_weak_new_password_is_refused_naming_the_field(
    first_owner: Administrator,
) -> None:
    client = Client()
    sign_in(client, "first@contoso.com", ONE_TIME)
    cases = [
        ({"current_password": "Not-It-123", "new_password": MINE}, b"This is not your current password."),
        ({"current_password": ONE_TIME, "new_password": ONE_TIME}, b"Must differ from the current password."),
        ({"current_password": ONE_TIME, "new_password": "short"}, b"new_password"),
    ]
    for data, words in cases:
        response = client.post(reverse("console:own_password"), data)
        assert response.status_code == 200, data
        assert words in response.content, data
    first_owner.refresh_from_db()
    assert first_owner.must_change_password and first_owner.check_password(ONE_TIME)


@pytest.mark.django_db
def test_a_changed_password_ends_the_other_sessions(owner: Administrator) -> None:
    from tests.conftest import ADMIN_PASSWORD

    laptop, phone = Client(), Client()
    assert sign_in(laptop, owner.email, ADMIN_PASSWORD) == 302
    assert sign_in(phone, owner.email, ADMIN_PASSWORD) == 302
    response = laptop.post(
        reverse("console:own_password"), {"current_password": ADMIN_PASSWORD, "new_password": MINE}
    )
    assert response["Location"] == reverse("console:settings")
    assert laptop.get(reverse("console:users")).status_code == 200
    assert phone.get(reverse("console:users")).status_code == 302  # back to the login page


@pytest.mark.django_db
def test_a_read_only_administrator_changes_their_own_password(org: Organization) -> None:
    auditor = admins.create_admin(
        organization=org, email="auditor@contoso.com", password=ONE_TIME, role=AdminRole.READ_ONLY
    )
    client = Client()
    sign_in(client, auditor.email, ONE_TIME)
    response = client.post(
        reverse("console:own_password"), {"current_password": ONE_TIME, "new_password": MINE}
    )
    assert response.status_code == 302
    auditor.refresh_from_db()
    assert auditor.check_password(MINE)


@pytest.mark.django_db
def test_the_first_owner_enrols_then_replaces_the_one_time_password(first_owner: Administrator) -> None:
    """A new organization requires MFA (as `run` creates it): the first sign-in goes password ->
    authenticator enrolment -> own password, and only then anywhere else."""
    from lockstep.testing.sessions import next_totp_code

    organization = first_owner.organization
    organization.require_admin_mfa = True
    organization.save()
    client = Client()
    assert sign_in(client, "first@contoso.com", ONE_TIME) == 302
    assert client.get(reverse("console:users"))["Location"] == reverse("console:mfa")
    assert client.get(reverse("console:mfa"))["Location"] == reverse("console:mfa_enrol")
    client.get(reverse("console:mfa_enrol"))
    secret = client.session["pending_totp_secret"]
    client.post(reverse("console:mfa_enrol"), {"code": next_totp_code(secret, first_owner)})
    assert client.get(reverse("console:users"))["Location"] == reverse("console:own_password")
    client.post(reverse("console:own_password"), {"current_password": ONE_TIME, "new_password": MINE})
    assert client.get(reverse("console:users")).status_code == 200


@pytest.mark.django_db
def test_the_dashboard_says_when_administrators_need_no_second_factor(
    admin_client: Client, org: Organization
) -> None:
    assert b'id="mfa-optional"' in admin_client.get(reverse("console:index")).content
    org.require_admin_mfa = True
    org.save()
    page = admin_client.get(reverse("console:index"))
    assert page.status_code == 200 and b"Users by state" in page.content
    assert b'id="mfa-optional"' not in page.content

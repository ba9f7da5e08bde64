"""Admin sign-in: password, TOTP second factor, forced enrolment, throttling, sessions."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from lockstep.console import throttle
from lockstep.directory.models import Administrator, AuditEvent, Organization
from lockstep.directory.services import admins
from lockstep.testing.sessions import enrol_totp, next_totp_code

PASSWORD = "Correct-Horse-Battery-9"


def login(client: Client, email: str = "owner@contoso.com", password: str = PASSWORD, **extra: str):
    return client.post(reverse("console:login"), {"email": email, "password": password}, **extra)


def test_login_page_renders(client: Client) -> None:
    response = client.get(reverse("console:login"))
    assert response.status_code == 200
    assert b'name="email"' in response.content and b"csrfmiddlewaretoken" in response.content


def test_console_pages_need_sign_in(client: Client, owner: Administrator) -> None:
    response = client.get(reverse("console:users"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("console:login") + "?next=")


def test_htmx_request_without_session_navigates_to_login(client: Client, owner: Administrator) -> None:
    response = client.get(reverse("console:users"), headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response["HX-Redirect"].startswith(reverse("console:login"))


def test_password_only_admin_signs_in(client: Client, owner: Administrator) -> None:
    response = login(client)
    assert response.status_code == 302 and response["Location"] == reverse("console:index")
    assert client.session["mfa_passed"] is True
    assert client.get(reverse("console:index")).status_code == 200


def test_wrong_password_is_refused_without_saying_which_part(client: Client, owner: Administrator) -> None:
    response = login(client, password="nope-Nope-1")
    assert response.status_code == 200
    assert b"The email or password is not right." in response.content
    assert "_auth_user_id" not in client.session
    assert login(client, email="nobody@contoso.com").status_code == 200


def test_next_is_followed_only_within_the_site(client: Client, owner: Administrator) -> None:
    url = reverse("console:login")
    response = client.post(f"{url}?next=/users/", {"email": owner.email, "password": PASSWORD})
    assert response["Location"] == "/users/"
    client.post(reverse("console:logout"))
    response = client.post(f"{url}?next=https://evil.example/", {"email": owner.email, "password": PASSWORD})
    assert response["Location"] == reverse("console:index")


def test_totp_admin_needs_the_code(client: Client, owner: Administrator) -> None:
    secret = enrol_totp(owner)
    response = login(client)
    assert response["Location"] == reverse("console:mfa")
    assert client.session["mfa_passed"] is False
    # Every other console page sends the half-signed-in admin back to the MFA step.
    for name in ("console:index", "console:users", "console:settings"):
        page = client.get(reverse(name))
        assert page.status_code == 302 and page["Location"] == reverse("console:mfa")
    assert client.post(reverse("console:user_new"), {}).status_code == 302
    wrong = client.post(reverse("console:mfa"), {"code": "000000"})
    assert wrong.status_code == 200 and b"That code is not right" in wrong.content
    right = client.post(reverse("console:mfa"), {"code": next_totp_code(secret, owner)})
    assert right.status_code == 302 and right["Location"] == reverse("console:index")
    assert client.session["mfa_passed"] is True
    assert client.get(reverse("console:users")).status_code == 200


def test_a_totp_code_works_once(client: Client, owner: Administrator) -> None:
    secret = enrol_totp(owner)
    code = next_totp_code(secret, owner)
    login(client)
    assert client.post(reverse("console:mfa"), {"code": code}).status_code == 302
    other = Client()
    login(other)
    assert other.post(reverse("console:mfa"), {"code": code}).status_code == 200


def test_required_mfa_forces_enrolment(client: Client, org: Organization, owner: Administrator) -> None:
    org.require_admin_mfa = True
    org.save()
    response = login(client)
    assert response["Location"] == reverse("console:mfa")
    assert client.get(reverse("console:mfa"))["Location"] == reverse("console:mfa_enrol")
    page = client.get(reverse("console:mfa_enrol"))
    assert page.status_code == 200
    assert b"<svg" in page.content  # the QR code, inline
    secret = client.session["pending_totp_secret"]
    assert secret.encode() in page.content
    owner.refresh_from_db()
    assert not owner.totp_enabled and not owner.totp_secret_encrypted  # nothing stored yet
    assert client.get(reverse("console:index"))["Location"] == reverse("console:mfa")
    bad = client.post(reverse("console:mfa_enrol"), {"code": "123456"})
    assert bad.status_code == 200 and b"does not match" in bad.content
    good = client.post(reverse("console:mfa_enrol"), {"code": pyotp.TOTP(secret).now()})
    assert good.status_code == 200 and b"Your recovery codes" in good.content  # shown once
    assert f'href="{reverse("console:index")}"'.encode() in good.content  # then on to the portal
    owner.refresh_from_db()
    assert owner.totp_enabled
    assert "pending_totp_secret" not in client.session
    assert client.session["mfa_passed"] is True
    assert AuditEvent.objects.filter(action="admin.enable_totp", target_id=str(owner.pk)).exists()
    assert secret not in str(list(AuditEvent.objects.values_list("before", "after")))


def test_enrolment_page_is_not_a_way_around_the_code(client: Client, owner: Administrator) -> None:
    enrol_totp(owner)
    login(client)
    response = client.get(reverse("console:mfa_enrol"))
    assert response.status_code == 302 and response["Location"] == reverse("console:mfa")
    response = client.post(reverse("console:mfa_enrol"), {"code": "123456"})
    assert response["Location"] == reverse("console:mfa")


def test_signed_in_admin_can_turn_on_totp_from_settings(admin_client: Client, owner: Administrator) -> None:
    page = admin_client.get(reverse("console:mfa_enrol"))
    assert page.status_code == 200
    secret = admin_client.session["pending_totp_secret"]
    response = admin_client.post(reverse("console:mfa_enrol"), {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert response.content.count(b"<li><code>") == 10
    owner.refresh_from_db()
    assert owner.totp_enabled


def test_account_throttle_stops_password_guessing(client: Client, owner: Administrator) -> None:
    for n in range(throttle.ACCOUNT_LIMIT):
        assert login(client, password=f"Wrong-Guess-{n}", REMOTE_ADDR=f"10.0.0.{n}").status_code == 200
    # Even the right password is refused now, from any address, without being checked.
    response = login(client, REMOTE_ADDR="10.9.9.9")
    assert response.status_code == 429
    assert b"Too many failed sign-in attempts" in response.content
    assert "_auth_user_id" not in client.session
    # Another account is not affected.
    admins.create_admin(organization=owner.organization, email="second@contoso.com", password=PASSWORD)
    assert login(client, email="second@contoso.com", REMOTE_ADDR="10.9.9.9").status_code == 302


def test_source_throttle_stops_spraying_many_accounts(client: Client, owner: Administrator) -> None:
    for n in range(throttle.SOURCE_LIMIT):
        login(client, email=f"guess{n}@contoso.com", REMOTE_ADDR="192.0.2.7")
    assert login(client, REMOTE_ADDR="192.0.2.7").status_code == 429
    assert login(client, REMOTE_ADDR="192.0.2.8").status_code == 302


def test_totp_guessing_is_throttled_and_ends_the_session(client: Client, owner: Administrator) -> None:
    secret = enrol_totp(owner)
    login(client)
    for _ in range(throttle.ACCOUNT_LIMIT):
        assert client.post(reverse("console:mfa"), {"code": "000000"}).status_code == 200
    response = client.post(reverse("console:mfa"), {"code": next_totp_code(secret, owner)})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_logout_is_post_only(admin_client: Client) -> None:
    assert admin_client.get(reverse("console:logout")).status_code == 405
    response = admin_client.post(reverse("console:logout"))
    assert response.status_code == 302 and response["Location"] == reverse("console:login")
    assert admin_client.get(reverse("console:index")).status_code == 302


def test_idle_session_expires(admin_client: Client) -> None:
    assert admin_client.get(reverse("console:index")).status_code == 200
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    response = admin_client.get(reverse("console:index"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("console:login"))


def test_each_request_extends_the_idle_timeout(admin_client: Client) -> None:
    Session.objects.update(expire_date=timezone.now() + timedelta(seconds=5))
    admin_client.get(reverse("console:index"))
    session = Session.objects.get()
    assert session.expire_date > timezone.now() + timedelta(seconds=60)


def test_login_rotates_the_session_key(client: Client, owner: Administrator) -> None:
    client.get(reverse("console:login"))
    session = client.session
    session["probe"] = 1
    session.save()
    before = session.session_key
    login(client)
    assert client.session.session_key != before


def test_secrets_are_not_logged(
    client: Client, owner: Administrator, caplog: pytest.LogCaptureFixture
) -> None:
    secret = enrol_totp(owner)
    login(client, password="Wrong-Guess-42")
    login(client)
    client.post(reverse("console:mfa"), {"code": "000000"})
    client.post(reverse("console:mfa"), {"code": next_totp_code(secret, owner)})
    text = caplog.text
    assert "Wrong-Guess-42" not in text and PASSWORD not in text and secret not in text
    assert not re.search(r"\b000000\b", text)

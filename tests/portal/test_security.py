"""Portal sessions: cookie flags, CSRF, idle timeout, and the wall between the two portals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone
from tests.portal.conftest import USER_PASSWORD, portal_session, portal_sign_in

from lockstep.directory.models import Administrator, User
from lockstep.testing.sessions import signed_in_client

pytestmark = pytest.mark.django_db


def test_portal_cookie_is_secure_httponly_and_lax(person: User, settings: object) -> None:
    settings.SESSION_COOKIE_SECURE = True  # type: ignore[attr-defined]
    response = portal_sign_in(Client(), "adele")
    header = response.cookies[settings.PORTAL_SESSION_COOKIE_NAME].output()  # type: ignore[attr-defined]
    assert "Secure" in header and "HttpOnly" in header and "SameSite=Lax" in header
    device = response.cookies["lockstep_portal_device"].output()
    assert "Secure" in device and "HttpOnly" in device and "SameSite=Lax" in device
    assert settings.SESSION_COOKIE_NAME not in response.cookies  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/portal/login/", {"login": "adele", "password": USER_PASSWORD}),
        ("/portal/profile/", {"display_name": "X"}),
        ("/portal/password/", {"current_password": USER_PASSWORD}),
        ("/portal/mfa/", {"code": "123456"}),
        ("/portal/mfa/recovery-codes/", {}),
        ("/portal/logout/", {}),
    ],
)
def test_every_form_needs_the_csrf_token(person: User, path: str, data: dict[str, str]) -> None:
    client = Client(enforce_csrf_checks=True)
    assert client.get("/portal/login/").status_code == 200
    assert client.post(path, data).status_code == 403


def test_pages_carry_the_csrf_token(portal_client: Client) -> None:
    for path in ("/portal/", "/portal/profile/", "/portal/password/", "/portal/mfa/"):
        html = portal_client.get(path).content.decode()
        assert "csrfmiddlewaretoken" in html, path
    assert "csrfmiddlewaretoken" in Client().get("/portal/login/").content.decode()


def test_idle_session_expires(portal_client: Client) -> None:
    assert portal_client.get("/portal/").status_code == 200
    key = portal_session(portal_client).session_key
    row = Session.objects.get(session_key=key)
    assert row.expire_date <= timezone.now() + timedelta(seconds=settings.PORTAL_IDLE_SECONDS + 5)
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    response = portal_client.get("/portal/")
    assert response.status_code == 302 and response["Location"].startswith("/portal/login/")


def test_activity_pushes_the_expiry(portal_client: Client) -> None:
    key = portal_session(portal_client).session_key
    soon = timezone.now() + timedelta(seconds=30)
    Session.objects.filter(session_key=key).update(expire_date=soon)
    assert portal_client.get("/portal/").status_code == 200
    new_key = portal_session(portal_client).session_key
    assert Session.objects.get(session_key=new_key).expire_date > soon


def test_a_portal_session_never_grants_the_admin_portal(portal_client: Client) -> None:
    response = portal_client.get("/users/")
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert portal_client.get("/api/v1/users").status_code == 401


def test_an_admin_session_never_grants_the_portal(owner: Administrator) -> None:
    admin = signed_in_client(owner)
    assert admin.get("/users/").status_code == 200
    response = admin.get("/portal/")
    assert response.status_code == 302 and response["Location"].startswith("/portal/login/")


def test_signing_out_of_one_portal_keeps_the_other(person: User, owner: Administrator) -> None:
    client = signed_in_client(owner)
    assert portal_sign_in(client, "adele").status_code == 302
    assert client.get("/portal/").status_code == 200 and client.get("/users/").status_code == 200
    client.post("/portal/logout/")
    assert client.get("/portal/").status_code == 302
    assert client.get("/users/").status_code == 200
    assert portal_sign_in(client, "adele").status_code == 302
    client.post("/logout/")
    assert client.get("/users/").status_code == 302
    assert client.get("/portal/").status_code == 200

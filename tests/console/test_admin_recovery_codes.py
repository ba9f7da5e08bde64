"""Administrators' recovery codes (issue 11 point 1): ten shown once when the authenticator
app is turned on, each accepted once at the code step, new ones retire the old."""

from __future__ import annotations

import re

import pyotp
import pytest
from django.test import Client
from django.urls import reverse
from tests.conftest import ADMIN_PASSWORD

from lockstep.console import throttle
from lockstep.directory.models import Administrator, AuditEvent
from lockstep.directory.services import admin_recovery

CODE = re.compile(rb"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>")


def turn_on_totp(client: Client) -> tuple[str, list[str]]:
    client.get(reverse("console:mfa_enrol"))
    secret = client.session["pending_totp_secret"]
    page = client.post(reverse("console:mfa_enrol"), {"code": pyotp.TOTP(secret).now()})
    return secret, [c.decode() for c in CODE.findall(page.content)]


def sign_in_with_code(email: str, code: str) -> tuple[Client, int]:
    client = Client()
    assert (
        client.post(reverse("console:login"), {"email": email, "password": ADMIN_PASSWORD}).status_code == 302
    )
    response = client.post(reverse("console:mfa"), {"code": code})
    return client, response.status_code


@pytest.mark.django_db
def test_a_recovery_code_works_once_at_the_code_step(admin_client: Client, owner: Administrator) -> None:
    _secret, codes = turn_on_totp(admin_client)
    assert len(codes) == 10 and len(set(codes)) == 10
    client, status = sign_in_with_code(owner.email, codes[0].upper())  # case and dash do not matter
    assert status == 302 and client.get(reverse("console:users")).status_code == 200
    _again, status = sign_in_with_code(owner.email, codes[0])
    assert status == 200  # used: refused like a wrong code
    assert admin_recovery.remaining(owner) == 9
    event = AuditEvent.objects.get(action="admin.use_recovery_code")
    assert event.after == {"remaining": 9} and codes[0] not in str(event.after)


@pytest.mark.django_db
def test_new_codes_retire_the_old_and_wrong_codes_count_as_failures(
    admin_client: Client, owner: Administrator
) -> None:
    _secret, old = turn_on_totp(admin_client)
    page = admin_client.post(reverse("console:recovery_codes"))
    new = [c.decode() for c in CODE.findall(page.content)]
    assert len(new) == 10 and not set(new) & set(old)
    assert sign_in_with_code(owner.email, old[1])[1] == 200
    assert sign_in_with_code(owner.email, new[1])[1] == 302
    for _ in range(throttle.ACCOUNT_LIMIT):  # the success above cleared the count
        assert sign_in_with_code(owner.email, "aaaaa-aaaaa")[1] == 200
    locked = Client().post(reverse("console:login"), {"email": owner.email, "password": ADMIN_PASSWORD})
    assert locked.status_code == 429  # wrong codes lock the account like wrong passwords


@pytest.mark.django_db
def test_settings_shows_how_many_are_left(admin_client: Client, owner: Administrator) -> None:
    assert b"Recovery codes:" not in admin_client.get(reverse("console:settings")).content  # no TOTP yet
    turn_on_totp(admin_client)
    assert b"Recovery codes: 10 left." in admin_client.get(reverse("console:settings")).content

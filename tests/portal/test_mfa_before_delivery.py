"""With two-step verification on, a correct password alone sends nothing to Microsoft 365: the
password is presented (SPEC 3) only once the code step passed, and it waits encrypted."""

from __future__ import annotations

from typing import Any

import pyotp
import pytest
from django.test import Client
from tests.portal.conftest import USER_PASSWORD, portal_sign_in

from lockstep.directory import events
from lockstep.directory.models import User
from lockstep.portal import totp

pytestmark = pytest.mark.django_db


def test_the_password_is_presented_only_after_the_code(person: User) -> None:
    secret = totp.begin_enrolment()
    totp.confirm_enrolment(user=person, secret=secret, code=pyotp.TOTP(secret).now())
    presented: list[dict[str, Any]] = []

    def record(**kwargs: Any) -> None:
        presented.append(kwargs)

    events.password_presented.connect(record, dispatch_uid="test.presented")
    try:
        client = Client()
        assert portal_sign_in(client, "adele").status_code == 302
        assert presented == [], "a password without the second factor must send nothing"
        assert USER_PASSWORD not in str(dict(client.session.items()))  # held encrypted
        client.post("/portal/login/mfa/", {"code": "000000"})
        assert presented == []
        code = pyotp.TOTP(secret).generate_otp(totp.last_counter(person) + 1)
        assert client.post("/portal/login/mfa/", {"code": code}).status_code == 302
        assert [p["password"] for p in presented] == [USER_PASSWORD]
        assert "portal_pending_password" not in client.session
    finally:
        events.password_presented.disconnect(dispatch_uid="test.presented")

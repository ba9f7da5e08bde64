"""What the IdP relies on in the portal sign-in: the session's MFA flag is set only by the second
step (the Microsoft 365 MFA claim depends on it), and `next` may lead back to the SAML sign-in."""

from __future__ import annotations

from collections.abc import Callable

import pyotp
import pytest
from django.test import Client, RequestFactory
from tests.portal.conftest import portal_session, portal_sign_in

from lockstep.directory.models import User
from lockstep.portal import sessions, totp
from lockstep.portal.views.auth import safe_next


@pytest.mark.django_db
def test_a_password_alone_does_not_count_as_mfa(person: User) -> None:
    client = Client()
    assert portal_sign_in(client, "adele").status_code == 302
    assert portal_session(client)[sessions.PORTAL_MFA] is False


@pytest.mark.django_db
def test_the_totp_step_sets_the_mfa_flag(make_person: Callable[..., User]) -> None:
    user = make_person("tom")
    secret = totp.begin_enrolment()
    totp.confirm_enrolment(user=user, secret=secret, code=pyotp.TOTP(secret).now())
    client = Client()
    assert portal_sign_in(client, "tom")["Location"] == "/portal/login/mfa/"
    code = pyotp.TOTP(secret).generate_otp(totp.last_counter(user) + 1)
    assert client.post("/portal/login/mfa/", {"code": code}).status_code == 302
    assert portal_session(client)[sessions.PORTAL_MFA] is True


@pytest.mark.parametrize(
    ("candidate", "allowed"),
    [
        ("/saml/contoso-ltd/contoso.com/sso?c=eyJ:1abc:xyz", True),
        ("/saml/contoso-ltd/contoso.com/sso?c=.eJx%3A1abc%3Axyz", True),
        ("/saml/contoso-ltd/contoso.com/metadata", False),
        ("/saml/contoso-ltd/contoso.com/sso?c=a&next=//evil.example", False),
        ("/saml/contoso-ltd/contoso.com/sso?SAMLRequest=abc", False),
        ("//evil.example/saml/contoso-ltd/contoso.com/sso?c=a", False),
        ("https://evil.example/saml/contoso-ltd/contoso.com/sso?c=a", False),
        ("/portal/profile/", True),
    ],
)
def test_next_may_return_to_the_saml_sign_in_of_this_site_only(candidate: str, allowed: bool) -> None:
    request = RequestFactory().get("/portal/login/")
    assert (safe_next(request, candidate) == candidate) is allowed

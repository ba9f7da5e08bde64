"""The User Portal in a real browser (Playwright, Debian's Chromium, the production CSP):
sign in by username and by email, a wrong password, TOTP enrolment then sign-in with a code and
with a recovery code, a profile edit, a password change then sign-in with the new password.
"""

from __future__ import annotations

import time
from typing import Any

import pyotp
import pytest

from lockstep.directory.actors import Actor
from lockstep.directory.models import User, UserState
from lockstep.directory.services import organizations, users
from lockstep.portal import signin, totp
from lockstep.testing.browser import admin_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Quiet-Meadow-Lantern-42"
NEW_PASSWORD = "Brand-New-Orchard-88"


@pytest.fixture
def person(actor: Actor) -> User:
    user = users.create_user(
        actor=actor,
        fields={
            "username": "adele",
            "email": "adele.vance@contoso.com",
            "first_name": "Adele",
            "last_name": "Vance",
        },
        initial_password=PASSWORD,
    )
    return users.change_state(actor=actor, user_id=user.pk, to_state=UserState.ACTIVE)


def _sign_in(page: Any, base: str, login: str, password: str) -> None:
    page.goto(f"{base}/portal/")
    page.get_by_label("Username or email").fill(login)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def _sign_out(page: Any) -> None:
    page.get_by_role("button", name="Sign out").click()


def _next_code(secret: str, user: User) -> str:
    steps = pyotp.TOTP(secret)
    return steps.generate_otp(max(int(time.time()) // steps.interval, totp.last_counter(user) + 1))


def test_sign_in_by_username_and_email_and_a_wrong_password(
    browser: Any, live_server: Any, person: User
) -> None:
    from playwright.sync_api import expect

    with admin_page(browser, live_server) as watched:
        page, base = watched.page, watched.base
        _sign_in(page, base, "adele.vance@contoso.com", "Not-The-Password-1")
        expect(page.get_by_role("alert")).to_contain_text(signin.FAILED_WORDS)
        expect(page.get_by_role("link", name="Forgot your password?")).to_be_visible()

        _sign_in(page, base, "Adele", PASSWORD)
        expect(page.get_by_role("heading", name="Hello, Adele Vance")).to_be_visible()
        _sign_out(page)
        expect(page.get_by_text("You are signed out.")).to_be_visible()

        _sign_in(page, base, "Adele.Vance@Contoso.com", PASSWORD)
        expect(page.get_by_role("heading", name="Hello, Adele Vance")).to_be_visible()
        expect(page.get_by_text("not in any Microsoft 365 directory")).to_be_visible()


def test_totp_enrolment_then_code_and_recovery_code(browser: Any, live_server: Any, person: User) -> None:
    from playwright.sync_api import expect

    with admin_page(browser, live_server) as watched:
        page, base = watched.page, watched.base
        _sign_in(page, base, "adele", PASSWORD)
        page.get_by_role("link", name="Two-step verification").first.click()
        expect(page.get_by_role("heading", name="Set up two-step verification")).to_be_visible()
        expect(page.get_by_role("img", name="QR code to scan with your authenticator app")).to_be_visible()
        secret = page.locator("code.secret").inner_text()
        page.get_by_label("Six-digit code").fill(pyotp.TOTP(secret).now())
        page.get_by_role("button", name="Turn on").click()
        expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
        codes = page.get_by_role("list", name="Recovery codes").locator("code").all_inner_texts()
        assert len(codes) == 10
        _sign_out(page)

        person.refresh_from_db()
        _sign_in(page, base, "adele", PASSWORD)
        expect(page.get_by_role("heading", name="Two-step verification")).to_be_visible()
        page.get_by_label("Code from your authenticator app, or a recovery code").fill(
            _next_code(secret, person)
        )
        page.get_by_role("button", name="Verify").click()
        expect(page.get_by_role("heading", name="Hello, Adele Vance")).to_be_visible()
        _sign_out(page)

        _sign_in(page, base, "adele", PASSWORD)
        page.get_by_label("Code from your authenticator app, or a recovery code").fill(codes[3])
        page.get_by_role("button", name="Verify").click()
        expect(page.get_by_text("You signed in with a recovery code; 9 left.")).to_be_visible()
        expect(page.get_by_role("heading", name="Hello, Adele Vance")).to_be_visible()


def test_profile_edit_of_an_allowed_field(browser: Any, live_server: Any, person: User, actor: Actor) -> None:
    from playwright.sync_api import expect

    organizations.update_settings(actor=actor, changes={"portal_editable_fields": ["job_title"]})
    with admin_page(browser, live_server) as watched:
        page, base = watched.page, watched.base
        _sign_in(page, base, "adele", PASSWORD)
        page.get_by_role("link", name="Your profile").click()
        expect(page.get_by_label("Username")).to_have_count(0)
        page.get_by_label("Job title").fill("Retail Manager")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_text("Your profile is saved.")).to_be_visible()
        expect(page.get_by_label("Job title")).to_have_value("Retail Manager")
    person.refresh_from_db()
    assert person.job_title == "Retail Manager"


def test_password_change_then_sign_in_with_the_new_one(browser: Any, live_server: Any, person: User) -> None:
    from playwright.sync_api import expect

    with admin_page(browser, live_server) as watched:
        page, base = watched.page, watched.base
        _sign_in(page, base, "adele", PASSWORD)
        page.get_by_role("link", name="Change your password").click()
        page.get_by_label("Current password").fill(PASSWORD)
        page.get_by_label("New password", exact=True).fill("short")
        page.get_by_label("New password again").fill("short")
        page.get_by_role("button", name="Change password").click()
        expect(page.locator("#id_new_password_error li").first).to_be_visible()
        page.get_by_label("Current password").fill(PASSWORD)
        page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
        page.get_by_label("New password again").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Change password").click()
        expect(page.get_by_text("Your password is changed.")).to_be_visible()
        _sign_out(page)
        _sign_in(page, base, "adele", PASSWORD)
        expect(page.get_by_role("alert")).to_contain_text(signin.FAILED_WORDS)
        _sign_in(page, base, "adele", NEW_PASSWORD)
        expect(page.get_by_role("heading", name="Hello, Adele Vance")).to_be_visible()


def test_admin_clears_a_sign_in_lock(browser: Any, live_server: Any, person: User, owner: Any) -> None:
    from playwright.sync_api import expect

    from lockstep.portal import throttle

    for _ in range(throttle.ACCOUNT_LIMIT):
        throttle.record_failure(users=[person], address="203.0.113.9", organization_id=person.organization_id)
    with admin_page(browser, live_server, owner) as watched:
        page, base = watched.page, watched.base
        page.goto(f"{base}/settings/")
        page.get_by_role("link", name="Sign-in lockouts").click()
        row = page.get_by_role("row").filter(has_text="adele")
        expect(row).to_contain_text(str(throttle.ACCOUNT_LIMIT))
        row.get_by_role("button", name="Clear").click()
        expect(page.get_by_text("The lock is cleared")).to_be_visible()
        expect(page.get_by_role("row").filter(has_text="adele")).to_have_count(0)
    assert throttle.locked_until(person) is None

"""The Admin Portal in a real browser: Playwright driving Debian's Chromium under the production CSP.

Flow (issue 2, "Must show"): sign in with password and a TOTP code, create a user through
Manual user entry, see the weak-password messages beside the field, fix it, save, and find the
user in the list through the live (HTMX) search (a part of a name), turn to page 2 by its number.
No console errors, no CSP violations.

If /usr/bin/chromium cannot be launched the test FAILS. It is skipped only when Chromium is
absent and LOCKSTEP_ALLOW_NO_BROWSER=1 says that is acceptable on this machine.
"""

from __future__ import annotations

from typing import Any

import pytest

from lockstep.directory.actors import Actor
from lockstep.directory.models import Administrator, PasswordSetup, User
from lockstep.directory.services import users
from lockstep.testing.browser import SCREENSHOTS, admin_page, sign_in
from lockstep.testing.sessions import enrol_totp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADMIN_EMAIL = "owner@contoso.com"
ADMIN_PASSWORD = "Correct-Horse-Battery-9"  # the `owner` fixture's
GOOD_PASSWORD = "Tr1cky-Kangaroo-Lamp"


def test_admin_creates_a_user_and_finds_it(browser: Any, live_server: Any, owner: Administrator) -> None:
    from playwright.sync_api import expect

    org = owner.organization
    secret = enrol_totp(owner)
    users.create_user(
        actor=Actor.for_admin(owner),
        fields={
            "username": "megan",
            "email": "megan@contoso.com",
            "first_name": "Megan",
            "last_name": "Bowen",
        },
    )

    with admin_page(browser, live_server, viewport={"width": 1280, "height": 900}) as watched:
        page, base = watched.page, watched.base

        # Sign in: password, then the code from the authenticator app.
        page.goto(f"{base}/users/")
        expect(page).to_have_url(f"{base}/login/?next=/users/")
        sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD, secret, owner)
        expect(page.get_by_role("heading", name="Users")).to_be_visible()
        expect(page.get_by_text("Contoso Ltd")).to_be_visible()

        # Manual user entry; the password field appears only when the box is ticked.
        page.get_by_role("link", name="(+) Manual user entry").click()
        expect(page.get_by_role("heading", name="Manual user entry")).to_be_visible()
        page.get_by_label("Username").fill("adele")
        page.get_by_label("Company email").fill("Adele.Vance@contoso.com")
        page.get_by_label("First name").fill("Adele")
        page.get_by_label("Last name").fill("Vance")
        page.get_by_label("Job title").fill("Retail Manager")
        page.get_by_label("Usage location").fill("US")
        password = page.get_by_label("Initial password", exact=True)
        expect(password).to_be_hidden()
        page.get_by_label("Specify initial password").check()
        expect(password).to_be_visible()
        password.fill("adele")
        page.get_by_role("button", name="Create user").click()

        # The policy's messages, each beside the password field.
        errors = page.locator("#id_initial_password_error li")
        expect(errors.first).to_be_visible()
        messages = errors.all_inner_texts()
        assert len(messages) >= 4, messages
        assert any("at least 8 characters" in m for m in messages), messages
        assert any("first name" in m for m in messages), messages
        expect(page.get_by_label("Initial password", exact=True)).to_have_attribute("aria-invalid", "true")
        expect(page.get_by_label("Username")).to_have_value("adele")
        page.screenshot(path=str(SCREENSHOTS / "lockstep-manual-entry-errors.png"), full_page=True)

        page.get_by_label("Initial password", exact=True).fill(GOOD_PASSWORD)
        page.get_by_role("button", name="Create user").click()
        expect(page.get_by_text("User adele created.")).to_be_visible()
        expect(page.get_by_role("heading", name="Adele Vance")).to_be_visible()

        # Find users through the live search (HTMX swaps the table): a part of a last name finds Megan Bowen.
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
        table = page.locator("table.users tbody")
        expect(table.get_by_role("link", name="adele")).to_be_visible()
        page.get_by_role("textbox", name="Search").press_sequentially("OWEN", delay=40)
        expect(table.get_by_role("link", name="adele")).to_have_count(0)
        expect(table.get_by_role("link", name="megan")).to_be_visible()
        expect(page.get_by_role("status")).to_contain_text("1 user")
        expect(page).to_have_url(f"{base}/users/?q=OWEN&state=&group=&department=&domain=")
        page.screenshot(path=str(SCREENSHOTS / "lockstep-users-search.png"), full_page=True)

        # Page numbers: 52 users are two pages; page 2 holds the last two.
        User.objects.bulk_create(
            User(
                organization=org,
                username=f"user{n:02d}",
                email=f"user{n:02d}@contoso.com",
                display_name=f"User {n}",
                immutable_id=f"user{n:02d}immutable",
            )
            for n in range(50)
        )
        page.goto(f"{base}/users/")
        expect(page.get_by_role("status")).to_contain_text("52 users, showing 1 to 50")
        page.get_by_role("navigation", name="Pages").get_by_role("link", name="Page 2").click()
        expect(page).to_have_url(f"{base}/users/?page=2")
        expect(table.get_by_role("link", name="user49")).to_be_visible()
        expect(table.get_by_role("row")).to_have_count(2)
        expect(page.get_by_role("link", name="Page 2")).to_have_attribute("aria-current", "page")

    user = User.objects.get(username="adele")
    assert user.email == "adele.vance@contoso.com" and user.password_setup == PasswordSetup.INITIAL

"""Settings, Email in a real browser: save the branding, send a test email, see it sent in the outbox."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings

from lockstep.directory.models import Administrator
from lockstep.mail import delivery
from lockstep.testing.browser import SCREENSHOTS, admin_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_brands_the_emails_and_sends_a_test(
    browser: Any, live_server: Any, owner: Administrator, mailbox: Any
) -> None:
    from playwright.sync_api import expect

    with admin_page(browser, live_server, owner) as watched:
        page, base = watched.page, watched.base
        page.goto(f"{base}/settings/")
        page.get_by_role("navigation", name="Settings").get_by_role("link", name="Email").click()
        expect(page.get_by_role("heading", name="Email", exact=True)).to_be_visible()
        expect(page.get_by_text(f"127.0.0.1:{settings.EMAIL_PORT}")).to_be_visible()

        page.get_by_label("Sender name").fill("Contoso IT")
        page.get_by_label("Sender address").fill("it@contoso.com")
        page.get_by_label("Brand colour").fill("#12345")
        page.get_by_label("Footer line").fill("Contoso Ltd, 1 Main Street")
        page.get_by_role("button", name="Save email settings").click()
        expect(page.locator("#id_email_brand_color_error li")).to_contain_text("#RRGGBB")
        expect(page.get_by_label("Brand colour")).to_have_attribute("aria-invalid", "true")

        page.get_by_label("Brand colour").fill("#AA3300")
        page.get_by_role("button", name="Save email settings").click()
        expect(page.get_by_text("Email settings saved.")).to_be_visible()
        expect(page.get_by_label("Sender name")).to_have_value("Contoso IT")

        page.get_by_label("Send a test email to").fill("me@contoso.com")
        page.get_by_role("button", name="Send a test email").click()
        expect(page.get_by_text("Test email queued for me@contoso.com")).to_be_visible()
        page.screenshot(path=str(SCREENSHOTS / "lockstep-email-settings.png"), full_page=True)

        assert delivery.drain() == 1  # what the worker does
        [received] = mailbox.wait_for("me@contoso.com")
        assert received.message["From"] == "Contoso IT <it@contoso.com>"
        assert received.subject == "Test email from Contoso Ltd"
        assert "background:#AA3300" in received.html
        assert "Contoso Ltd, 1 Main Street" in received.text

        page.get_by_role("link", name="The whole outbox").click()
        expect(page.get_by_role("heading", name="Outbox")).to_be_visible()
        row = page.locator("tr", has_text="me@contoso.com")
        expect(row.locator("td.status")).to_contain_text("Sent ")
        page.get_by_label("Status").select_option("failed")
        page.get_by_role("button", name="Filter").click()
        expect(page.get_by_text("No emails match.")).to_be_visible()
        page.get_by_label("Status").select_option("")
        page.get_by_role("button", name="Filter").click()
        page.screenshot(path=str(SCREENSHOTS / "lockstep-outbox.png"), full_page=True)

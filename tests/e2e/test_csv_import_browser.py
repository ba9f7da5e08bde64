"""A CSV import in a real browser (Playwright, Debian's Chromium, production CSP).

From the Users list: Import CSV, upload a file with one bad row, read the preview's per-row
status (will create / will update / error naming the field and the rule), confirm, and find
the users created and updated; the bad row is left out.
"""

from __future__ import annotations

from typing import Any

import pytest

from lockstep.directory.actors import Actor
from lockstep.directory.models import Administrator, AuditEvent, User
from lockstep.directory.services import users
from lockstep.testing.browser import SCREENSHOTS, admin_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FILE = (
    "Username,Company email,First name,Last name,Job title\n"
    "zoe,zoe.ng@contoso.com,Zoe,Ng,Engineer\n"
    "adele,,,,Retail Manager\n"
    "yan,yan@contoso,Yan,Li,\n"
).encode("utf-8-sig")


def test_csv_import_preview_then_confirm(browser: Any, live_server: Any, owner: Administrator) -> None:
    from playwright.sync_api import expect

    users.create_user(
        actor=Actor.for_admin(owner),
        fields={"username": "adele", "email": "adele@contoso.com", "job_title": "Clerk"},
    )
    with admin_page(browser, live_server, owner) as watched:
        page = watched.page
        page.goto(f"{live_server.url}/users/")
        page.get_by_role("link", name="Import CSV").click()
        expect(page.get_by_role("heading", name="Import users from CSV")).to_be_visible()
        page.get_by_label("CSV file").set_input_files(
            {"name": "people.csv", "mimeType": "text/csv", "buffer": FILE}
        )
        page.get_by_role("button", name="Upload and preview").click()

        expect(page.get_by_role("heading", name="Import preview")).to_be_visible()
        expect(page.get_by_text("people.csv: 3 rows, read as UTF-8, separated by commas.")).to_be_visible()
        errors = page.locator("table.import-preview").first
        expect(errors.get_by_role("row", name="4 yan yan@contoso")).to_contain_text(
            "error: email: The domain must be a valid domain name of at most 48 characters."
        )
        rows = page.locator("table.import-preview").nth(1)
        expect(rows.get_by_role("row", name="2 zoe zoe.ng@contoso.com")).to_contain_text("will create")
        expect(rows.get_by_role("row", name="3 adele")).to_contain_text("will update: job_title")
        assert not User.objects.filter(username="zoe").exists()  # nothing written before the confirmation
        page.screenshot(path=str(SCREENSHOTS / "lockstep-csv-preview.png"), full_page=True)

        page.get_by_role("button", name="Import 2 users (leave out 1 with errors)").click()
        expect(page.get_by_role("heading", name="Import done")).to_be_visible()
        expect(
            page.get_by_text("Imported: 1 user created, 1 updated, 1 row with errors left out.")
        ).to_be_visible()
        zoe = User.objects.get(username="zoe")
        assert (zoe.email, zoe.display_name, zoe.job_title, zoe.state) == (
            "zoe.ng@contoso.com",
            "Zoe Ng",
            "Engineer",
            "staged",
        )
        assert User.objects.get(username="adele").job_title == "Retail Manager"
        assert not User.objects.filter(username="yan").exists()
        assert AuditEvent.objects.filter(action="user.create", target_label="zoe").count() == 1

"""The Microsoft 365 pages in a real browser: Playwright driving Debian's Chromium under the production CSP.

Flow: add a directory against m365sim (client secret, custom endpoints), see the verification and
the domains, list the tenant's users with the HTMX progress poll stopping by itself, bind a user
from the user's page and see it synced. No console errors, no CSP violations.

If /usr/bin/chromium cannot be launched the test FAILS; it is skipped only when Chromium is absent
and LOCKSTEP_ALLOW_NO_BROWSER=1 says that is acceptable on this machine (as tests/e2e/).
"""

from __future__ import annotations

from typing import Any

import pytest

from lockstep.directory.actors import Actor
from lockstep.directory.models import Administrator
from lockstep.directory.services import users
from lockstep.m365.models import ImportScan, SyncStatus, UserBinding
from lockstep.m365.services import imports
from lockstep.testing.browser import SCREENSHOTS, admin_page
from lockstep.testing.m365 import sync_until_settled
from m365sim.testing import SimServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sync() -> None:
    sync_until_settled()


def test_add_verify_list_and_bind_in_the_browser(
    browser: Any, live_server: Any, sim: SimServer, owner: Administrator
) -> None:
    from playwright.sync_api import expect

    person = users.create_user(
        actor=Actor.for_admin(owner),
        fields={
            "username": "nestor",
            "email": "nestor@contoso.com",
            "first_name": "Nestor",
            "last_name": "Wilke",
        },
        state="active",
        initial_password="Typed-By-Admin-42x",
    )
    # Signed in with MFA passed (the sign-in pages have their own browser test in tests/e2e/).
    with admin_page(browser, live_server, owner, viewport={"width": 1280, "height": 900}) as watched:
        page, base = watched.page, watched.base

        # Add a directory: the secret field shows once "Client secret" is chosen, the endpoints once "Custom".
        page.goto(f"{base}/directories/")
        page.get_by_role("link", name="(+) Add directory").click()
        expect(page.get_by_role("heading", name="Add a Microsoft 365 directory")).to_be_visible()
        page.get_by_label("Name").fill("Contoso 365")
        page.get_by_label("Tenant id").fill(sim.tenant_id)
        page.get_by_label("Client id").fill(sim.client_id)
        secret = page.locator("#id_client_secret")
        expect(secret).to_be_hidden()
        page.get_by_role("radio", name="Client secret").check()
        expect(secret).to_be_visible()
        secret.fill(sim.client_secret)
        login_url = page.get_by_label("Login base URL")
        expect(login_url).to_be_hidden()
        page.get_by_label("Cloud").select_option("custom")
        expect(login_url).to_be_visible()
        login_url.fill(sim.login_base_url)
        page.get_by_label("Graph base URL").fill(sim.graph_base_url)
        page.get_by_role("button", name="Add and verify").click()

        # Verified: token, permissions, roles, and the domains with default / unverified.
        expect(page.get_by_text("Directory Contoso 365 added and verified: Healthy.")).to_be_visible()
        expect(page.get_by_text("Token obtained.")).to_be_visible()
        domains = page.locator("table.data").first
        expect(domains.get_by_role("row", name="contoso.com verified managed default")).to_be_visible()
        expect(domains.get_by_role("row", name="northwind.example unverified managed")).to_be_visible()
        expect(page.get_by_role("link", name="Download the bindings (CSV)")).to_be_visible()
        page.screenshot(path=str(SCREENSHOTS / "lockstep-directory-detail.png"), full_page=True)

        # Import tab: list the users; the progress poll (HTMX, every 2 s) stops once the scan is done.
        page.get_by_role("navigation", name="Directory").get_by_role("link", name="Import").click()
        page.get_by_role("button", name="List users").click()
        expect(page.locator("#scan-progress[hx-trigger]")).to_be_visible()
        imports.run_scan(scan_id=ImportScan.objects.get().pk)  # what a worker does
        expect(page.get_by_text("Listed 49 accounts")).to_be_visible(timeout=10_000)
        expect(page.locator("#scan-progress[hx-trigger]")).to_have_count(0)
        expect(page.get_by_text("49 accounts match")).to_be_visible()  # the candidates came in, no reload
        page.get_by_role("textbox", name="Search").press_sequentially("adele", delay=40)  # live search (HTMX)
        expect(page.get_by_text("2 accounts match")).to_be_visible()
        expect(page.get_by_role("cell", name="adele.vance@contoso.com", exact=True)).to_be_visible()
        expect(page.get_by_role("cell", name="alex.braun@contoso.com", exact=True)).to_have_count(0)
        page.screenshot(path=str(SCREENSHOTS / "lockstep-import.png"), full_page=True)

        # Bind the user from the user's page, then see it synced.
        page.goto(f"{base}/users/{person.pk}/")
        section = page.get_by_role("region", name="Directories")
        expect(section.get_by_text("Not bound")).to_be_visible()
        section.get_by_label("Directory").select_option(label="Contoso 365")
        section.get_by_role("button", name="Bind").click()
        expect(page.get_by_text("nestor bound to Contoso 365")).to_be_visible()
        sync()
        assert UserBinding.objects.get(user=person).status == SyncStatus.SYNCED
        page.reload()
        section = page.get_by_role("region", name="Directories")
        expect(section.get_by_text("Synced")).to_be_visible()
        expect(section.get_by_text("as nestor@contoso.com")).to_be_visible()
        page.screenshot(path=str(SCREENSHOTS / "lockstep-user-directories.png"), full_page=True)
        assert sim.sim.tenant.find_user("nestor@contoso.com") is not None

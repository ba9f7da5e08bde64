"""The Admin Portal's SSO page in a real browser (Playwright, Debian's Chromium, the production
CSP), against m365sim: readiness shows a blocker; once it is fixed (a passing test sign-in),
federate; the domain shows as in progress; roll back through the confirmation page."""

from __future__ import annotations

from typing import Any

import pytest

from lockstep.directory.actors import Actor
from lockstep.directory.models import Administrator
from lockstep.m365.services import directories
from lockstep.testing.browser import SCREENSHOTS, admin_page
from lockstep.testing.m365 import directory_fields
from lockstep.testing.sso_world import READY_DOMAIN, bound_active_user, only_lockstep_accounts

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_readiness_federate_in_progress_and_roll_back(
    browser: Any, live_server: Any, owner: Administrator, sim: Any
) -> None:
    from playwright.sync_api import expect

    actor = Actor.for_admin(owner)
    directory, _ = directories.add_directory(actor=actor, fields=directory_fields(sim))
    only_lockstep_accounts(sim)
    bound_active_user(actor, directory, "nina")

    with admin_page(browser, live_server, owner, console=("error",)) as watched:
        page, base = watched.page, watched.base
        page.goto(f"{base}/directories/{directory.pk}/")
        page.get_by_role("navigation", name="Directory").get_by_role("link", name="Single sign-on").click()
        domain = page.locator(f'section[data-domain="{READY_DOMAIN}"]')
        expect(domain.locator('li[data-code="no_test_sign_in"]')).to_be_visible()
        federate = domain.get_by_role("button", name=f"Federate {READY_DOMAIN}")
        expect(federate).to_be_disabled()
        expect(domain.get_by_text("Federate is off while anything above blocks it.")).to_be_visible()

        domain.get_by_role("button", name="Test sign-in").click()
        expect(
            page.get_by_text(f"Test sign-in for {READY_DOMAIN} passed (as nina@{READY_DOMAIN}).")
        ).to_be_visible()
        expect(domain.get_by_text(f"Ready: nothing blocks federating {READY_DOMAIN}.")).to_be_visible()

        federate.click()
        expect(page.get_by_text(f"{READY_DOMAIN} federated: sign-ins to Microsoft 365")).to_be_visible()
        expect(domain.locator(".sso-microsoft")).to_have_text("Federated")
        expect(domain.locator(".sso-in-progress")).to_have_text("in progress")
        page.screenshot(path=str(SCREENSHOTS / "sso-page-federated.png"), full_page=True)

        domain.get_by_role("link", name=f"Roll back {READY_DOMAIN}").click()
        expect(
            page.get_by_text(f"Users of {READY_DOMAIN} will need a Microsoft 365 password")
        ).to_be_visible()
        page.get_by_role("button", name=f"Roll back {READY_DOMAIN} to managed").click()
        expect(page.get_by_text(f"{READY_DOMAIN} rolled back to managed")).to_be_visible()
        expect(domain.locator(".sso-lockstep")).to_contain_text("rolled back (managed)")
        expect(domain.locator(".sso-microsoft")).to_have_text("Managed")

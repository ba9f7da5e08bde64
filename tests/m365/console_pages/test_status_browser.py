"""Live status and the dashboard's truth in a real browser (Playwright, Debian's Chromium, the
production CSP), against m365sim.

- Binding a user shows "Pending", then "Synced" once the worker has run, without a reload; the
  polling stops once settled (no further requests to the partial).
- The dashboard's directory card is green, amber with held writes, red while Microsoft 365
  cannot be reached (the emulator drops every connection), with a banner on the other pages
  linking to the directory, and green again once a pass gets an answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lockstep.directory.actors import Actor
from lockstep.directory.models import Administrator, User
from lockstep.directory.services import users
from lockstep.m365 import sync_loop
from lockstep.m365.models import Directory, HeldWrite, SyncStatus, UserBinding
from lockstep.m365.services import directories
from lockstep.testing.browser import SCREENSHOTS, admin_page
from lockstep.testing.m365 import directory_fields, sync_until_settled
from m365sim.testing import SimServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def signed_in_page(
    browser: Any, live_server: Any, owner: Administrator
) -> Iterator[tuple[Any, str, list[str]]]:
    """A page signed in as the owner (MFA passed), collecting console errors and CSP violations."""
    with admin_page(browser, live_server, owner, console=("error",)) as watched:
        yield watched.page, watched.base, watched.problems


def connected(owner: Administrator, sim: SimServer) -> Directory:
    directory, _ = directories.add_directory(
        actor=Actor.for_admin(owner), fields={**directory_fields(sim), "name": "Contoso 365"}
    )
    return directory


def person(owner: Administrator, name: str) -> User:
    return users.create_user(
        actor=Actor.for_admin(owner),
        fields={
            "username": name,
            "email": f"{name}@contoso.com",
            "first_name": name.title(),
            "last_name": "Test",
        },
        state="active",
        initial_password="Typed-By-Admin-42x",
    )


def test_bind_shows_pending_then_synced_without_reload_and_stops_polling(
    signed_in_page: tuple[Any, str, list[str]], owner: Administrator, sim: SimServer
) -> None:
    from playwright.sync_api import expect

    page, base, problems = signed_in_page
    connected(owner, sim)
    nestor = person(owner, "nestor")
    page.goto(f"{base}/users/{nestor.pk}/")
    section = page.locator("#user-directories")
    section.get_by_label("Directory").select_option(label="Contoso 365")
    section.get_by_role("button", name="Bind").click()
    expect(page.get_by_text("nestor bound to Contoso 365")).to_be_visible()
    expect(section.get_by_text("Pending", exact=True)).to_be_visible()
    expect(page.locator("#user-directories[hx-trigger]")).to_have_count(1)

    page.evaluate("window.__sameDocument = true")  # gone if the page were reloaded
    status_requests: list[str] = []
    page.on("request", lambda r: status_requests.append(r.url) if "/status/" in r.url else None)
    sync_until_settled()  # what the worker does
    assert UserBinding.objects.get(user=nestor).status == SyncStatus.SYNCED
    expect(section.get_by_text("Synced", exact=True)).to_be_visible(timeout=10_000)
    expect(section.get_by_text("as nestor@contoso.com")).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True
    assert status_requests, "the section polled its partial"

    # Settled: the partial came back without the polling attributes, and no request follows.
    expect(page.locator("#user-directories[hx-trigger]")).to_have_count(0)
    settled_at = len(status_requests)
    page.wait_for_timeout(5_000)  # more than two polling intervals
    assert len(status_requests) == settled_at
    page.screenshot(path=str(SCREENSHOTS / "lockstep-live-status.png"), full_page=True)
    assert problems == []


def test_dashboard_green_amber_red_and_the_banner(
    signed_in_page: tuple[Any, str, list[str]], owner: Administrator, sim: SimServer, settings: Any
) -> None:
    from playwright.sync_api import expect

    settings.M365_DRIFT_SECONDS = 0  # every worker round reads Microsoft 365 (a drift round)
    page, base, problems = signed_in_page
    directory = connected(owner, sim)
    adele = person(owner, "adele")
    directories_binding = UserBinding.objects.create(directory=directory, user=adele)
    sync_until_settled()
    sync_loop.run_once(ports=sync_loop.PortCache())
    card = page.locator(".directory-card")

    page.goto(f"{base}/")
    expect(card).to_have_class("directory-card state-ok")
    expect(card.get_by_text("Healthy", exact=True)).to_be_visible()
    expect(card.get_by_text("1 user, 0 groups")).to_be_visible()
    expect(card.get_by_text("not yet")).to_have_count(0)  # a last successful sync is shown
    expect(page.locator(".status-banner")).to_have_count(0)

    # Amber: a disable held by the deletion brake.
    HeldWrite.objects.create(directory=directory, binding=directories_binding, operation="disable")
    page.goto(f"{base}/")
    expect(card).to_have_class("directory-card state-attention")
    expect(card.get_by_text("Needs attention")).to_be_visible()
    expect(card.get_by_text("1 write is held by the deletion brake", exact=False)).to_be_visible()
    page.goto(f"{base}/directories/")
    expect(page.get_by_role("cell", name="Needs attention", exact=False)).to_be_visible()
    expect(page.get_by_text("Healthy", exact=True)).to_have_count(0)
    HeldWrite.objects.all().delete()

    # Red: Microsoft 365 drops every connection; the worker's next round notices.
    sim.control("POST", "/faults", json={"kind": "reset", "path": "^/v1.0"})
    try:
        sync_loop.run_once(ports=sync_loop.PortCache())
        page.goto(f"{base}/")
        expect(card).to_have_class("directory-card state-down")
        expect(card.get_by_text("Cannot reach Microsoft 365", exact=True)).to_be_visible()
        page.screenshot(path=str(SCREENSHOTS / "lockstep-dashboard-red.png"), full_page=True)
        page.goto(f"{base}/groups/")
        banner = page.get_by_role("status", name="Microsoft 365 status")
        expect(banner).to_contain_text("Microsoft 365 sync is not working")
        expect(banner).to_contain_text("cannot reach Microsoft 365")
        banner.get_by_role("link", name="Contoso 365").click()
        expect(page.get_by_role("heading", name="Contoso 365 Cannot reach Microsoft 365")).to_be_visible()
    finally:
        sim.control("DELETE", "/faults")

    # Green again once a round gets an answer.
    sync_loop.run_once(ports=sync_loop.PortCache())
    page.goto(f"{base}/")
    expect(card).to_have_class("directory-card state-ok")
    expect(page.locator(".status-banner")).to_have_count(0)
    assert problems == []

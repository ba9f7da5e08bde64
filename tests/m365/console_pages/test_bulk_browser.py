"""A bulk suspend in a real browser (Playwright, Debian's Chromium, production CSP).

Tick three users on the Users list (the header box, then untick one) (two bound to the m365sim tenant, one not), press Suspend,
read the one confirmation stating the Microsoft 365 effect, confirm, and see the users suspended,
one audit row each, and their Microsoft 365 sign-in blocked after the sync.
"""

from __future__ import annotations

from typing import Any

import pytest

from lockstep.directory.actors import Actor
from lockstep.directory.models import Administrator, AuditEvent, User
from lockstep.directory.services import users
from lockstep.m365.models import Directory
from lockstep.m365.services import bulk_bindings
from lockstep.testing.browser import SCREENSHOTS, admin_page
from lockstep.testing.m365 import sync_until_settled
from m365sim.testing import SimServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_bulk_suspend_states_the_microsoft_365_effect(
    browser: Any, live_server: Any, sim: SimServer, directory: Directory, actor: Actor, owner: Administrator
) -> None:
    from playwright.sync_api import expect

    people = {
        name: users.create_user(
            actor=actor,
            fields={"username": name, "email": f"{name}@contoso.com", "last_name": "Bulk"},
            state="active",
        )
        for name in ("kim", "lee", "max", "zed")
    }
    bulk_bindings.bind_users(
        actor=actor, user_ids=[people["kim"].pk, people["lee"].pk], directory_id=directory.pk
    )
    sync_until_settled()

    with admin_page(browser, live_server, owner) as watched:
        page = watched.page
        page.goto(f"{live_server.url}/users/")
        page.get_by_label("Select every user on this page").check()  # ticks all four
        expect(page.get_by_label("Select zed")).to_be_checked()
        page.get_by_label("Select zed").uncheck()
        page.screenshot(path=str(SCREENSHOTS / "lockstep-users-bulk-bar.png"), full_page=True)
        page.get_by_role("button", name="Suspend", exact=True).click()

        expect(page.get_by_role("heading", name="Suspend: 3 users selected")).to_be_visible()
        expect(
            page.get_by_text(
                "Suspending 3 users blocks the 2 bound ones' sign-in to Microsoft 365 (Contoso 365, contoso.com) "
                "within seconds and revokes their sessions; 1 is not bound and is only suspended in Lockstep."
            )
        ).to_be_visible()
        assert User.objects.filter(state="suspended").count() == 0  # nothing before the confirmation
        page.screenshot(path=str(SCREENSHOTS / "lockstep-bulk-confirm.png"), full_page=True)
        page.get_by_role("button", name="Suspend 3 users").click()

        expect(page.get_by_text("3 users suspended.")).to_be_visible()
        assert dict(User.objects.values_list("username", "state")) == {
            "kim": "suspended",
            "lee": "suspended",
            "max": "suspended",
            "zed": "active",
        }
        audit = AuditEvent.objects.filter(action="user.suspend").values_list("target_label", flat=True)
        assert sorted(audit) == ["kim", "lee", "max"]
        sync_until_settled()
        for name in ("kim", "lee"):
            account = sim.sim.tenant.find_user(f"{name}@contoso.com")
            assert account is not None and account["accountEnabled"] is False
        page.get_by_role("link", name="Back to the users").click()
        expect(page.locator("table.users")).to_be_visible()

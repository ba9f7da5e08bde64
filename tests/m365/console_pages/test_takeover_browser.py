"""Safe takeover in a real browser (issue 8, point 5): Playwright driving Debian's Chromium.

A Lockstep user without a job title is matched to an account that has one. The preview warns
that the account would lose it when "Fill empty Lockstep fields from Microsoft 365" is off; the
option is on by default, and with it the import keeps the value in m365sim. Undo then asks for
confirmation, says what Lockstep changed in Microsoft 365, and puts the old value back.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from lockstep.directory.actors import Actor
from lockstep.directory.models import Administrator
from lockstep.directory.services import users
from lockstep.m365.models import ImportBatch
from lockstep.m365.services import directories, imports
from lockstep.testing.browser import SCREENSHOTS, admin_page
from lockstep.testing.m365 import TAKEOVER_UPN, directory_fields, sync_until_settled, takeover_pair
from m365sim.testing import SimServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_takeover_keeps_the_remote_value_and_undo_puts_the_old_one_back(
    browser: Any, live_server: Any, sim: SimServer, owner: Administrator
) -> None:
    from playwright.sync_api import expect

    actor = Actor.for_admin(owner)
    directory, _ = directories.add_directory(actor=actor, fields=directory_fields(sim))
    account, nestor = takeover_pair(actor, sim)
    assert imports.scan_candidates(actor=actor, directory_id=directory.pk, wait=True).state == "done"

    with admin_page(browser, live_server, owner, console=()) as watched:
        page, base = watched.page, watched.base

        # Fill is on by default; switched off, the preview warns which value would be lost.
        page.goto(f"{base}/directories/{directory.pk}/import/?q=nestor")
        fill = page.get_by_label("Fill empty Lockstep fields from Microsoft 365")
        expect(fill).to_be_checked()
        page.get_by_label(f"Select {TAKEOVER_UPN}").check()
        fill.uncheck()
        page.get_by_role("button", name="Preview the import").click()
        warning = page.locator("#takeover-losses")
        expect(warning).to_contain_text("1 account would lose their Job title in Microsoft 365")
        page.screenshot(path=str(SCREENSHOTS / "lockstep-import-preview-losses.png"), full_page=True)
        page.get_by_role("link", name="Back").click()

        # With the default, nothing is lost: the empty field is filled before binding.
        expect(page.get_by_label("Fill empty Lockstep fields from Microsoft 365")).to_be_checked()
        page.get_by_label(f"Select {TAKEOVER_UPN}").check()
        page.get_by_role("button", name="Preview the import").click()
        expect(page.locator("#takeover-fills")).to_contain_text("1 account keeps their Job title:")
        expect(page.locator("#takeover-losses")).to_have_count(0)
        page.get_by_role("button", name="Import 1 account").click()
        imports.run_import(batch_id=ImportBatch.objects.get().pk)  # what a worker does
        expect(page.get_by_text("Import done: 1 of 1 processed")).to_be_visible(timeout=10_000)
        sync_until_settled()
        assert sim.sim.tenant.users[account["id"]]["jobTitle"] == "Manager"

        # Lockstep changes the job title; the undo says so, asks, and puts the old value back.
        users.update_user(actor=actor, user_id=nestor.pk, changes={"job_title": "CTO"})
        sync_until_settled()
        assert sim.sim.tenant.users[account["id"]]["jobTitle"] == "CTO"
        page.reload()
        page.get_by_role("link", name="Undo this import…").click()
        expect(page.get_by_role("heading", name="Undo import")).to_be_visible()
        expect(page.get_by_text("Job title: Manager → CTO")).to_be_visible()
        expect(page.get_by_label("Put the old values back in Microsoft 365")).to_be_checked()
        page.screenshot(path=str(SCREENSHOTS / "lockstep-import-undo.png"), full_page=True)
        page.get_by_role("button", name="Undo the import").click()
        expect(page.get_by_text("The old values of 1 account(s) are being put back")).to_be_visible()
        sync_until_settled()
        assert sim.sim.tenant.users[account["id"]]["jobTitle"] == "Manager"
        # No reload: the write-back table polls while a write-back waits, then stops.
        expect(page.get_by_role("cell", name="Job title: put back Manager")).to_be_visible(timeout=10_000)
        expect(page.locator("#batch-restores")).not_to_have_attribute("hx-get", re.compile(".+"))

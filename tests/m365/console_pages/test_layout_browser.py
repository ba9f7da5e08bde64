"""Every main page of the Admin Portal in Debian's Chromium at 1366 px and at 390 px.

At both widths the page itself never scrolls sideways (a wide table scrolls inside its own box
at 390 px), and the main menu highlights exactly one item, the page's section (directory pages
under Directories; a user's and a group's Microsoft 365 pages under Users and Groups). Then the
suspend confirmation states the Microsoft 365 effect before anything happens, and the action
leaves a success message.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from lockstep.directory.actors import Actor
from lockstep.directory.models import Administrator, UserState
from lockstep.directory.services import groups, users
from lockstep.m365.models import Directory
from lockstep.m365.services import bindings
from lockstep.testing.browser import CSP_PROBE, SCREENSHOTS, admin_page, browser_context
from lockstep.testing.m365 import sync_until_settled

from .conftest import active_megan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OVERFLOW = """() => {
  const doc = document.documentElement;
  const wide = [...document.querySelectorAll('body *')].filter(el => {
    const r = el.getBoundingClientRect();
    if (r.right <= doc.clientWidth + 1) return false;
    for (let p = el.parentElement; p; p = p.parentElement) {  // inside its own scroll box: fine
      const s = getComputedStyle(p);
      if ((s.overflowX === 'auto' || s.overflowX === 'scroll' || s.overflowX === 'hidden') && p !== doc && p !== document.body) return false;
    }
    return true;
  }).slice(0, 3).map(el => el.tagName + '.' + el.className + ' ' + (el.textContent || '').trim().slice(0, 40));
  return {scroll: doc.scrollWidth, client: doc.clientWidth, wide};
}"""


def _pages(directory: Directory, user_id: int, group_id: int) -> list[tuple[str, str]]:
    d, u, g = directory.pk, user_id, group_id
    return [
        (reverse("console:index"), "Dashboard"),
        (reverse("console:users"), "Users"),
        (reverse("console:user_new"), "Users"),
        (reverse("console:user_detail", args=[u]), "Users"),
        (reverse("console:user_edit", args=[u]), "Users"),
        (reverse("console:user_delete", args=[u]), "Users"),
        (reverse("directories:user", args=[u]), "Users"),
        (reverse("directories:user_delete_account", args=[u, d]), "Users"),
        (reverse("console:groups"), "Groups"),
        (reverse("console:group_detail", args=[g]), "Groups"),
        (reverse("directories:group", args=[g]), "Groups"),
        (reverse("directories:list"), "Directories"),
        (reverse("directories:new"), "Directories"),
        (reverse("directories:detail", args=[d]), "Directories"),
        (reverse("directories:import", args=[d]), "Directories"),
        (reverse("directories:groups", args=[d]), "Directories"),
        (reverse("directories:held", args=[d]), "Directories"),
        (reverse("directories:plan", args=[d]), "Directories"),
        (reverse("directories:settings", args=[d]), "Directories"),
        (reverse("directories:deactivate", args=[d]), "Directories"),
        (reverse("console:settings"), "Settings"),
        (reverse("console:administrators"), "Settings"),
        (reverse("console:api_keys"), "Settings"),
        (reverse("console:audit"), "Audit log"),
    ]


def test_pages_fit_1366_and_390_with_one_highlighted_menu_item(
    browser: Any, live_server: Any, directory: Directory, actor: Actor, owner: Administrator
) -> None:
    megan = active_megan(
        actor, username="megan.bowen-with-a-rather-long-username", job_title="Marketing Manager"
    )
    group = groups.create_group(
        actor=actor, fields={"name": "Marketing", "description": "Everyone in marketing"}
    )
    groups.add_members(actor=actor, group_id=group.pk, user_ids=[megan.pk])
    bindings.bind_user(actor=actor, user_id=megan.pk, directory_id=directory.pk)
    bindings.bind_group(actor=actor, group_id=group.pk, directory_id=directory.pk)
    sync_until_settled()
    users.update_user(actor=actor, user_id=megan.pk, changes={"job_title": ""})  # a pending write

    base = live_server.url
    problems: list[str] = []
    for width in (1366, 390):
        with browser_context(
            browser, live_server, owner, viewport={"width": width, "height": 900}
        ) as context:
            page = context.new_page()
            page.add_init_script(CSP_PROBE)
            for path, section in _pages(directory, megan.pk, group.pk):
                response = page.goto(base + path)
                assert response is not None and response.status == 200, (path, response and response.status)
                current = page.locator('nav[aria-label="Main"] [aria-current="page"]')
                names = current.all_inner_texts()
                if names != [section]:
                    problems.append(f"{width}px {path}: highlighted {names}, expected [{section!r}]")
                fit = page.evaluate(OVERFLOW)
                if fit["scroll"] > fit["client"] or fit["wide"]:
                    page.screenshot(
                        path=str(SCREENSHOTS / f"overflow-{width}-{path.strip('/').replace('/', '-')}.png")
                    )
                    problems.append(
                        f"{width}px {path}: scrollWidth {fit['scroll']} > {fit['client']} {fit['wide']}"
                    )
                if page.evaluate("window.__csp.length"):
                    problems.append(f"{width}px {path}: CSP {page.evaluate('window.__csp')}")
    assert not problems, "\n".join(problems)


def test_suspend_confirmation_states_the_microsoft_365_effect(
    browser: Any, live_server: Any, directory: Directory, actor: Actor, owner: Administrator
) -> None:
    from playwright.sync_api import expect

    megan = active_megan(actor)
    bindings.bind_user(actor=actor, user_id=megan.pk, directory_id=directory.pk)
    with admin_page(browser, live_server, owner, viewport={"width": 390, "height": 800}) as watched:
        page, base = watched.page, watched.base
        page.goto(base + reverse("console:user_detail", args=[megan.pk]))
        confirm = page.get_by_role("button", name="Suspend Megan Bowen")
        expect(confirm).to_be_hidden()  # nothing happens on the first click
        page.get_by_text("Suspend…").click()
        expect(
            page.get_by_text(
                f"Suspending Megan Bowen blocks sign-in to Microsoft 365 ({directory.name}) and ends the open "
                "sessions there"
            )
        ).to_be_visible()
        confirm.click()
        expect(page.locator(".message.success")).to_contain_text(
            f"Megan Bowen suspended: sign-in to Lockstep stopped. Microsoft 365 ({directory.name}) sign-in is blocked"
        )
        megan.refresh_from_db()
        assert megan.state == UserState.SUSPENDED

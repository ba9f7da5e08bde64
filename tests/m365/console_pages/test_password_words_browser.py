"""The password status of each binding on a user's page in the Admin Portal (Playwright, Debian's
Chromium): delivered after the sync, then expired once the held password outlives its hold."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from lockstep.directory.actors import Actor
from lockstep.directory.models import Administrator
from lockstep.directory.services import users
from lockstep.m365 import password_delivery
from lockstep.m365.services import bindings
from lockstep.testing.browser import admin_page
from lockstep.testing.m365 import sync_until_settled
from m365sim.testing import SimServer

from .test_status_browser import connected, person

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def signed_in_page(
    browser: Any, live_server: Any, owner: Administrator
) -> Iterator[tuple[Any, str, list[str]]]:
    with admin_page(browser, live_server, owner, console=("error",)) as watched:
        yield watched.page, watched.base, watched.problems


def test_user_page_shows_delivered_then_expired(
    signed_in_page: tuple[Any, str, list[str]], owner: Administrator, sim: SimServer
) -> None:
    from playwright.sync_api import expect

    page, base, problems = signed_in_page
    directory = connected(owner, sim)
    nina = person(owner, "nina")
    actor = Actor.for_admin(owner)
    bindings.bind_user(actor=actor, user_id=nina.pk, directory_id=directory.pk)
    sync_until_settled()
    page.goto(f"{base}/users/{nina.pk}/")
    section = page.locator("#user-directories")
    expect(section.get_by_text("Password delivered to Microsoft 365 on")).to_be_visible()

    users.set_password(actor=actor, user_id=nina.pk, password="Changed-By-Admin-77q")
    password_delivery.expire_held_passwords(now=timezone.now() + timedelta(hours=24, seconds=1))
    page.reload()
    expect(section.get_by_text("The held password expired on")).to_be_visible()
    expect(section.get_by_text("the user's next User Portal sign-in sends it")).to_be_visible()
    assert problems == []

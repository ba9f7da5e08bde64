"""The interactive docs in a real browser (Debian's Chromium) under the production CSP."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from lockstep.directory.models import Administrator, Group
from lockstep.testing.browser import watch
from lockstep.testing.sessions import signed_in_client

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def open_docs(browser: Any, live_server: Any) -> tuple[Any, list[str]]:
    watched = watch(browser.new_context().new_page(), live_server.url, console=("error",))
    page, errors = watched.page, watched.problems
    page.goto(f"{live_server.url}/api/v1/docs")
    page.wait_for_selector(".opblock", timeout=20_000)
    return page, errors


def test_docs_render_offline_under_the_csp(browser: Any, live_server: Any) -> None:
    page, errors = open_docs(browser, live_server)
    schema = json.loads(Client().get("/api/v1/openapi.json").content)
    operations = sum(len(ops) for ops in schema["paths"].values())
    assert page.locator(".opblock").count() == operations
    assert page.evaluate("window.__csp") == []
    assert errors == []


def test_signed_in_admin_can_try_a_write_from_the_docs(
    browser: Any, live_server: Any, owner: Administrator
) -> None:
    client = signed_in_client(owner)
    cookie = {
        "name": settings.SESSION_COOKIE_NAME,
        "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "url": live_server.url,
    }
    page, errors = open_docs(browser, live_server)
    # Signed in only once the page has loaded: the test database is in-memory SQLite, whose table
    # locks refuse the concurrent session saves that the page's parallel asset requests would cause.
    page.context.add_cookies([cookie])
    operation = page.locator("#operations-groups-lockstep_api_groups_create_group")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.locator("textarea.body-param__text").fill('{"name": "Made in the docs"}')
    with page.expect_response(
        lambda r: r.url.endswith("/api/v1/groups") and r.request.method == "POST"
    ) as sent:
        operation.get_by_role("button", name="Execute").click()
    assert sent.value.status == 201, sent.value.text()
    assert sent.value.request.headers.get("x-csrftoken")
    assert Group.objects.filter(name="Made in the docs", organization=owner.organization).exists()
    assert page.evaluate("window.__csp") == []
    assert errors == []

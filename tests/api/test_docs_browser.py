"""The interactive docs in a real browser (Debian's Chromium) under the production CSP."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from lockstep.directory.models import Administrator, Group

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not shutil.which("chromium"), reason="Debian's chromium is not installed"),
]

CSP_PROBE = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
    e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
"""


@pytest.fixture
def browser_page(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls below are still sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def open_docs(browser: Any, live_server: Any) -> tuple[Any, list[str]]:
    page = browser.new_context().new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.add_init_script(CSP_PROBE)
    page.goto(f"{live_server.url}/api/v1/docs")
    page.wait_for_selector(".opblock", timeout=20_000)
    return page, errors


def test_docs_render_offline_under_the_csp(browser_page: Any, live_server: Any) -> None:
    page, errors = open_docs(browser_page, live_server)
    schema = json.loads(Client().get("/api/v1/openapi.json").content)
    operations = sum(len(ops) for ops in schema["paths"].values())
    assert page.locator(".opblock").count() == operations
    assert page.evaluate("window.__csp") == []
    assert errors == []


def test_signed_in_admin_can_try_a_write_from_the_docs(
    browser_page: Any, live_server: Any, owner: Administrator
) -> None:
    client = Client()
    client.force_login(owner)
    session = client.session
    session["mfa_passed"] = True
    session.save()
    cookie = {
        "name": settings.SESSION_COOKIE_NAME,
        "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "url": live_server.url,
    }
    page, errors = open_docs(browser_page, live_server)
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

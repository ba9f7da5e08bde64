"""Playwright with Debian's Chromium, as every browser test launches it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings

from lockstep.testing.sessions import next_totp_code, signed_in_client

if TYPE_CHECKING:
    from lockstep.directory.models import Administrator

Viewport = dict[str, int]
WIDE: Viewport = {"width": 1366, "height": 900}

CHROMIUM = "/usr/bin/chromium"
# Without the networking flags Chromium floods the closed network (testing-peers.md).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(os.environ.get("LOCKSTEP_SCREENSHOT_DIR", "/tmp"))
CSP_PROBE = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
    e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
"""


class BrowserUnavailable(Exception):
    """Chromium is absent and the environment allows running without it."""


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched Chromium; raises if it cannot start (a browser test must never pass silently)."""
    if not os.path.exists(CHROMIUM) and os.environ.get("LOCKSTEP_ALLOW_NO_BROWSER") == "1":
        raise BrowserUnavailable(f"{CHROMIUM} is absent and LOCKSTEP_ALLOW_NO_BROWSER=1")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


ALL_CONSOLE_PROBLEMS = ("error", "warning")


@dataclass
class WatchedPage:
    """A Playwright page with its console and page errors collected in `problems`."""

    page: Any
    base: str
    problems: list[str] = field(default_factory=list)

    def csp_violations(self) -> list[str]:
        return list(self.page.evaluate("window.__csp"))

    def assert_clean(self) -> None:
        """No CSP violation and no console or page error so far."""
        assert self.csp_violations() == []
        assert self.problems == []


def watch(page: Any, base: str, console: tuple[str, ...] = ALL_CONSOLE_PROBLEMS) -> WatchedPage:
    """Collect page errors and the console messages of the `console` types; add the CSP probe."""
    watched = WatchedPage(page=page, base=base)
    if console:
        page.on(
            "console",
            lambda msg: (
                watched.problems.append(f"console {msg.type}: {msg.text}") if msg.type in console else None
            ),
        )
    page.on("pageerror", lambda exc: watched.problems.append(f"page error: {exc}"))
    page.add_init_script(CSP_PROBE)
    return watched


@contextmanager
def browser_context(
    browser: Any, live_server: Any, admin: Administrator | None = None, *, viewport: Viewport = WIDE
) -> Iterator[Any]:
    """A browser context, signed in as `admin` (MFA passed) when given; closed at exit."""
    context = browser.new_context(viewport=viewport)
    try:
        if admin is not None:
            session_key = signed_in_client(admin).session.session_key
            context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": session_key, "url": live_server.url}]
            )
        yield context
    finally:
        context.close()


@contextmanager
def admin_page(
    browser: Any,
    live_server: Any,
    admin: Administrator | None = None,
    *,
    viewport: Viewport = WIDE,
    console: tuple[str, ...] = ALL_CONSOLE_PROBLEMS,
) -> Iterator[WatchedPage]:
    """A watched page (signed in as `admin` when given); at a normal exit it asserts that there
    were no CSP violations, console messages of the `console` types, or page errors."""
    with browser_context(browser, live_server, admin, viewport=viewport) as context:
        watched = watch(context.new_page(), live_server.url, console)
        yield watched
        watched.assert_clean()


def sign_in(page: Any, email: str, password: str, secret: str, admin: Administrator) -> None:
    """Sign in through the pages from where `page` stands: email and password, then the TOTP code."""
    from playwright.sync_api import expect

    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Two-step verification")).to_be_visible()
    page.get_by_label("Six-digit code").fill(next_totp_code(secret, admin))
    page.get_by_role("button", name="Verify").click()

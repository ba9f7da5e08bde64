"""Playwright with Debian's Chromium, as every browser test launches it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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

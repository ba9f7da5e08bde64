"""The IdP's pages in a real browser (Playwright, Debian's Chromium, the production CSP): a sign-in
started at m365sim by HTTP-POST reaches Lockstep cross-site, the user signs in, and the static
auto-post script carries the response to m365sim's /login.srf, which signs the user in. (The
full end-to-end suite, with TOTP, is tests/e2e/test_saml_sso_browser.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from tests.saml.idp_support import PASSWORD, build_world

from lockstep.directory.actors import Actor
from lockstep.directory.models import Organization

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("binding", ["post", "redirect"])
def test_the_auto_post_form_reaches_microsoft_under_the_csp(
    browser: Any, live_server: Any, org: Organization, actor: Actor, sim: Any, settings: Any, binding: str
) -> None:
    world = build_world(org, actor, sim, settings, base=live_server.url)
    context = browser.new_context(ignore_https_errors=True)  # m365sim's own test CA
    try:
        page = context.new_page()
        violations: list[str] = []
        page.on(
            "console",
            lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None,
        )
        page.goto(f"{sim.base_url}/_sim/saml/start?domain=contoso.com&binding={binding}&RelayState=ctx42")
        page.wait_for_url("**/portal/login/**")
        page.get_by_label("Username or email").fill("adele")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{sim.base_url}/login.srf")
        result = page.locator("main#result")
        assert result.get_attribute("data-result") == "success", page.content()
        assert result.get_attribute("data-upn") == world.account["userPrincipalName"]
        assert "RelayState: ctx42" in page.content()
        assert violations == []
    finally:
        context.close()

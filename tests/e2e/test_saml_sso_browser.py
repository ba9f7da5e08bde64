"""SAML single sign-on into Microsoft 365 in a real browser (Playwright, Debian's Chromium).

m365sim plays Microsoft: its `/_sim/saml/start` sends the AuthnRequest to Lockstep (HTTP-Redirect
or HTTP-POST), and its `/login.srf` validates the Response with python3-saml in strict mode plus
Entra's checks, then says "Signed in as <upn>". Lockstep runs as a live server; the user signs in
on the User Portal's login page (with TOTP in one variant). The Response the browser carried to
`/login.srf` is also checked here by the independent validators of `lockstep.testing.saml`.

Set-up: the user is bound and synced while fabrikam.com is still managed (so the account carries
Lockstep's immutable id), then the domain is federated in m365sim through Lockstep's GraphClient
and the DomainFederation row is written, as the federate service will do.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode

import pyotp
import pytest
from django.conf import settings as django_settings
from lxml import etree

from lockstep.directory.actors import Actor
from lockstep.directory.models import AuditEvent, Organization, User, UserState
from lockstep.directory.services import users
from lockstep.m365.graph.client import GraphClient
from lockstep.m365.graph.connection import DirectoryConnection
from lockstep.m365.models import Directory, UserBinding
from lockstep.m365.services import bindings, directories
from lockstep.portal import totp
from lockstep.saml import endpoints, keys
from lockstep.saml.models import DomainFederation, FederationState
from lockstep.testing.browser import BrowserUnavailable, chromium, watch
from lockstep.testing.m365 import directory_fields, sync_until_settled
from lockstep.testing.saml import assert_valid_everywhere
from m365sim.testing import SimServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DOMAIN = "fabrikam.com"
UPN = "ines.ortega@fabrikam.com"
PASSWORD = "Granite-Meadow-Falcon-61"
FEDERATION_ROLES = ["Domain.Read.All", "Domain-InternalFederation.ReadWrite.All"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium for the module (launching it is the slowest step of a browser test)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        try:
            with chromium() as launched:
                yield launched
        except BrowserUnavailable as absent:
            pytest.skip(str(absent))


@pytest.fixture
def actor(org: Organization) -> Actor:
    """The set-up acts as the system (no owner to create: that is an Argon2 hash saved per test)."""
    return Actor.system(org.pk, "e2e set-up")


@pytest.fixture
def base(live_server: Any, settings: Any) -> str:
    """Lockstep's IdP URLs (issuer, passiveSignInUri) point at the live server."""
    settings.BASE_URL = str(live_server.url)
    return str(live_server.url)


@pytest.fixture
def directory(sim: SimServer, actor: Actor, base: str) -> Directory:
    created, _ = directories.add_directory(actor=actor, fields=directory_fields(sim))
    return created


@pytest.fixture
def person(actor: Actor, directory: Directory, sim: SimServer) -> User:
    """An active user of fabrikam.com, bound and synced: the account carries the immutable id."""
    user = users.create_user(
        actor=actor,
        fields={"username": "ines", "email": UPN, "first_name": "Ines", "last_name": "Ortega"},
        state=UserState.ACTIVE,
        initial_password=PASSWORD,
    )
    bindings.bind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    sync_until_settled()
    binding = UserBinding.objects.get(user=user, directory=directory)
    assert binding.remote_id, binding.last_error
    account = sim.sim.tenant.users[binding.remote_id]
    assert account["onPremisesImmutableId"] == user.immutable_id
    return user


@pytest.fixture
def federation(sim: SimServer, directory: Directory, person: User) -> DomainFederation:
    """fabrikam.com federated to Lockstep in m365sim (Graph) and in Lockstep's table."""
    organization = directory.organization
    key = keys.active_key(organization)
    app = sim.add_app(roles=FEDERATION_ROLES, display_name="Federation set-up")
    connection = DirectoryConnection(
        tenant_id=sim.tenant_id,
        client_id=app["client_id"],
        client_secret=app["client_secret"],
        certificate=None,
        cloud="custom",
        login_base_url=sim.login_base_url,
        graph_base_url=sim.graph_base_url,
        ca_file=sim.ca_file,
    )
    with GraphClient(connection) as graph:
        created = graph.create_federation_configuration(
            DOMAIN,
            {
                "displayName": "Lockstep",
                "issuerUri": endpoints.issuer_uri(organization, DOMAIN),
                "passiveSignInUri": endpoints.sso_url(organization, DOMAIN),
                "signOutUri": endpoints.slo_url(organization, DOMAIN),
                "signingCertificate": keys.certificate_b64(key),
                "preferredAuthenticationProtocol": "saml",
                "federatedIdpMfaBehavior": "acceptIfMfaDoneByFederatedIdp",
            },
        )
    return DomainFederation.objects.create(
        directory=directory,
        domain=DOMAIN,
        issuer_uri=endpoints.issuer_uri(organization, DOMAIN),
        remote_id=str(created["id"]),
        state=FederationState.FEDERATED,
        published_key=key,
    )


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    """A fresh browser context; m365sim's certificate comes from its own test CA. No console
    error or page error is allowed (m365sim's pages have no favicon: that request is answered)."""
    context = browser.new_context(ignore_https_errors=True)
    context.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    try:
        watched = watch(context.new_page(), str(live_server.url))
        yield watched.page
        assert watched.problems == []
    finally:
        context.close()


def _capture_acs_posts(page: Any) -> list[dict[str, str]]:
    """The forms the browser posts to /login.srf (SAMLResponse, RelayState), as they are sent."""
    posted: list[dict[str, str]] = []

    def seen(request: Any) -> None:
        if request.method == "POST" and request.url.endswith("/login.srf"):
            posted.append({k: v[0] for k, v in parse_qs(request.post_data or "").items()})

    page.on("request", seen)
    return posted


def _sign_in(page: Any, base: str, password: str = PASSWORD) -> None:
    """On Lockstep's User Portal login page (where m365sim's request must have led)."""
    from playwright.sync_api import expect

    expect(page).to_have_url(re.compile("^" + re.escape(f"{base}{django_settings.PORTAL_LOGIN_PATH}")))
    expect(page.get_by_label("Username or email")).to_be_visible()
    page.get_by_label("Username or email").fill(UPN)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def _expect_signed_in(page: Any, *, mfa: bool) -> None:
    from playwright.sync_api import expect

    result = page.locator("main#result")
    expect(result).to_have_attribute("data-result", "success", timeout=15_000)
    expect(page.get_by_role("heading", name=f"Signed in as {UPN}")).to_be_visible()
    expect(result).to_have_attribute("data-mfa", "true" if mfa else "false")


def _independently_valid(posted: dict[str, str], directory: Directory, *, solicited: bool) -> dict[str, Any]:
    """The Response as the browser carried it passes xmlsec1, python3-saml strict and the XSD."""
    xml = base64.b64decode(posted["SAMLResponse"])
    in_response_to = etree.fromstring(xml).get("InResponseTo")
    assert (in_response_to is not None) is solicited
    organization = directory.organization
    verdict = assert_valid_everywhere(
        xml,
        certificate_pem=keys.active_key(organization).certificate_pem,
        issuer=endpoints.issuer_uri(organization, DOMAIN),
        acs_url=endpoints.acs_url(directory),
        in_response_to=in_response_to,
    )
    return verdict.facts


def _issued_sign_in() -> dict[str, Any]:
    """The audit row of the one assertion issued (every decision is recorded)."""
    [event] = AuditEvent.objects.filter(action="saml.sign_in.issued")
    assert event.after is not None
    return dict(event.after)


def test_sp_initiated_redirect_binding_signed_request_and_password_sign_in(
    page: Any, sim: SimServer, base: str, federation: DomainFederation, person: User
) -> None:
    posted = _capture_acs_posts(page)
    relay = "estsredirect=2&estsrequest=rQQIARAA-lockstep-e2e"  # opaque, as Microsoft sends it
    query = urlencode({"domain": DOMAIN, "binding": "redirect", "signed": "1", "RelayState": relay})
    page.goto(f"{sim.base_url}/_sim/saml/start?{query}")
    _sign_in(page, base)
    _expect_signed_in(page, mfa=False)
    assert page.locator("p.relay-state").inner_text() == f"RelayState: {relay}"
    [form] = posted
    assert form["RelayState"] == relay
    facts = _independently_valid(form, federation.directory, solicited=True)
    assert facts["name_id"] == person.immutable_id
    assert facts["attributes"]["IDPEmail"] == [UPN]
    audited = _issued_sign_in()
    assert (audited["binding"], audited["signed_request"], audited["mfa"], audited["upn"]) == (
        "redirect",
        True,
        False,
        UPN,
    )


def test_sp_initiated_post_binding_with_totp_carries_the_mfa_claim(
    page: Any, sim: SimServer, base: str, federation: DomainFederation, person: User
) -> None:
    from playwright.sync_api import expect

    secret = totp.begin_enrolment()
    totp.confirm_enrolment(user=person, secret=secret, code=pyotp.TOTP(secret).now())
    person.refresh_from_db()
    posted = _capture_acs_posts(page)
    page.goto(f"{sim.base_url}/_sim/saml/start?{urlencode({'domain': DOMAIN, 'binding': 'post'})}")
    _sign_in(page, base)
    code_field = page.get_by_label("Code from your authenticator app, or a recovery code")
    expect(code_field).to_be_visible()
    steps = pyotp.TOTP(secret)
    code_field.fill(
        steps.generate_otp(max(int(time.time()) // steps.interval, totp.last_counter(person) + 1))
    )
    page.get_by_role("button", name="Verify").click()
    _expect_signed_in(page, mfa=True)
    [form] = posted
    facts = _independently_valid(form, federation.directory, solicited=True)
    assert "http://schemas.microsoft.com/claims/multipleauthn" in facts["attributes"].get(
        endpoints.AUTHN_METHODS_ATTRIBUTE, []
    )
    audited = _issued_sign_in()
    assert (audited["binding"], audited["signed_request"], audited["mfa"]) == ("post", False, True)


def test_idp_initiated_sign_in_from_the_user_portal_home(
    page: Any, sim: SimServer, base: str, federation: DomainFederation, person: User
) -> None:
    from playwright.sync_api import expect

    posted = _capture_acs_posts(page)
    page.goto(f"{base}/portal/")
    _sign_in(page, base)
    expect(page.get_by_role("heading", name="Hello, Ines Ortega")).to_be_visible()
    page.get_by_role("button", name=f"Sign in to Microsoft 365 as {UPN}").click()
    _expect_signed_in(page, mfa=False)
    [form] = posted
    _independently_valid(form, federation.directory, solicited=False)
    audited = _issued_sign_in()
    assert (audited["binding"], audited["request_id"]) == ("idp-initiated", "")

"""The IdP tests' world: an organization whose directory points at m365sim (over HTTPS), a user
bound to an m365sim account of contoso.com, the domain federated on both sides, and helpers that
walk a sign-in the way a browser does (m365sim's /_sim/saml/start, Lockstep through the Django
test client, the response posted back to m365sim's /login.srf over HTTP)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pyotp
from django.core.cache import cache
from django.test import Client

from lockstep.directory.actors import Actor
from lockstep.directory.models import Organization, User, UserState
from lockstep.directory.services import users
from lockstep.m365.models import Directory, UserBinding
from lockstep.portal import totp
from lockstep.saml import endpoints, keys
from lockstep.saml.models import DomainFederation, FederationState

PASSWORD = "Amber-Harbor-Lantern-58"
DOMAIN = "contoso.com"
BASE = "http://testserver"


@dataclass
class World:
    org: Organization
    directory: Directory
    federation: DomainFederation
    user: User
    binding: UserBinding
    sim: Any
    account: dict[str, Any]

    @property
    def sso_path(self) -> str:
        return endpoints.domain_path(self.org, DOMAIN) + "/sso"

    def http(self) -> httpx.Client:
        return httpx.Client(verify=self.sim.ssl_context(), timeout=30, follow_redirects=False)


def make_user(actor: Actor, username: str, *, state: str = UserState.ACTIVE) -> User:
    user = users.create_user(
        actor=actor,
        fields={
            "username": username,
            "email": f"{username}@contoso.com",
            "first_name": username.capitalize(),
            "last_name": "Tester",
        },
        initial_password=PASSWORD,
    )
    if state != UserState.STAGED:
        users.change_state(actor=actor, user_id=user.pk, to_state=state)
    user.refresh_from_db()
    return user


def bind(directory: Directory, user: User, account: dict[str, Any], sim: Any) -> UserBinding:
    """Bind `user` to the m365sim `account`, which gets the user's immutable id."""
    tenant = sim.sim.tenant
    with sim.sim.lock:
        tenant.unindex_user(account)
        account["onPremisesImmutableId"] = user.immutable_id
        tenant.index_user(account)
    binding, _ = UserBinding.objects.update_or_create(
        directory=directory,
        user=user,
        defaults={"remote_id": account["id"], "remote_upn": account["userPrincipalName"], "unbound": False},
    )
    return binding


def contoso_accounts(sim: Any) -> list[dict[str, Any]]:
    return [
        u
        for u in sim.sim.tenant.users.values()
        if u["userPrincipalName"].lower().endswith("@contoso.com") and u.get("accountEnabled", True)
    ]


def federate_in_sim(world_org: Organization, sim: Any, *, signed_required: bool) -> None:
    from m365sim.federation import federate

    key = keys.active_key(world_org)
    with sim.sim.lock:
        domain = sim.sim.tenant.domains[DOMAIN]
        domain.isDefault = False  # Microsoft refuses to federate the default domain
        sim.sim.tenant.domains["contoso.onmicrosoft.com"].isDefault = True
        federate(
            sim.sim,
            domain,
            {
                "displayName": "Lockstep",
                "issuerUri": endpoints.issuer_uri(world_org, DOMAIN),
                "passiveSignInUri": endpoints.sso_url(world_org, DOMAIN),
                "signOutUri": endpoints.slo_url(world_org, DOMAIN),
                "signingCertificate": keys.certificate_b64(key),
                "preferredAuthenticationProtocol": "saml",
                "isSignedAuthenticationRequestRequired": signed_required,
                "federatedIdpMfaBehavior": "acceptIfMfaDoneByFederatedIdp",
            },
        )


def build_world(
    org: Organization,
    actor: Actor,
    sim: Any,
    settings: Any,
    *,
    signed_required: bool = False,
    base: str = BASE,
) -> World:
    settings.BASE_URL = base
    cache.clear()  # the SP certificates of an earlier test (or its failure to fetch them)
    directory = Directory.objects.create(
        organization=org,
        name="Contoso 365",
        tenant_id=sim.tenant_id,
        client_id=sim.client_id,
        credential_kind="secret",
        cloud="custom",
        login_base_url=sim.login_base_url,
        graph_base_url=sim.graph_base_url,
    )
    user = make_user(actor, "adele")
    account = contoso_accounts(sim)[0]
    binding = bind(directory, user, account, sim)
    federation = DomainFederation.objects.create(
        directory=directory,
        domain=DOMAIN,
        issuer_uri=endpoints.issuer_uri(org, DOMAIN),
        state=FederationState.FEDERATED,
        require_signed_requests=signed_required,
    )
    federate_in_sim(org, sim, signed_required=signed_required)
    return World(org, directory, federation, user, binding, sim, account)


# ----- walking a sign-in ----------------------------------------------------------------------------


def _inputs(page: str) -> dict[str, str]:
    found = re.findall(r"""<input type=['"]hidden['"] name=['"](\w+)['"] value=['"]([^'"]*)['"]""", page)
    return {name: html.unescape(value) for name, value in found}


def start_at_sim(
    world: World, *, binding: str = "redirect", signed: bool | None = None, relay: str | None = None
) -> tuple[str, str, dict[str, str]]:
    """m365sim's AuthnRequest: (method, path with query, form fields) for Lockstep's /sso."""
    params: dict[str, str] = {"domain": DOMAIN, "binding": binding}
    if signed is not None:
        params["signed"] = "1" if signed else "0"
    if relay is not None:
        params["RelayState"] = relay
    with world.http() as http:
        answer = http.get(world.sim.base_url + "/_sim/saml/start", params=params)
    if binding == "redirect":
        assert answer.status_code == 302, answer.text
        target = urlsplit(answer.headers["location"])
        return "GET", f"{target.path}?{target.query}", {}
    assert answer.status_code == 200, answer.text
    action = html.unescape(re.search(r"action='([^']+)'", answer.text).group(1))  # type: ignore[union-attr]
    return "POST", urlsplit(action).path, _inputs(answer.text)


def send(client: Client, method: str, path: str, fields: dict[str, str]) -> Any:
    return client.get(path) if method == "GET" else client.post(path, fields)


def portal_login(client: Client, login: str, next_url: str = "", password: str = PASSWORD) -> Any:
    return client.post("/portal/login/", {"login": login, "password": password, "next": next_url})


def follow_to_form(client: Client, response: Any, login: str = "adele", code: str | None = None) -> Any:
    """Follow 303/302s through the portal login (and TOTP step) to Lockstep's last page."""
    for _ in range(6):
        if response.status_code not in (302, 303):
            return response
        location = response["Location"]
        if location.startswith("/portal/login/?"):
            from urllib.parse import parse_qs

            next_url = parse_qs(urlsplit(location).query)["next"][0]
            response = portal_login(client, login, next_url)
            continue
        if location.startswith("/portal/login/mfa/"):
            assert code is not None, "the user has TOTP: pass the code"
            response = client.post("/portal/login/mfa/", {"code": code})
            continue
        response = client.get(location)
    return response


def autopost_fields(response: Any) -> tuple[str, dict[str, str]]:
    page = response.content.decode()
    action = html.unescape(re.search(r'action="([^"]+)"', page).group(1))  # type: ignore[union-attr]
    found = re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page)
    return action, {name: html.unescape(value) for name, value in found}


def post_to_sim(world: World, action: str, fields: dict[str, str]) -> httpx.Response:
    with world.http() as http:
        return http.post(action, data=fields)


def sim_result(answer: httpx.Response) -> dict[str, str]:
    match = re.search(r"<main id='result'([^>]*)>", answer.text)
    assert match, answer.text
    return dict(re.findall(r"data-([\w-]+)='([^']*)'", match.group(1)))


def enrol_totp(user: User) -> str:
    secret = totp.begin_enrolment()
    totp.confirm_enrolment(user=user, secret=secret, code=pyotp.TOTP(secret).now())
    return secret


def next_code(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).generate_otp(totp.last_counter(user) + 1)

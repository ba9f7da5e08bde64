"""What the federation tests share: a directory on m365sim with a domain Lockstep can federate,
and a sign-in posted to m365sim's /login.srf over HTTPS (as a browser would after Lockstep).

Not a conftest (other helpers own tests/saml): each test module makes its own `tenant` fixture.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import httpx

from lockstep.directory.actors import Actor
from lockstep.directory.models import AdminRole, Organization, User, UserState
from lockstep.directory.services import users
from lockstep.m365.models import Directory, UserBinding
from lockstep.m365.services import bindings, directories
from lockstep.saml import endpoints
from lockstep.saml.models import SigningKey
from lockstep.saml.response import Audience, Subject, build_response, new_id
from lockstep.testing.m365 import directory_fields, sync_until_settled, wait_for_replication
from m365sim.testing import SimServer

DOMAIN = "fabrikam.com"
SECOND = "litware.com"  # a domain added to the demo tenant: no seeded accounts
BREAK_GLASS = "admin@contoso.onmicrosoft.com"


@dataclass
class Tenant:
    """The demo tenant as the federation tests see it."""

    sim: SimServer
    directory: Directory
    users: list[User]

    def account(self, upn: str) -> dict[str, Any]:
        found = self.sim.sim.tenant.find_user(upn)
        assert found is not None, upn
        return found

    def seeded_accounts(self, domain: str = DOMAIN) -> list[dict[str, Any]]:
        mine = {u.email for u in self.users}
        return [
            a
            for a in self.sim.sim.tenant.users.values()
            if a["userPrincipalName"].lower().endswith("@" + domain) and a["userPrincipalName"] not in mine
        ]

    def disable_seeded(self, domain: str = DOMAIN) -> None:
        """What an administrator does with accounts Lockstep does not manage: disable them."""
        for account in self.seeded_accounts(domain):
            account["accountEnabled"] = False


def make_user(actor: Actor, username: str, domain: str) -> User:
    return users.create_user(
        actor=actor,
        fields={
            "username": username,
            "email": f"{username}@{domain}",
            "first_name": username.title(),
            "last_name": "Test",
        },
        state=UserState.ACTIVE,
    )


def tenant_with_users(sim: SimServer, actor: Actor, *, second_domain: bool = False) -> Tenant:
    """The demo tenant (plus litware.com if asked), Lockstep's directory, and two active users of
    fabrikam.com (ada, bob; one of litware.com, cy, with `second_domain`) bound and synced."""
    if second_domain:
        sim.sim.tenant.add_domain(SECOND)
    directory, _ = directories.add_directory(actor=actor, fields=directory_fields(sim))
    made = [make_user(actor, "ada", DOMAIN), make_user(actor, "bob", DOMAIN)]
    if second_domain:
        made.append(make_user(actor, "cy", SECOND))
    for user in made:
        bindings.bind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    sync_until_settled()
    for user in made:
        account = sim.sim.tenant.find_user(user.email)
        binding = UserBinding.objects.get(user=user)
        assert account is not None, (binding.status, binding.last_error)
        assert account["onPremisesImmutableId"] == user.immutable_id, (
            account,
            binding.status,
            binding.last_error,
        )
    wait_for_replication(sim)  # readiness lists accounts: the just-created ones must be listed
    return Tenant(sim, directory, made)


def administrator(org: Organization) -> Actor:
    """An administrator who may write but is not an owner."""
    return Actor("admin", org.pk, AdminRole.ADMINISTRATOR, "999", "Ann Administrator")


def sign_in(tenant: Tenant, user: User, key: SigningKey, *, issuer: str | None = None) -> dict[str, str]:
    """An IdP-initiated sign-in (no InResponseTo) of `user` signed by `key`, posted to m365sim's
    /login.srf over HTTPS: m365sim's verdict (result, error code, reason)."""
    domain = user.email.rsplit("@", 1)[1]
    organization = tenant.directory.organization
    now = dt.datetime.now(dt.UTC)
    xml = build_response(
        Subject(user.immutable_id, user.email, False, now, new_id()),
        Audience(
            issuer or endpoints.issuer_uri(organization, domain), endpoints.acs_url(tenant.directory), None
        ),
        key,
        now=now,
    )
    with httpx.Client(verify=tenant.sim.ssl_context(), timeout=20) as client:
        answer = client.post(
            endpoints.acs_url(tenant.directory), data={"SAMLResponse": base64.b64encode(xml).decode()}
        )
    main = re.search(r"<main id=['\"]result['\"]([^>]*)>", answer.text)
    assert main is not None, answer.text[:500]
    facts = dict(re.findall(r"data-([a-z-]+)=['\"]([^'\"]*)['\"]", main.group(1)))
    return facts

"""Test helpers for the SSO surfaces: a domain of m365sim's demo tenant made ready to federate.

The demo tenant's fabrikam.com holds accounts Lockstep does not manage (a readiness blocker).
`only_lockstep_accounts` deletes them through Graph, as an administrator would in Microsoft 365;
`bound_active_user` makes a Lockstep user of the domain with a synced account.
"""

from __future__ import annotations

from typing import Any

from lockstep.directory.actors import Actor
from lockstep.directory.models import User, UserState
from lockstep.directory.services import users
from lockstep.m365.models import Directory
from lockstep.m365.services import bindings
from lockstep.testing.m365 import sync_until_settled
from m365sim.records import GLOBAL_ADMIN
from m365sim.testing import app_client

READY_DOMAIN = "fabrikam.com"


def accounts_of(sim: Any, domain: str) -> list[dict[str, Any]]:
    """Every account of `domain` in m365sim, read through Graph."""
    found: list[dict[str, Any]] = []
    with sim.client() as graph:
        url: str | None = "/users?$select=id,userPrincipalName&$top=999"
        while url:
            page = graph.get(url).json()
            found += [a for a in page["value"] if a["userPrincipalName"].lower().endswith("@" + domain)]
            url = page.get("@odata.nextLink")
    return found


def only_lockstep_accounts(sim: Any, domain: str = READY_DOMAIN) -> int:
    """Delete every account of `domain` in m365sim (none is Lockstep's yet); how many.

    As a Global Administrator would: one of them holds an admin role, which Lockstep's own app
    may not delete."""
    accounts = accounts_of(sim, domain)
    with app_client(sim, ["User.ReadWrite.All"], [GLOBAL_ADMIN]) as graph:
        for account in accounts:
            graph.delete(f"/users/{account['id']}").raise_for_status()
    return len(accounts)


def bound_active_user(actor: Actor, directory: Directory, username: str, domain: str = READY_DOMAIN) -> User:
    """An active Lockstep user of `domain`, bound to `directory`, its account created and synced."""
    user = users.create_user(
        actor=actor,
        fields={"username": username, "email": f"{username}@{domain}", "first_name": username.title()},
        state=UserState.ACTIVE,
    )
    bindings.bind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    sync_until_settled()
    return user

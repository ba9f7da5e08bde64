"""How the SAML services reach Microsoft 365: one short-lived Graph client per admin action.

Interactive actions (an administrator waits for the answer) retry a transient failure a few
times only, then say Microsoft 365 could not be reached; they never turn it into a 500.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lockstep.m365.budget import DatabaseBudget
from lockstep.m365.credentials import connection_for
from lockstep.m365.graph import odata
from lockstep.m365.graph.client import GraphClient
from lockstep.m365.graph.errors import GraphError, UnsupportedQuery
from lockstep.m365.graph.payloads import Domain, InternalDomainFederation
from lockstep.m365.graph.transport import RetryPolicy
from lockstep.m365.models import Directory

INTERACTIVE_RETRY = RetryPolicy(max_attempts=3, base_delay=0.3, max_delay=2.0)
GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"  # role template id
ACCOUNT_FIELDS = ("id", "userPrincipalName", "accountEnabled", "onPremisesImmutableId")


@contextmanager
def graph_client(directory: Directory) -> Iterator[GraphClient]:
    """A Graph client for one admin action, paced by the directory's shared request budget."""
    with GraphClient(
        connection_for(directory), rate_limiter=DatabaseBudget(directory.tenant_id), retry=INTERACTIVE_RETRY
    ) as client:
        yield client


def unreachable_words(error: GraphError) -> str:
    """A sentence for a failed Graph call (no answer, a refusal, a missing permission)."""
    words = error.plain_words or error.message or str(error)
    return f"Microsoft 365 could not be asked ({words}); try again once it answers."


def find_domain(client: GraphClient, name: str) -> Domain | None:
    for domain in client.list_domains():
        if str(domain.get("id", "")).lower() == name:
            return domain
    return None


def federation_configuration(client: GraphClient, domain: str) -> InternalDomainFederation | None:
    found = client.list_federation_configurations(domain)
    return found[0] if found else None


def accounts_of_domain(client: GraphClient, domain: str) -> list[dict[str, Any]]:
    """Every account whose UPN is in `domain` (an advanced `endswith` filter; a full listing
    filtered here when Graph refuses it)."""
    suffix = "@" + domain.lower()
    try:
        found = client.list_users(
            select=ACCOUNT_FIELDS,
            filter=f"endswith(userPrincipalName,{odata.literal(suffix)})",
            advanced=True,
        )
        items = [dict(u) for u in found]
    except UnsupportedQuery:
        items = [dict(u) for u in client.list_users(select=ACCOUNT_FIELDS)]
    return [u for u in items if str(u.get("userPrincipalName", "")).lower().endswith(suffix)]


def global_administrators(client: GraphClient) -> list[dict[str, Any]]:
    """The user accounts holding Global Administrator directly (groups and apps are skipped)."""
    assignments = client.iterate(
        "/roleManagement/directory/roleAssignments",
        params={"$filter": odata.eq("roleDefinitionId", GLOBAL_ADMINISTRATOR)},
    )
    ids = {str(a.get("principalId", "")) for a in assignments if a.get("principalId")}
    if not ids:
        return []
    return [dict(u) for u in client.find_users_by("id", sorted(ids), select=ACCOUNT_FIELDS)]

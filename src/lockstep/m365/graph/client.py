"""`GraphClient`: the typed facade over the Graph endpoints Lockstep uses.

Built from `base_client.GraphBase` (transport, tokens, batching, generic calls), `user_calls`
and `group_calls`; the tenant, delta and federation calls are here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from . import odata
from .base_client import GraphBase, segment
from .delta import DeltaRound
from .errors import NotFound
from .group_calls import GroupCalls
from .payloads import (
    GROUP_SELECT,
    USER_SELECT,
    Domain,
    InternalDomainFederation,
)
from .user_calls import UserCalls


class GraphClient(UserCalls, GroupCalls, GraphBase):
    """One directory's Graph client: a long-lived HTTP connection pool, tokens, retries, batching.

    Thread-safe. Close it (or use it as a context manager) when the worker stops.
    """

    # --- tenant -------------------------------------------------------------------------------

    def list_domains(self) -> list[Domain]:
        return cast(list[Domain], list(self.iterate("/domains")))

    def get_domain(self, domain: str) -> Domain:
        return cast(Domain, self.get(f"/domains/{segment(domain)}"))

    def get_organization(self) -> dict[str, Any]:
        """The tenant's organization object (id, displayName, verifiedDomains, ...)."""
        items = list(self.iterate("/organization"))
        if not items:
            raise NotFound("no organization object", status=404)
        return items[0]

    def get_service_principal_by_app_id(self, app_id: str) -> dict[str, Any] | None:
        """The service principal of an application in this tenant, or None."""
        items = list(self.iterate("/servicePrincipals", params={"$filter": odata.eq("appId", app_id)}))
        return items[0] if items else None

    def list_role_assignments(self, principal_id: str) -> list[dict[str, Any]]:
        """Direct directory-role assignments of a principal (`roleDefinitionId` = template id)."""
        return list(
            self.iterate(
                "/roleManagement/directory/roleAssignments",
                params={"$filter": odata.eq("principalId", principal_id)},
            )
        )

    def list_subscribed_skus(self) -> list[dict[str, Any]]:
        return list(self.iterate("/subscribedSkus"))

    # --- delta --------------------------------------------------------------------------------

    def users_delta(
        self,
        *,
        select: Iterable[str] | None = USER_SELECT,
        delta_link: str | None = None,
        latest: bool = False,
    ) -> DeltaRound:
        """A round of `/users/delta`; read `.items()` to the end, then store `.delta_link`."""
        return DeltaRound(self.transport, "users", select=select, delta_link=delta_link, latest=latest)

    def groups_delta(
        self,
        *,
        select: Iterable[str] | None = (*GROUP_SELECT, "members"),
        delta_link: str | None = None,
        latest: bool = False,
    ) -> DeltaRound:
        """A round of `/groups/delta` (with `members@delta` when `members` is selected)."""
        return DeltaRound(self.transport, "groups", select=select, delta_link=delta_link, latest=latest)

    # --- federation (internalDomainFederation) ------------------------------------------------

    def list_federation_configurations(self, domain: str) -> list[InternalDomainFederation]:
        """The domain's federation configuration (zero or one); [] for a managed domain, which
        Graph answers with 404 rather than an empty collection (graph-facts §12.3)."""
        try:
            return cast(
                list[InternalDomainFederation],
                list(self.iterate(f"/domains/{segment(domain)}/federationConfiguration")),
            )
        except NotFound:
            return []

    def create_federation_configuration(
        self, domain: str, body: InternalDomainFederation
    ) -> InternalDomainFederation:
        """Federate `domain` (its users then sign in at the IdP)."""
        return cast(
            InternalDomainFederation,
            self.send("POST", f"/domains/{segment(domain)}/federationConfiguration", dict(body)),
        )

    def update_federation_configuration(
        self, domain: str, federation_id: str, body: InternalDomainFederation
    ) -> None:
        self.send(
            "PATCH",
            f"/domains/{segment(domain)}/federationConfiguration/{segment(federation_id)}",
            dict(body),
        )

    def delete_federation_configuration(self, domain: str, federation_id: str) -> None:
        """Defederate: the domain goes back to managed (cloud passwords)."""
        self.send("DELETE", f"/domains/{segment(domain)}/federationConfiguration/{segment(federation_id)}")

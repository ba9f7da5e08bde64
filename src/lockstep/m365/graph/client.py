"""`GraphClient`: the typed facade over the Graph endpoints Lockstep uses."""

from __future__ import annotations

import random as _random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, cast
from urllib.parse import quote

import httpx

from . import odata
from .auth import MsalTokenSource, TokenSource
from .batch import MAX_BATCH, BatchExecutor, BatchRequest, BatchResult
from .connection import DirectoryConnection
from .delta import DeltaRound
from .errors import AlreadyMember, NotAMember, NotFound, UnsupportedQuery
from .paging import MAX_PAGE_SIZE, iter_items, iter_pages
from .payloads import (
    GROUP_SELECT,
    USER_SELECT,
    Domain,
    Group,
    GroupCreate,
    GroupUpdate,
    InternalDomainFederation,
    User,
    UserCreate,
    UserUpdate,
)
from .ratelimit import RateLimiter
from .transport import DEFAULT_TIMEOUT, RequestStats, RetryPolicy, Transport


def segment(value: str) -> str:
    """A path segment for an id or UPN (percent-encoded; a UPN starting with `$` in the quoted form)."""
    if value.startswith("$"):
        return "('" + quote(value.replace("'", "''"), safe="@") + "')"
    return quote(value, safe="@")


class GraphClient:
    """One directory's Graph client: a long-lived HTTP connection pool, tokens, retries, batching.

    Thread-safe. Close it (or use it as a context manager) when the worker stops.
    """

    def __init__(
        self,
        connection: DirectoryConnection,
        *,
        tokens: TokenSource | None = None,
        rate_limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        random: Callable[[], float] = _random.random,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        stats: RequestStats | None = None,
        http_transport: httpx.BaseTransport | None = None,
        batch_attempts: int = 5,
    ) -> None:
        self.connection = connection
        self.cloud = connection.resolved_cloud()
        self.tokens: TokenSource = tokens or MsalTokenSource(connection)
        self.transport = Transport(
            graph_base=self.cloud.graph_base,
            tokens=self.tokens,
            ca_file=connection.ca_file,
            timeout=timeout,
            rate_limiter=rate_limiter,
            retry=retry,
            sleep=sleep,
            random=random,
            stats=stats,
            http_transport=http_transport,
        )
        self.batcher = BatchExecutor(self.transport, max_attempts=batch_attempts)

    @property
    def stats(self) -> RequestStats:
        return self.transport.stats

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> GraphClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- generic ------------------------------------------------------------------------------

    def get(
        self,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        return cast(
            dict[str, Any], self.transport.request("GET", path, params=params, headers=headers).json()
        )

    def iterate(
        self,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every item of a collection, following nextLinks."""
        return iter_items(self.transport, path, params=params, headers=headers)

    def send(self, method: str, path: str, body: Any = None, *, idempotent: bool | None = None) -> Any:
        """One write; the parsed JSON body, or None for 204."""
        response = self.transport.request(method, path, json=body, idempotent=idempotent)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def batch(self, requests: Sequence[BatchRequest]) -> list[BatchResult]:
        """Run requests as `$batch` chunks of up to 20; results in input order."""
        return self.batcher.execute(requests)

    def directory_object_url(self, object_id: str) -> str:
        """The `@odata.id` of a directory object (for `$ref` and `@odata.bind`)."""
        return f"{self.cloud.graph_base}/directoryObjects/{segment(object_id)}"

    @staticmethod
    def _query(
        select: Iterable[str] | None, filter: str | None = None, top: int | None = None
    ) -> dict[str, str | int]:
        params: dict[str, str | int] = {}
        if select:
            params["$select"] = odata.select(select)
        if filter:
            params["$filter"] = filter
        if top:
            params["$top"] = min(top, MAX_PAGE_SIZE)
        return params

    # --- users --------------------------------------------------------------------------------

    def list_users(
        self,
        *,
        select: Iterable[str] | None = USER_SELECT,
        filter: str | None = None,
        top: int = MAX_PAGE_SIZE,
        advanced: bool = False,
    ) -> Iterator[User]:
        """Every user (optionally filtered), in pages of `top` (≤999).

        `advanced=True` sends `ConsistencyLevel: eventual` and `$count=true`, which Graph needs for
        `endsWith`, `ne`, `not` and other advanced filters.
        """
        params = self._query(select, filter, top)
        headers = None
        if advanced:
            params["$count"] = "true"
            headers = {"ConsistencyLevel": "eventual"}
        return cast(Iterator[User], self.iterate("/users", params=params, headers=headers))

    def count_user_pages(self, *, select: Iterable[str] | None = ("id",), top: int = MAX_PAGE_SIZE) -> int:
        """How many pages a full user listing takes (for progress bars and benchmarks)."""
        return sum(1 for _ in iter_pages(self.transport, "/users", params=self._query(select, None, top)))

    def get_user(self, id_or_upn: str, *, select: Iterable[str] | None = USER_SELECT) -> User:
        """One user by object id or UPN; raises `NotFound`."""
        return cast(User, self.get(f"/users/{segment(id_or_upn)}", params=self._query(select)))

    def find_user(self, id_or_upn: str, *, select: Iterable[str] | None = USER_SELECT) -> User | None:
        """One user by object id or UPN, or None."""
        try:
            return self.get_user(id_or_upn, select=select)
        except NotFound:
            return None

    def find_users_by_address(
        self, address: str, *, select: Iterable[str] | None = USER_SELECT
    ) -> list[User]:
        """Users whose UPN, `mail` or an SMTP proxy address is `address` (for matching and adoption)."""
        clauses = [
            odata.eq("userPrincipalName", address),
            odata.eq("mail", address),
            odata.proxy_address(address),
        ]
        try:
            return list(self.list_users(select=select, filter=odata.or_(*clauses)))
        except UnsupportedQuery:
            found: dict[str, User] = {}
            for clause in clauses:
                for user in self.list_users(select=select, filter=clause):
                    found.setdefault(str(user.get("id")), user)
            return list(found.values())

    def find_users_by(
        self, prop: str, values: Iterable[str], *, select: Iterable[str] | None = USER_SELECT
    ) -> Iterator[User]:
        """Users whose `prop` is one of `values` (chunked `in` filters of ≤15)."""
        for clause in odata.in_chunks(prop, values):
            yield from self.list_users(select=select, filter=clause)

    def create_user(self, body: UserCreate) -> User:
        """`POST /users`. A lost answer raises `MaybeCommitted`: look the UPN up before retrying."""
        return cast(User, self.send("POST", "/users", dict(body)))

    def update_user(self, id_or_upn: str, body: UserUpdate) -> None:
        self.send("PATCH", f"/users/{segment(id_or_upn)}", dict(body))

    def delete_user(self, id_or_upn: str) -> None:
        """Soft-delete (restorable for 30 days from deleted items)."""
        self.send("DELETE", f"/users/{segment(id_or_upn)}")

    def revoke_sign_in_sessions(self, id_or_upn: str) -> None:
        """Invalidate refresh tokens and session cookies (safe to repeat)."""
        self.send("POST", f"/users/{segment(id_or_upn)}/revokeSignInSessions", idempotent=True)

    def assign_license(
        self, id_or_upn: str, *, add: Sequence[Mapping[str, Any]] = (), remove: Sequence[str] = ()
    ) -> User:
        """`POST /users/{id}/assignLicense` with `addLicenses` ({skuId, disabledPlans}) and `removeLicenses`.

        Needs `usageLocation` set first (else `InvalidUsageLocation`); no seats → `NoLicensesAvailable`.
        """
        body = {
            "addLicenses": [
                {"skuId": a["skuId"], "disabledPlans": list(a.get("disabledPlans") or [])} for a in add
            ],
            "removeLicenses": list(remove),
        }
        return cast(
            User, self.send("POST", f"/users/{segment(id_or_upn)}/assignLicense", body, idempotent=True)
        )

    def list_deleted_users(
        self, *, select: Iterable[str] | None = None, filter: str | None = None
    ) -> Iterator[User]:
        return cast(
            Iterator[User],
            self.iterate("/directory/deletedItems/microsoft.graph.user", params=self._query(select, filter)),
        )

    def restore_deleted_item(
        self,
        object_id: str,
        *,
        new_user_principal_name: str | None = None,
        auto_reconcile_proxy_conflict: bool = False,
    ) -> dict[str, Any]:
        """Restore a soft-deleted user or Microsoft 365 group; returns the restored object.

        For a user, `new_user_principal_name` restores it under that UPN (its deleted UPN is
        prefixed with its object id; without it Entra restores the original) and
        `auto_reconcile_proxy_conflict` drops proxy addresses another object now holds instead
        of failing. A restored user gets its group memberships back (graph-facts §12.3).
        """
        body: dict[str, Any] = {}
        if new_user_principal_name:
            body["newUserPrincipalName"] = new_user_principal_name
        if auto_reconcile_proxy_conflict:
            body["autoReconcileProxyConflict"] = True
        return cast(
            dict[str, Any],
            self.send(
                "POST",
                f"/directory/deletedItems/{segment(object_id)}/restore",
                body or None,
                idempotent=True,
            )
            or {},
        )

    def purge_deleted_item(self, object_id: str) -> None:
        self.send("DELETE", f"/directory/deletedItems/{segment(object_id)}")

    # --- groups -------------------------------------------------------------------------------

    def list_groups(
        self,
        *,
        select: Iterable[str] | None = GROUP_SELECT,
        filter: str | None = None,
        top: int = MAX_PAGE_SIZE,
    ) -> Iterator[Group]:
        return cast(Iterator[Group], self.iterate("/groups", params=self._query(select, filter, top)))

    def get_group(self, group_id: str, *, select: Iterable[str] | None = GROUP_SELECT) -> Group:
        return cast(Group, self.get(f"/groups/{segment(group_id)}", params=self._query(select)))

    def create_group(self, body: GroupCreate, *, member_ids: Sequence[str] = ()) -> Group:
        """`POST /groups`, binding up to 20 initial members in the same request."""
        payload: dict[str, Any] = dict(body)
        if member_ids:
            if len(member_ids) > MAX_BATCH:
                raise ValueError("at most 20 members can be bound when creating a group; add the rest later")
            payload["members@odata.bind"] = [self.directory_object_url(m) for m in member_ids]
        return cast(Group, self.send("POST", "/groups", payload))

    def update_group(self, group_id: str, body: GroupUpdate) -> None:
        self.send("PATCH", f"/groups/{segment(group_id)}", dict(body))

    def delete_group(self, group_id: str) -> None:
        self.send("DELETE", f"/groups/{segment(group_id)}")

    def list_group_members(
        self, group_id: str, *, select: Iterable[str] | None = ("id",), top: int = MAX_PAGE_SIZE
    ) -> Iterator[dict[str, Any]]:
        """Direct members (users, groups, devices, ...), each with `@odata.type`."""
        return self.iterate(f"/groups/{segment(group_id)}/members", params=self._query(select, None, top))

    def member_ids(self, group_id: str) -> frozenset[str]:
        return frozenset(str(m["id"]) for m in self.list_group_members(group_id))

    def add_member(self, group_id: str, member_id: str, *, tolerate_existing: bool = True) -> None:
        """`POST /groups/{id}/members/$ref`; an existing membership counts as success by default."""
        try:
            self.send(
                "POST",
                f"/groups/{segment(group_id)}/members/$ref",
                {"@odata.id": self.directory_object_url(member_id)},
                idempotent=True,
            )
        except AlreadyMember:
            if not tolerate_existing:
                raise

    def remove_member(self, group_id: str, member_id: str, *, tolerate_missing: bool = True) -> None:
        """`DELETE /groups/{id}/members/{member}/$ref` (never without `$ref`: that deletes the member)."""
        try:
            self.send("DELETE", f"/groups/{segment(group_id)}/members/{segment(member_id)}/$ref")
        except (NotAMember, NotFound):
            if not tolerate_missing:
                raise

    def add_members(self, group_id: str, member_ids: Sequence[str]) -> None:
        """Add many members with `members@odata.bind`, 20 per PATCH (each PATCH is atomic)."""
        for start in range(0, len(member_ids), MAX_BATCH):
            chunk = member_ids[start : start + MAX_BATCH]
            self.send(
                "PATCH",
                f"/groups/{segment(group_id)}",
                {"members@odata.bind": [self.directory_object_url(m) for m in chunk]},
            )

    def member_requests(
        self, group_id: str, *, add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> list[BatchRequest]:
        """`$batch` requests that add and remove members one by one (for `batch`)."""
        out = [
            BatchRequest(
                "POST",
                f"/groups/{segment(group_id)}/members/$ref",
                body={"@odata.id": self.directory_object_url(m)},
                idempotent=True,
            )
            for m in add
        ]
        out += [
            BatchRequest("DELETE", f"/groups/{segment(group_id)}/members/{segment(m)}/$ref") for m in remove
        ]
        return out

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

"""The user endpoints of `GraphClient`: users, licenses, the recycle bin."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, cast

from . import odata
from .base_client import GraphBase, segment
from .errors import NotFound, UnsupportedQuery
from .paging import MAX_PAGE_SIZE, iter_pages
from .payloads import (
    USER_SELECT,
    User,
    UserCreate,
    UserUpdate,
)


class UserCalls(GraphBase):
    """Users: list, look up, create, update, delete, licenses, deleted items."""

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

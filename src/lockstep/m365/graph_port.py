"""`GraphPort` over `lockstep.m365.graph.GraphClient`: batches, lookups, error mapping."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from lockstep.m365.graph.batch import BatchRequest, BatchResult
from lockstep.m365.graph.client import GraphClient
from lockstep.m365.graph.errors import (
    AccessDenied,
    AlreadyMember,
    GraphError,
    MaybeCommitted,
    NotAMember,
    ObjectConflict,
    Throttled,
)
from lockstep.m365.mapping import ACCOUNT_SELECT
from lockstep.m365.port import ErrorKind, WriteOutcome, WriteRequest

LOOKUP_SELECT = ACCOUNT_SELECT

DELETED_SELECT = (
    "id",
    "userPrincipalName",
    "mail",
    "proxyAddresses",
    "onPremisesImmutableId",
    "displayName",
    "deletedDateTime",
)


def outcome_of(result: BatchResult) -> WriteOutcome:
    body = result.body if isinstance(result.body, dict) else None
    error = result.error
    if error is None and result.ok:
        return WriteOutcome(status=result.status, body=body)
    if error is None:
        return WriteOutcome(
            status=result.status, body=body, error_kind="permanent", message=f"HTTP {result.status}"
        )
    return outcome_of_error(error, status=result.status, body=body)


def outcome_of_error(
    error: GraphError, *, status: int = 0, body: dict[str, Any] | None = None
) -> WriteOutcome:
    kind: ErrorKind
    code = error.code
    if isinstance(error, ObjectConflict):
        kind, code = "conflict", f"ObjectConflict:{error.property}"
    elif isinstance(error, AlreadyMember):
        kind, code = "permanent", "already_member"
    elif isinstance(error, NotAMember):
        kind, code = "permanent", "not_member"
    elif isinstance(error, MaybeCommitted):
        kind = "transient"  # the engine's create path looks the object up before creating again
    elif error.kind == "transient":
        kind = "transient"
    elif error.kind == "fatal":
        kind = "fatal"
    else:
        kind = "permanent"
    return WriteOutcome(
        status=status or error.status,
        body=body,
        error_kind=kind,
        code=code,
        message=error.message or str(error),
        plain_words=error.plain_words,
        retry_after=error.retry_after if isinstance(error, Throttled) else None,
    )


class GraphClientPort:
    def __init__(self, client: GraphClient, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.clock = clock
        self._deleted: tuple[float, list[dict[str, Any]]] | None = None  # (listed at, listing)

    def write(self, requests: list[WriteRequest]) -> list[WriteOutcome]:
        batch = [
            BatchRequest(
                method=r.method,
                url=r.url,
                body=r.body,
                headers={"Content-Type": "application/json"} if r.body is not None else None,
            )
            for r in requests
        ]
        return [outcome_of(result) for result in self.client.batch(batch)]

    def find_user(self, user_principal_name: str) -> dict[str, Any] | None:
        matches = self.client.find_users_by_address(user_principal_name, select=LOOKUP_SELECT)
        if len(matches) == 1:
            return dict(matches[0])
        exact = [
            m for m in matches if str(m.get("userPrincipalName", "")).lower() == user_principal_name.lower()
        ]
        return dict(exact[0]) if len(exact) == 1 else None

    def member_ids(self, group_id: str) -> frozenset[str]:
        return self.client.member_ids(group_id)

    def directory_object_base(self) -> str:
        return self.client.directory_object_url("x")[:-1]

    def deleted_users(self, *, max_age_seconds: float = 0.0) -> list[dict[str, Any]]:
        now = self.clock()
        if self._deleted is None or max_age_seconds <= 0 or now - self._deleted[0] > max_age_seconds:
            self._deleted = (now, [dict(u) for u in self.client.list_deleted_users(select=DELETED_SELECT)])
        return [dict(u) for u in self._deleted[1]]

    def write_room(self) -> float | None:
        """Writes left in the tenant's bucket after this client's last write (None: not paced)."""
        room = getattr(self.client.transport.rate_limiter, "write_room", None)
        return room if isinstance(room, float | int) else None

    def healthy(self) -> bool:
        """A cheap read proving the token and consent still work (tells a per-object 403 apart)."""
        try:
            # one user's id: covered by User.ReadWrite.All (see lockstep.m365.permissions)
            self.client.get("/users", params={"$top": 1, "$select": "id"})
        except AccessDenied:
            return False
        except GraphError:
            return False
        return True

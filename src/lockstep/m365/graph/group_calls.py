"""The group endpoints of `GraphClient`: groups and their members."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, cast

from .base_client import GraphBase, segment
from .batch import MAX_BATCH, BatchRequest
from .errors import AlreadyMember, NotAMember, NotFound
from .paging import MAX_PAGE_SIZE
from .payloads import (
    GROUP_SELECT,
    Group,
    GroupCreate,
    GroupUpdate,
)


class GroupCalls(GraphBase):
    """Groups and memberships (`$ref` writes, batched member adds)."""

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

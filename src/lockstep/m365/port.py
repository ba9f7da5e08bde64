"""What the sync engine needs from Microsoft Graph, as a narrow interface.

`GraphClientPort` implements it over `lockstep.m365.graph`; the engine depends only on
this protocol, so its logic is the same whichever transport carries the writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

ErrorKind = Literal["", "transient", "conflict", "permanent", "fatal"]


@dataclass(frozen=True)
class WriteRequest:
    method: str
    url: str  # relative to the Graph root, e.g. /users/{id}
    body: dict[str, Any] | None = None


@dataclass(frozen=True)
class WriteOutcome:
    status: int
    body: dict[str, Any] | None = None
    error_kind: ErrorKind = ""
    code: str = ""
    message: str = ""
    plain_words: str = ""
    retry_after: float | None = None  # seconds Graph asked to wait (a throttled write)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class GraphPort(Protocol):
    def write(self, requests: list[WriteRequest]) -> list[WriteOutcome]:
        """Send writes (as `$batch` requests of up to 20); outcomes in input order."""
        ...

    def find_user(self, user_principal_name: str) -> dict[str, Any] | None:
        """The account whose UPN, mail or proxy address is this address, or None."""
        ...

    def member_ids(self, group_id: str) -> frozenset[str]:
        """The ids of a group's direct members."""
        ...

    def deleted_users(self, *, max_age_seconds: float = 0.0) -> list[dict[str, Any]]:
        """Soft-deleted users in the recycle bin (restorable for 30 days); a listing made at most
        `max_age_seconds` ago may be given again."""
        ...

    def directory_object_base(self) -> str:
        """The `@odata.id` prefix of directory objects in this cloud (ends with a slash)."""
        ...

    def healthy(self) -> bool:
        """A cheap read proving the directory's token and consent still work."""
        ...

"""Delta queries for users and groups: rounds that end with a deltaLink to store.

A stored deltaLink that Graph no longer accepts (410 Gone, expired or unknown sync state)
raises `DeltaReset`; the caller then starts a full round again (`DeltaRound(..., delta_link=None)`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from . import odata
from .errors import DeltaReset, GraphError
from .paging import Page, parse_page
from .transport import Transport

_RESOURCES = ("users", "groups")


class DeltaRound:
    """One round of `/users/delta` or `/groups/delta`.

    Iterate `pages()` or `items()` to the end; `delta_link` is then the link to store. With a
    previous `delta_link` only changes since then come back; `latest=True` skips the initial
    listing and just returns a fresh deltaLink ("sync from now").
    """

    def __init__(
        self,
        transport: Transport,
        resource: str,
        *,
        select: Iterable[str] | None = None,
        delta_link: str | None = None,
        latest: bool = False,
        ids: Iterable[str] | None = None,
        minimal: bool = False,
    ) -> None:
        if resource not in _RESOURCES:
            raise ValueError(f"delta is supported here for {', '.join(_RESOURCES)}, not {resource!r}")
        self.transport = transport
        self.resource = resource
        self.start_link = delta_link
        self.delta_link: str | None = None
        self.params: dict[str, str] = {}
        self.headers: dict[str, str] = {}
        self.pages_read = 0
        if minimal:
            self.headers["Prefer"] = "return=minimal"
        if delta_link is None:
            if select:
                self.params["$select"] = odata.select(select)
            if latest:
                self.params["$deltatoken"] = "latest"
            if ids:
                id_list = list(ids)
                if len(id_list) > 50:
                    raise ValueError("a delta filter takes at most 50 ids")
                self.params["$filter"] = " or ".join(odata.eq("id", i) for i in id_list)

    def pages(self) -> Iterator[Page]:
        url: str | None = self.start_link or f"/{self.resource}/delta"
        params: dict[str, str] | None = self.params or None
        while url:
            try:
                response = self.transport.request("GET", url, params=params, headers=self.headers or None)
            except DeltaReset:
                raise
            except GraphError as exc:
                if self.start_link and exc.status in (400, 404) and _looks_like_bad_token(exc):
                    raise DeltaReset(
                        exc.message,
                        status=exc.status,
                        code=exc.code,
                        request_id=exc.request_id,
                        client_request_id=exc.client_request_id,
                    ) from exc
                raise
            params = None  # everything is encoded in nextLink / deltaLink from here on
            page = parse_page(response.json())
            self.pages_read += 1
            yield page
            if page.delta_link:
                self.delta_link = page.delta_link
                return
            url = page.next_link
            if not url:
                raise GraphError("delta page with neither @odata.nextLink nor @odata.deltaLink", status=200)

    def items(self) -> Iterator[dict[str, Any]]:
        for page in self.pages():
            yield from page.items


def _looks_like_bad_token(exc: GraphError) -> bool:
    text = f"{exc.code} {exc.message}".lower()
    return any(w in text for w in ("token", "syncstate", "resync", "expired"))


def is_removed(item: dict[str, Any]) -> bool:
    """True for `{"id": ..., "@removed": {...}}` entries."""
    return "@removed" in item


def removed_reason(item: dict[str, Any]) -> str | None:
    """`changed` (soft-deleted, restorable) or `deleted` (gone for good); None if not removed."""
    removed = item.get("@removed")
    if isinstance(removed, dict):
        return str(removed.get("reason") or "deleted")
    return None

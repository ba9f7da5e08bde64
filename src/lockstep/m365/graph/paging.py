"""Collections: follow `@odata.nextLink` (an opaque absolute URL) page by page."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .transport import Transport

MAX_PAGE_SIZE = 999


@dataclass(slots=True)
class Page:
    """One page of a collection."""

    items: list[dict[str, Any]]
    next_link: str | None = None
    delta_link: str | None = None
    count: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


def parse_page(body: Mapping[str, Any]) -> Page:
    value = body.get("value")
    items = [dict(v) for v in value] if isinstance(value, list) else []
    count = body.get("@odata.count")
    return Page(
        items=items,
        next_link=body.get("@odata.nextLink"),
        delta_link=body.get("@odata.deltaLink"),
        count=int(count) if isinstance(count, int) else None,
        raw=dict(body),
    )


def iter_pages(
    transport: Transport,
    path: str,
    *,
    params: Mapping[str, str | int] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Iterator[Page]:
    """Yield pages of `path` (query `params` go on the first request only)."""
    url: str | None = path
    first = True
    while url:
        response = transport.request("GET", url, params=params if first else None, headers=headers)
        first = False
        page = parse_page(response.json())
        yield page
        url = page.next_link


def iter_items(
    transport: Transport,
    path: str,
    *,
    params: Mapping[str, str | int] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield every item of every page."""
    for page in iter_pages(transport, path, params=params, headers=headers):
        yield from page.items

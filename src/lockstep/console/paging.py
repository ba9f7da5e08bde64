"""Numbered pages for the console's lists: a total, page links with gaps, and the rows of one page."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.db.models import QuerySet

AROUND = 2  # page links shown either side of the current one
MANY = 1000  # from this many rows on, a page is read with the `many` queryset when one is given


@dataclass(frozen=True)
class PageLink:
    number: int | None  # None: a gap ("…")
    url: str = ""
    current: bool = False


@dataclass(frozen=True)
class NumberedPage:
    items: list[Any]
    number: int
    size: int
    total: int
    links: list[PageLink]

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def first_index(self) -> int:
        """1-based position of the first row shown (0 when there is none)."""
        return (self.number - 1) * self.size + 1 if self.items else 0

    @property
    def last_index(self) -> int:
        return (self.number - 1) * self.size + len(self.items)

    @property
    def previous_url(self) -> str:
        return _url(self.links, self.number - 1)

    @property
    def next_url(self) -> str:
        return _url(self.links, self.number + 1)


def _url(links: Sequence[PageLink], number: int) -> str:
    return next((link.url for link in links if link.number == number), "")


def page_numbers(current: int, pages: int) -> list[int | None]:
    """1 … 4 5 [6] 7 8 … 20: the first, the last, and AROUND either side of the current page."""
    shown = sorted({1, pages, *range(max(1, current - AROUND), min(pages, current + AROUND) + 1)})
    numbers: list[int | None] = []
    previous = 0
    for number in shown:
        if previous and number - previous > 1:
            numbers.append(None)
        numbers.append(number)
        previous = number
    return numbers


def numbered_page(
    queryset: QuerySet[Any],
    *,
    number: int,
    size: int,
    query: dict[str, Any],
    many: Callable[[], QuerySet[Any]] | None = None,
) -> NumberedPage:
    """Page `number` (past the last: the last) of `queryset`, already ordered, with links that keep
    `query`; `many` gives the same rows planned for a large result (used from MANY rows on)."""
    total = queryset.count()
    pages = max(1, -(-total // size))
    number = min(max(1, number), pages)
    rows = many() if many is not None and total >= MANY else queryset
    items = list(rows[(number - 1) * size : number * size]) if total else []
    links = [
        PageLink(n)
        if n is None
        else PageLink(n, "?" + urlencode({**query, "page": n} if n > 1 else query), n == number)
        for n in page_numbers(number, pages)
    ]
    return NumberedPage(items=items, number=number, size=size, total=total, links=links)

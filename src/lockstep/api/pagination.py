"""Cursor (keyset) pagination: constant cost per page, no duplicates or gaps between pages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from django.db.models import Model, Q, QuerySet

from lockstep.directory.errors import ValidationFailed
from lockstep.directory.services.users import decode_cursor, encode_cursor

M = TypeVar("M", bound=Model)

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_ID = 2**63 - 1
BAD_CURSOR = {"cursor": ["Not a cursor this API returned."]}


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError
    return value


def _moment(value: Any) -> datetime:
    moment = datetime.fromisoformat(_text(value))
    if moment.tzinfo is None:
        raise ValueError
    return moment


def _id(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_ID:
        raise ValueError
    return value


@dataclass(frozen=True)
class Keyset:
    """Order by `field` then by id (both ascending or both descending)."""

    field: str
    parse: Callable[[Any], Any]
    descending: bool = False

    def order(self) -> tuple[str, str]:
        sign = "-" if self.descending else ""
        return f"{sign}{self.field}", f"{sign}id"

    def decode(self, cursor: str) -> tuple[Any, int]:
        values = decode_cursor(cursor)
        try:
            return self.parse(values[0]), _id(values[1])
        except (ValueError, TypeError):
            raise ValidationFailed(BAD_CURSOR) from None

    def after(self, cursor: str) -> Q:
        value, last_id = self.decode(cursor)
        op = "lt" if self.descending else "gt"
        return Q(**{f"{self.field}__{op}": value}) | Q(**{self.field: value, f"id__{op}": last_id})

    def encode(self, obj: Model) -> str:
        value = getattr(obj, self.field)
        if isinstance(value, datetime):
            value = value.isoformat()
        return encode_cursor([value, obj.pk])


BY_USERNAME = Keyset("username", _text)
BY_NAME = Keyset("name", _text)
NEWEST_FIRST = Keyset("at", _moment, descending=True)
NEWEST_CREATED_FIRST = Keyset("created_at", _moment, descending=True)


def check_user_cursor(cursor: str | None) -> None:
    """Refuse a forged users cursor before it reaches the query (it must hold a name and an id)."""
    if cursor:
        BY_USERNAME.decode(cursor)


@dataclass(frozen=True)
class Page(Generic[M]):
    items: list[M]
    next_cursor: str | None


def paginate(queryset: QuerySet[M], keyset: Keyset, *, cursor: str | None, limit: int) -> Page[M]:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed({"limit": [f"Must be between 1 and {MAX_LIMIT}."]})
    if cursor:
        queryset = queryset.filter(keyset.after(cursor))
    items = list(queryset.order_by(*keyset.order())[: limit + 1])
    if len(items) <= limit:
        return Page(items, None)
    items = items[:limit]
    return Page(items, keyset.encode(items[-1]))

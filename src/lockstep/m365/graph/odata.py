"""OData query pieces: string literals, `$filter` expressions and `$select` lists."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator, Sequence

IN_LIMIT = 15
"""Graph allows at most 15 values in one `in (...)` clause without advanced queries."""

_PROPERTY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*$")


def _prop(name: str) -> str:
    if not _PROPERTY.match(name):
        raise ValueError(f"not an OData property path: {name!r}")
    return name


def literal(value: str | bool | int | float | uuid.UUID | None) -> str:
    """An OData literal: strings quoted with single quotes doubled; booleans, numbers, null bare."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, uuid.UUID):
        return f"'{value}'"
    if not isinstance(value, str):
        raise TypeError(f"no OData literal for {type(value).__name__}")
    return "'" + value.replace("'", "''") + "'"


def eq(prop: str, value: str | bool | int | float | uuid.UUID | None) -> str:
    return f"{_prop(prop)} eq {literal(value)}"


def in_(prop: str, values: Sequence[str | int | uuid.UUID]) -> str:
    """`prop in ('a','b')`; at most `IN_LIMIT` values (use `in_chunks` for more)."""
    if not values:
        raise ValueError("an `in` filter needs at least one value")
    if len(values) > IN_LIMIT:
        raise ValueError(f"an `in` filter takes at most {IN_LIMIT} values; use in_chunks")
    return f"{_prop(prop)} in ({', '.join(literal(v) for v in values)})"


def in_chunks(prop: str, values: Iterable[str | int | uuid.UUID], size: int = IN_LIMIT) -> Iterator[str]:
    """One `in` filter per chunk of at most `size` distinct values, in first-seen order."""
    if not 1 <= size <= IN_LIMIT:
        raise ValueError(f"chunk size must be 1..{IN_LIMIT}")
    seen: dict[str | int | uuid.UUID, None] = dict.fromkeys(values)
    unique = list(seen)
    for start in range(0, len(unique), size):
        yield in_(prop, unique[start : start + size])


def starts_with(prop: str, prefix: str) -> str:
    return f"startsWith({_prop(prop)}, {literal(prefix)})"


def any_eq(collection: str, value: str, var: str = "x") -> str:
    """`collection/any(x:x eq 'value')`, e.g. for `proxyAddresses` or `otherMails`."""
    if not re.match(r"^[a-z]$", var):
        raise ValueError("lambda variable must be one lower-case letter")
    return f"{_prop(collection)}/any({var}:{var} eq {literal(value)})"


def proxy_address(address: str, *, primary: bool | None = None) -> str:
    """Filter on `proxyAddresses` for an SMTP address (Graph compares case-insensitively)."""
    prefix = "SMTP:" if primary else "smtp:"
    return any_eq("proxyAddresses", prefix + address)


def and_(*clauses: str) -> str:
    parts = [c for c in clauses if c]
    return " and ".join(f"({c})" if " or " in c else c for c in parts)


def or_(*clauses: str) -> str:
    parts = [c for c in clauses if c]
    return " or ".join(f"({c})" if " and " in c else c for c in parts)


def select(fields: Iterable[str]) -> str:
    """A `$select` value: distinct property names, in order, comma-separated."""
    names = list(dict.fromkeys(_prop(f) for f in fields))
    if not names:
        raise ValueError("$select needs at least one property")
    return ",".join(names)

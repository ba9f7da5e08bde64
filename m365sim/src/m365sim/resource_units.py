"""What a Graph request costs in resource units (graph-facts §5): a base cost per method and
path, adjusted by $select, $expand and $top; and whether it counts as a write."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})

# (method or None for any read-ish method, compiled pattern on the lower-cased path, base RU).
# Paths are relative to the version root ("/users", not "/v1.0/users"). Anything else costs 1.
_BASE_COSTS: list[tuple[str, re.Pattern[str], int]] = [
    ("GET", re.compile(r"^/users$"), 2),
    ("GET", re.compile(r"^/(me|users/[^/]+)/memberof(/.*)?$"), 2),
    ("GET", re.compile(r"^/(me|users/[^/]+)/transitivememberof(/.*)?$"), 2),
    ("GET", re.compile(r"^/groups/[^/]+/members(/.*)?$"), 3),
    ("GET", re.compile(r"^/groups/[^/]+/transitivemembers(/.*)?$"), 5),
    ("GET", re.compile(r"^/subscribedskus$"), 3),
    ("GET", re.compile(r"^/applications$"), 2),
    ("GET", re.compile(r"^/applications/[^/]+/extensionproperties$"), 2),
    ("GET", re.compile(r"^/contracts$"), 3),
    ("GET", re.compile(r"^/domains/[^/]+/domainnamereferences$"), 4),
    ("POST", re.compile(r"^/directoryobjects/getbyids$"), 5),
    ("POST", re.compile(r"^/getobjectsbyid$"), 5),
    ("POST", re.compile(r"/ismemberof$"), 4),
    ("POST", re.compile(r"/checkmembergroups$"), 4),
    ("POST", re.compile(r"/getmembergroups$"), 2),
]
# POSTs in the table above are read actions: they cost no write.
_READ_POSTS = [pattern for method, pattern, _ in _BASE_COSTS if method == "POST"]
_VERSION_PREFIX = re.compile(r"^/(v1\.0|beta)(?=/|$)", re.IGNORECASE)


def _query_keys(query: Mapping[str, Any] | str | None) -> dict[str, str]:
    if not query:
        return {}
    if isinstance(query, str):
        return {k.lower(): v for k, v in parse_qsl(query.lstrip("?"), keep_blank_values=True)}
    return {str(k).lower(): str(v) for k, v in query.items()}


def resource_unit_cost(
    method: str, path: str, query: Mapping[str, Any] | str | None = None
) -> tuple[int, int]:
    """(resource units, writes) of one Graph request, per the §5 cost table and modifiers.

    `path` may carry the `/v1.0` prefix and a query string; `query` may be a mapping or a raw
    query string. Modifiers: `$select` -1, `$expand` +1, `$top` < 20 -1; minimum 1.
    """
    method = method.upper()
    if "?" in path:
        path, _, raw = path.partition("?")
        if query is None:
            query = raw
    lowered = _VERSION_PREFIX.sub("", path.lower().rstrip("/")) or "/"
    cost = 1
    for wanted, pattern, base in _BASE_COSTS:
        if method == wanted and pattern.search(lowered):
            cost = base
            break
    writes = 0
    if method in WRITE_METHODS and not (method == "POST" and any(p.search(lowered) for p in _READ_POSTS)):
        writes = 1
    params = _query_keys(query)
    if "$select" in params:
        cost -= 1
    if "$expand" in params:
        cost += 1
    top = params.get("$top")
    if top is not None:
        try:
            if int(top) < 20:
                cost -= 1
        except ValueError:
            pass
    return max(cost, 1), writes

"""OData query options: $select, $top/$skiptoken paging, $count, $orderby and $search, with the
default-vs-advanced gating of graph-facts §1.5 and §6; $filter itself is in `odata_filter`."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from m365sim.errors import GraphError, bad_request, unsupported_query
from m365sim.graph.odata_filter import (
    MAX_IN,
    FilterParser,
    Lit,
    Node,
    Prop,
    evaluate,
    props_used,
)

MAX_TOP = 999
DEFAULT_TOP = 100
ADVANCED_HINT = (
    "Try adding $count=true query parameter and ConsistencyLevel:eventual header. "
    "Refer to https://aka.ms/graph-docs/advanced-queries for more information"
)


@dataclass
class Resource:
    type_name: str  # "user"
    entity_set: str  # "users"
    default_props: list[str]
    all_props: set[str]
    filterable: set[str]
    ends_with_ok: set[str] = field(default_factory=set)
    default_orderby: set[str] = field(default_factory=lambda: {"displayName"})
    single_only: set[str] = field(default_factory=set)


def is_advanced(req_query: dict[str, str], headers: dict[str, str]) -> bool:
    return (
        headers.get("consistencylevel", "").lower() == "eventual"
        and req_query.get("$count", "").lower() == "true"
    )


def parse_select(query: dict[str, str], res: Resource, collection: bool) -> list[str] | None:
    sel = query.get("$select")
    if sel is None:
        return None
    props = [p.strip() for p in sel.split(",") if p.strip()]
    lower = {p.lower(): p for p in res.all_props}
    out = []
    for p in props:
        if p == "*":
            out.extend(sorted(res.all_props))
            continue
        real = lower.get(p.lower())
        if real is None:
            raise bad_request(
                f"Parsing OData Select and Expand failed: Could not find a property named '{p}' on type 'microsoft.graph.{res.type_name}'."
            )
        if collection and real in res.single_only:
            raise GraphError(
                501,
                "NotImplemented",
                f"The property '{real}' is only supported when a single {res.type_name} is requested.",
            )
        out.append(real)
    return out


def project(obj: dict[str, Any], select: list[str] | None, res: Resource) -> dict[str, Any]:
    props = select if select is not None else res.default_props
    return {p: obj.get(p) for p in props}


def compile_filter(query: dict[str, str], headers: dict[str, str], res: Resource) -> Node | None:
    text = query.get("$filter")
    if text is None:
        return None
    parser = FilterParser(text, res.type_name)
    node = parser.parse()
    advanced = is_advanced(query, headers)
    for prop, op in props_used(node):
        base = prop.split("/")[0]
        if base.lower() not in {f.lower() for f in res.filterable}:
            raise unsupported_query(
                f"Unsupported or invalid query filter clause specified for property '{base}' of resource '{res.type_name.capitalize()}'."
            )
        if op == "endswith" and base not in res.ends_with_ok:
            raise unsupported_query(
                f"Unsupported or invalid query filter clause specified for property '{base}' of resource '{res.type_name.capitalize()}'."
            )
    if parser.advanced_ops and not advanced:
        op = parser.advanced_ops[0]
        raise unsupported_query(
            f"Operator '{op}' is not supported because the required parameters might be missing. {ADVANCED_HINT}"
        )
    if parser.in_count > MAX_IN:
        raise unsupported_query(
            f"Too many child clauses specified in search filter expression containing 'OR' operators: {parser.in_count}. Max allowed: {MAX_IN}."
        )
    return node


def page_size(query: dict[str, str]) -> int:
    top = query.get("$top")
    if top is None:
        return DEFAULT_TOP
    try:
        n = int(top)
    except ValueError as err:
        raise bad_request(
            f"Invalid page size specified: '{top}'. Must be between 1 and {MAX_TOP} inclusive."
        ) from err
    if n < 1 or n > MAX_TOP:
        raise bad_request(f"Invalid page size specified: '{top}'. Must be between 1 and {MAX_TOP} inclusive.")
    return n


def encode_token(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return "RFNwdAIAAQAAA" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(tok: str) -> dict[str, Any]:
    try:
        raw = tok.removeprefix("RFNwdAIAAQAAA")
        return json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except ValueError as err:
        raise bad_request("Invalid paging token specified.") from err


def search_matches(search: str, obj: dict[str, Any]) -> bool:
    """``"displayName:jo" OR "mail:x"``: tokenized prefix match, AND binds tighter than OR."""
    for alt in re.split(r"\s+OR\s+", search.strip()):
        ok = True
        for clause in re.split(r"\s+AND\s+", alt):
            c = clause.strip().strip('"')
            prop, _, term = c.partition(":")
            value = obj.get(prop)
            words = re.split(r"[\s@._-]+", str(value or "").lower())
            term = term.lower()
            if not (any(w.startswith(term) for w in words) or str(value or "").lower().startswith(term)):
                ok = False
                break
        if ok:
            return True
    return False


def run_collection(
    query: dict[str, str],
    headers: dict[str, str],
    res: Resource,
    items: Callable[[Node | None], Iterable[dict[str, Any]]],
    base_url: str,
    path: str,
    context: str | None = None,
    extra: Callable[[dict[str, Any], dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Filter, sort, page and project a collection; returns the response body."""
    advanced = is_advanced(query, headers)
    eventual = headers.get("consistencylevel", "").lower() == "eventual"
    select = parse_select(query, res, collection=True)
    node = compile_filter(query, headers, res)
    size = page_size(query)
    search = query.get("$search")
    if search is not None and not eventual:
        raise unsupported_query(
            "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'"
        )
    orderby = query.get("$orderby")
    sort_key: tuple[str, bool] | None = None
    if orderby:
        prop, _, direction = orderby.strip().partition(" ")
        if not advanced and (prop not in res.default_orderby or node is not None or search is not None):
            raise unsupported_query("Sorting not supported for current query.")
        if prop.lower() not in {p.lower() for p in res.all_props}:
            raise bad_request(
                f"Could not find a property named '{prop}' on type 'microsoft.graph.{res.type_name}'."
            )
        sort_key = (prop, direction.strip().lower() == "desc")
    skip = query.get("$skiptoken")
    offset = decode_token(skip)["o"] if skip else 0
    rows: Iterable[dict[str, Any]] = items(node)
    if node is not None:
        rows = (o for o in rows if evaluate(node, o))
    if search is not None:
        rows = (o for o in rows if search_matches(search, o))
    need_all = sort_key is not None or advanced
    out: dict[str, Any] = {"@odata.context": f"{base_url}/$metadata#{context or res.entity_set}"}
    if need_all:
        lst = list(rows)
        if sort_key:
            lst.sort(
                key=lambda o: (o.get(sort_key[0]) is None, str(o.get(sort_key[0]) or "").lower()),
                reverse=sort_key[1],
            )
        if advanced:
            out["@odata.count"] = len(lst)
        page = lst[offset : offset + size]
        more = offset + size < len(lst)
    else:
        page = []
        more = False
        for idx, o in enumerate(rows):
            if idx < offset:
                continue
            if len(page) == size:
                more = True
                break
            page.append(o)
    values = []
    for o in page:
        p = project(o, select, res)
        if extra:
            extra(o, p)
        values.append(p)
    out["value"] = values
    if more:
        from urllib.parse import urlencode

        q = {k: v for k, v in query.items() if k != "$skiptoken"}
        q["$skiptoken"] = encode_token({"o": offset + size})
        out["@odata.nextLink"] = f"{base_url}{path}?{urlencode(q, safe='$,()/:@')}"
    return out


def count_only(
    query: dict[str, str],
    headers: dict[str, str],
    res: Resource,
    items: Callable[[Node | None], Iterable[dict[str, Any]]],
) -> int:
    if headers.get("consistencylevel", "").lower() != "eventual":
        raise bad_request("$count is not currently supported.")
    q = dict(query)
    q["$count"] = "true"
    node = compile_filter(q, headers, res)
    rows = items(node)
    if node is None:
        return sum(1 for _ in rows)
    return sum(1 for o in rows if evaluate(node, o))


def index_plan(node: Node | None, indexes: dict[str, Callable[[str], Any]]) -> list[Any] | None:
    """Fast path: ``prop eq 'v'``, ``prop in (...)`` or ``proxyAddresses/any(p:p eq 'v')`` on an
    indexed property returns the candidate objects (the full filter is still applied)."""
    if node is None:
        return None
    if node.op in ("eq", "in") and isinstance(node.args[0], Prop) and isinstance(node.args[1], Lit):
        fn = indexes.get(node.args[0].path.lower())
        if fn is None:
            return None
        vals = node.args[1].value if node.op == "in" else [node.args[1].value]
        if not all(isinstance(v, str) for v in vals):
            return None
        found = {id(o): o for v in vals if (o := fn(v)) is not None}  # dedupe 'x' and 'X'
        return list(found.values())
    if node.op == "any" and node.args[0].path.lower() == "proxyaddresses":
        body = node.args[2]
        if body.op == "eq" and isinstance(body.args[1], Lit) and isinstance(body.args[1].value, str):
            fn = indexes.get("proxyaddresses")
            if fn:
                o = fn(body.args[1].value)
                return [o] if o is not None else []
    if node.op == "and":
        for a in node.args:
            r = index_plan(a, indexes)
            if r is not None:
                return r
    return None

"""Delta queries for users and groups (graph-facts §4).

Tokens are opaque base64 JSON: kind, the change-log sequence number the round starts from,
the tracked ``$select``, the id filter, the issue time and (for ``$skiptoken``) the page offset.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from m365sim import replication
from m365sim.errors import GraphError, unsupported_query
from m365sim.graph import perms
from m365sim.graph.core import GraphRequest, GraphResponse, json_response
from m365sim.graph.groups import RESOURCE as GROUP_RESOURCE
from m365sim.graph.odata import decode_token, encode_token, parse_select
from m365sim.graph.user_schema import RESOURCE as USER_RESOURCE
from m365sim.state import Tenant

if TYPE_CHECKING:
    from m365sim.simulator import Simulator

PAGE = 100
_ID_EQ = re.compile(r"^\s*id\s+eq\s+'([^']+)'\s*$", re.IGNORECASE)


def _filter_ids(text: str | None) -> list[str] | None:
    if text is None:
        return None
    ids = []
    for part in re.split(r"\s+or\s+", text.strip(), flags=re.IGNORECASE):
        m = _ID_EQ.match(part)
        if not m:
            raise unsupported_query(
                "Unsupported query: delta supports $filter only as 'id eq' clauses joined by 'or'."
            )
        ids.append(m.group(1))
    if len(ids) > 50:
        raise unsupported_query("Too many ids in the filter clause: at most 50 are supported.")
    return ids


def _member_entry(t: Tenant, mid: str, mtype: str | None, removed: bool = False) -> dict[str, Any]:
    kind = mtype or (t.find_object(mid) or ("user", None))[0]
    e: dict[str, Any] = {"@odata.type": f"#microsoft.graph.{kind}", "id": mid}
    if removed:
        e["@removed"] = {"reason": "deleted"}
    return e


def _full(
    t: Tenant,
    kind: str,
    obj: dict[str, Any],
    sel: list[str] | None,
    with_members: bool,
    changed: set[str] | frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The object as delta shows it: properties without a value are omitted (graph-facts §12.3,
    "delta omits properties that have never been set"), except those this round changed (a
    property cleared since the last round comes as null)."""
    res = USER_RESOURCE if kind == "user" else GROUP_RESOURCE
    props = sel if sel is not None else res.default_props  # like GET: default set without $select
    out: dict[str, Any] = {
        p: obj.get(p) for p in props if p != "members" and (obj.get(p) is not None or p in changed)
    }
    out["id"] = obj["id"]
    if kind == "group" and with_members:
        out["members@delta"] = [_member_entry(t, m, None) for m in replication.member_ids(t, obj["id"])]
    return out


def delta(sim: Simulator, req: GraphRequest) -> GraphResponse:
    kind = "user" if req.path.lower().startswith("/users") else "group"
    perms.require(req, perms.USER_READ_FULL if kind == "user" else perms.GROUP_READ)
    t = sim.tenant
    for bad in ("$top", "$orderby", "$expand"):
        if bad in req.query:
            raise unsupported_query(f"The query parameter '{bad}' is not supported with delta.")
    coll = "users" if kind == "user" else "groups"
    link = f"{req.base_url}/{coll}/delta"
    skip, dtok = req.query.get("$skiptoken"), req.query.get("$deltatoken")
    if dtok == "latest":
        tok = {
            "k": kind,
            "s": replication.delta_end(t, t.seq),
            "sel": _sel(req, kind),
            "f": _filter_ids(req.query.get("$filter")),
            "t": time.time(),
        }
        return json_response(
            {
                "@odata.context": f"{req.base_url}/$metadata#{coll}",
                "value": [],
                "@odata.deltaLink": f"{link}?$deltatoken={encode_token(tok)}",
            }
        )
    if skip or dtok:
        state = decode_token(skip or dtok or "")
        if state.get("k") != kind:
            raise GraphError(400, "Request_BadRequest", "The delta token is not valid for this resource.")
        if kind in sim.delta_reset_pending:
            sim.delta_reset_pending.discard(kind)
            raise GraphError(
                410,
                "resyncRequired",
                "Resync required. Replace any local cached data with the data returned by a new delta query without a token.",
                headers={"Location": f"{link}?$deltatoken="},
            )
        age = time.time() + getattr(sim, "delta_age_offset_s", 0.0) - state["t"]
        if age > sim.settings.delta_token_days * 86400:
            raise GraphError(
                400,
                "syncStateNotFound",
                "The sync state is not found or has expired. Start a new delta round without a token.",
            )
    else:
        state = {
            "k": kind,
            "s": replication.delta_end(t, t.seq),
            "sel": _sel(req, kind),
            "f": _filter_ids(req.query.get("$filter")),
            "t": time.time(),
            "init": True,
            "o": 0,
        }
    sel, ids = state["sel"], state["f"]
    with_members = kind == "group" and (sel is None or "members" in sel)
    offset = state.get("o", 0)
    if state.get("init"):
        objs = t.users if kind == "user" else t.groups
        source = replication.visible(
            t, [objs[i] for i in ids if i in objs] if ids is not None else objs.values()
        )
        rows = [_full(t, kind, o, sel, with_members) for o in _slice(source, offset, PAGE + 1)]
        end = state["s"]
    else:
        end = state.get("e", replication.delta_end(t, t.seq))
        rows = _changes(t, kind, state["s"], end, sel, ids, with_members, req.header("prefer"))[
            offset : offset + PAGE + 1
        ]
    more = len(rows) > PAGE
    body: dict[str, Any] = {"@odata.context": f"{req.base_url}/$metadata#{coll}", "value": rows[:PAGE]}
    if more:
        nxt = dict(state, o=offset + PAGE, e=end)
        body["@odata.nextLink"] = f"{link}?$skiptoken={quote(encode_token(nxt))}"
    else:
        done = {"k": kind, "s": end, "sel": sel, "f": ids, "t": time.time()}
        body["@odata.deltaLink"] = f"{link}?$deltatoken={quote(encode_token(done))}"
    return json_response(body)


def _slice(source: Any, offset: int, n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, o in enumerate(source):
        if i < offset:
            continue
        if len(out) == n:
            break
        out.append(o)
    return out


def _sel(req: GraphRequest, kind: str) -> list[str] | None:
    raw = req.query.get("$select")
    if raw is None:
        return None
    res = USER_RESOURCE if kind == "user" else GROUP_RESOURCE
    names = [p.strip() for p in raw.split(",") if p.strip()]
    plain = [p for p in names if p not in ("members", "manager")]
    q = {"$select": ",".join(plain)} if plain else {}
    sel = parse_select(q, res, collection=True) or []
    return sel + [p for p in names if p in ("members", "manager")]


def _changes(
    t: Tenant,
    kind: str,
    since: int,
    end: int,
    sel: list[str] | None,
    ids: list[str] | None,
    with_members: bool,
    prefer: str,
) -> list[dict[str, Any]]:
    """Collapse log entries (since, end] into one entry per object, in first-change order."""
    per: dict[str, dict[str, Any]] = {}
    tracked = None if sel is None else set(sel)
    minimal = "return=minimal" in prefer.lower()
    for ch in _entries_after(t, since, end):
        if ch.kind != kind or (ids is not None and ch.id not in ids):
            continue
        e = per.setdefault(
            ch.id, {"props": set(), "created": False, "removed": None, "add": {}, "remove": {}}
        )
        if ch.op == "upsert":
            if not ch.props:
                e["created"], e["removed"] = True, None
            e["props"].update(ch.props)
        elif ch.op in ("softdelete", "purge"):
            e["removed"] = "changed" if ch.op == "softdelete" else "deleted"
        elif ch.op == "member_add" and ch.member:
            e["remove"].pop(ch.member, None)
            e["add"][ch.member] = ch.member_type
        elif ch.op == "member_remove" and ch.member:
            e["add"].pop(ch.member, None)
            e["remove"][ch.member] = ch.member_type
    rows: list[dict[str, Any]] = []
    objs = t.users if kind == "user" else t.groups
    for oid, e in per.items():
        if e["removed"] and oid not in objs:
            rows.append({"id": oid, "@removed": {"reason": e["removed"]}})
            continue
        obj = objs.get(oid)
        if obj is None:
            continue
        if e["created"]:
            rows.append(_full(t, kind, obj, sel, with_members))
            continue
        props = e["props"] if tracked is None else e["props"] & tracked
        members = with_members and (e["add"] or e["remove"])
        if not props and not members:
            continue
        row: dict[str, Any] = (
            {"id": oid, **{p: obj.get(p) for p in props}}
            if minimal
            else _full(t, kind, obj, sel, False, props)
        )
        if members:
            row["members@delta"] = [_member_entry(t, m, mt) for m, mt in e["add"].items()] + [
                _member_entry(t, m, mt, removed=True) for m, mt in e["remove"].items()
            ]
        rows.append(row)
    return rows


def _entries_after(t: Tenant, since: int, end: int) -> list[Any]:
    import bisect

    seqs = t.changes
    lo = bisect.bisect_right([c.seq for c in seqs], since) if seqs and seqs[0].seq <= since else 0
    return [c for c in seqs[lo:] if c.seq <= end]

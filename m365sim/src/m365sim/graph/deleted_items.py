"""/directory/deletedItems: the recycle bin of users and groups: list, get, restore, purge, and
the purge of items past their 30 days (graph-facts §12.3)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from m365sim.errors import bad_request, not_found
from m365sim.graph import perms
from m365sim.graph.core import GraphRequest, GraphResponse, json_response, no_content
from m365sim.graph.directory import context_url
from m365sim.graph.groups import RESOURCE as GROUP_RESOURCE
from m365sim.graph.odata import Resource, run_collection
from m365sim.graph.user_lifecycle import check_restorable, restore_user
from m365sim.graph.users import RESOURCE as USER_RESOURCE
from m365sim.state import Tenant

if TYPE_CHECKING:
    from m365sim.simulator import Simulator


def _purge_expired(sim: Simulator) -> None:
    import time

    t = sim.tenant
    limit = sim.settings.soft_delete_days * 86400
    for oid, o in list(t.deleted.items()):
        ts = time.mktime(time.strptime(o["deletedDateTime"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
        if time.time() - ts > limit:
            _purge(t, oid)


def _purge(t: Tenant, oid: str) -> None:
    kind = t.deleted_kind.pop(oid)
    del t.deleted[oid]
    t.passwords.pop(oid, None)
    for ra in [ra for ra in t.role_assignments.values() if ra["principalId"] == oid]:
        del t.role_assignments[ra["id"]]
    t.log_change(kind, oid, "purge")


def list_deleted(sim: Simulator, req: GraphRequest) -> GraphResponse:
    cast = req.params.get("cast", "")
    kind = {"microsoft.graph.user": "user", "microsoft.graph.group": "group"}.get(cast)
    if kind is None:
        raise bad_request(
            "The requested deleted items type is not supported. Please specify a type cast, e.g. microsoft.graph.user."
        )
    perms.require(req, perms.USER_READ_FULL if kind == "user" else perms.GROUP_READ)
    _purge_expired(sim)
    t = sim.tenant
    res = USER_RESOURCE if kind == "user" else GROUP_RESOURCE
    res = Resource(
        res.type_name,
        res.entity_set,
        [*res.default_props, "deletedDateTime"],
        res.all_props,
        res.filterable | {"deletedDateTime"},
        res.ends_with_ok,
        res.default_orderby,
    )
    items = [o for oid, o in t.deleted.items() if t.deleted_kind[oid] == kind]
    return json_response(
        run_collection(
            req.query,
            req.headers,
            res,
            lambda n: items,
            req.base_url,
            f"/directory/deletedItems/{cast}",
            f"directory/deletedItems/{cast}",
        )
    )


def _deleted_or_404(sim: Simulator, oid: str) -> dict[str, Any]:
    _purge_expired(sim)
    o = sim.tenant.deleted.get(oid)
    if o is None:
        raise not_found(oid)
    return o


def get_deleted(sim: Simulator, req: GraphRequest) -> GraphResponse:
    perms.require(req, perms.USER_READ | perms.GROUP_READ)
    o = _deleted_or_404(sim, req.params["id"])
    kind = sim.tenant.deleted_kind[o["id"]]
    res = USER_RESOURCE if kind == "user" else GROUP_RESOURCE
    body = {p: o.get(p) for p in [*res.default_props, "deletedDateTime"]}
    return json_response(
        {
            "@odata.context": context_url(req, "directory/deletedItems/$entity"),
            "@odata.type": f"#microsoft.graph.{kind}",
            **body,
        }
    )


def restore_deleted(sim: Simulator, req: GraphRequest) -> GraphResponse:
    o = _deleted_or_404(sim, req.params["id"])
    t = sim.tenant
    oid = o["id"]
    kind = t.deleted_kind[oid]
    if kind == "user":
        perms.require(req, perms.USER_DELETE)
        perms.require_role_for_target(sim, req, oid, need_user_admin=False)
        upn, proxies = check_restorable(sim, o, req.body)
        restore_user(t, o, upn, proxies)
    else:
        perms.require(req, perms.GROUP_WRITE)
        del t.deleted[oid]
        del t.deleted_kind[oid]
        o["deletedDateTime"] = None
        t.groups[oid] = o
        t.index_group(o)
        t.log_change(kind, oid, "upsert")  # reappears as new in delta
    res = USER_RESOURCE if kind == "user" else GROUP_RESOURCE
    return json_response(
        {
            "@odata.context": context_url(req, "directoryObjects/$entity"),
            "@odata.type": f"#microsoft.graph.{kind}",
            **{p: o.get(p) for p in res.default_props},
        }
    )


def purge_deleted(sim: Simulator, req: GraphRequest) -> GraphResponse:
    o = _deleted_or_404(sim, req.params["id"])
    kind = sim.tenant.deleted_kind[o["id"]]
    perms.require(req, perms.USER_DELETE if kind == "user" else perms.GROUP_WRITE)
    if kind == "user":
        perms.require_role_for_target(sim, req, o["id"], need_user_admin=False)
    _purge(sim.tenant, o["id"])
    return no_content()

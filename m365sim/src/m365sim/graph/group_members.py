"""/groups/{id}/members and /owners: $ref adds and removes, member listings (direct, by type,
transitive) and counts (§2.3). Groups themselves are in `groups`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from m365sim import replication
from m365sim.errors import bad_request, not_found
from m365sim.graph import perms
from m365sim.graph.core import GraphRequest, GraphResponse, count_response, json_response, no_content
from m365sim.graph.groups import (
    ALL_PROPS,
    FILTERABLE,
    NOT_EXIST,
    RESOURCE,
    add_members,
    bind_ids,
    check_new_members,
    get_group_or_404,
    kind,
    members_writable_or_400,
    writable_or_400,
)
from m365sim.graph.odata import Resource, parse_select, project, run_collection
from m365sim.graph.user_schema import RESOURCE as USER_RESOURCE
from m365sim.state import Tenant

if TYPE_CHECKING:
    from m365sim.simulator import Simulator


def add_member_ref(sim: Simulator, req: GraphRequest) -> GraphResponse:
    perms.require(req, perms.MEMBER_WRITE)
    t = sim.tenant
    g = get_group_or_404(t, req.params["id"])
    body = req.body if isinstance(req.body, dict) else {}
    ref = body.get("@odata.id")
    if not isinstance(ref, str):
        raise bad_request("Invalid value specified for property '@odata.id'.")
    members_writable_or_400(g, req)
    ids = bind_ids([ref])
    check_new_members(t, g, ids)
    add_members(t, g, ids)
    return no_content()


def remove_member_ref(sim: Simulator, req: GraphRequest) -> GraphResponse:
    perms.require(req, perms.MEMBER_WRITE)
    t = sim.tenant
    g = get_group_or_404(t, req.params["id"])
    members_writable_or_400(g, req)
    mid = req.params["member"]
    replication.require_replicated(t, mid)
    if mid not in t.members.get(g["id"], {}):
        if sim.settings.remove_non_member_status == 400:
            raise bad_request(NOT_EXIST)
        raise not_found(mid)
    t.remove_member(g["id"], mid)
    mtype = (t.find_object(mid) or ("user", {}))[0]
    t.log_change("group", g["id"], "member_remove", member=mid, member_type=mtype)
    return no_content()


def typed(t: Tenant, oid: str) -> dict[str, Any] | None:
    found = t.find_object(oid)
    if found is None:
        return None
    kind_, obj = found
    return {"@odata.type": f"#microsoft.graph.{kind_}", **obj}


def _members_collection(
    sim: Simulator, req: GraphRequest, type_cast: str | None, transitive: bool
) -> dict[str, Any]:
    perms.require(req, perms.GROUP_READ)
    t = sim.tenant
    g = get_group_or_404(t, req.params["id"])
    ids: list[str] = replication.member_ids(t, g["id"])
    if transitive:
        seen, stack, ids = set(), list(ids), []
        while stack:
            mid = stack.pop(0)
            if mid in seen:
                continue
            seen.add(mid)
            ids.append(mid)
            stack.extend(replication.member_ids(t, mid))

    def items(node: Any) -> Any:
        for mid in ids:
            obj = typed(t, mid)
            if obj is not None and (
                type_cast is None or obj["@odata.type"] == f"#microsoft.graph.{type_cast}"
            ):
                yield obj

    def extra(obj: dict[str, Any], out: dict[str, Any]) -> None:
        out.clear()
        out["@odata.type"] = obj["@odata.type"]
        sel = (
            parse_select(req.query, USER_RESOURCE if obj["@odata.type"].endswith("user") else RESOURCE, True)
            if obj["@odata.type"].endswith(("user", "group"))
            else None
        )
        res = RESOURCE if obj["@odata.type"].endswith("group") else USER_RESOURCE
        if obj["@odata.type"].endswith("servicePrincipal"):
            out.update({k: v for k, v in obj.items() if k != "@odata.type"})
        else:
            out.update(project(obj, sel, res))

    res = Resource(
        "directoryObject",
        "directoryObjects",
        ["id"],
        USER_RESOURCE.all_props | ALL_PROPS,
        USER_RESOURCE.filterable | FILTERABLE,
        USER_RESOURCE.ends_with_ok,
        {"displayName"},
    )
    seg = "transitiveMembers" if transitive else "members"
    return run_collection(
        req.query,
        req.headers,
        res,
        items,
        req.base_url,
        f"/groups/{g['id']}/{seg}",
        "directoryObjects",
        extra,
    )


def list_members(sim: Simulator, req: GraphRequest) -> GraphResponse:
    return json_response(_members_collection(sim, req, req.params.get("cast"), False))


def list_transitive(sim: Simulator, req: GraphRequest) -> GraphResponse:
    return json_response(_members_collection(sim, req, None, True))


def count_members(sim: Simulator, req: GraphRequest) -> GraphResponse:
    perms.require(req, perms.GROUP_READ)
    if req.header("consistencylevel").lower() != "eventual":
        raise bad_request("$count is not currently supported.")
    g = get_group_or_404(sim.tenant, req.params["id"])
    return count_response(sim, req, len(replication.member_ids(sim.tenant, g["id"])))


def list_owners(sim: Simulator, req: GraphRequest) -> GraphResponse:
    perms.require(req, perms.GROUP_READ)
    t = sim.tenant
    g = get_group_or_404(t, req.params["id"])
    vals = [o for oid in t.owners.get(g["id"], {}) if (o := typed(t, oid)) is not None]
    return json_response(
        {
            "@odata.context": f"{req.base_url}/$metadata#directoryObjects",
            "value": [{"@odata.type": o["@odata.type"], **project(o, None, USER_RESOURCE)} for o in vals],
        }
    )


def add_owner_ref(sim: Simulator, req: GraphRequest) -> GraphResponse:
    perms.require(req, perms.GROUP_WRITE)
    t = sim.tenant
    g = get_group_or_404(t, req.params["id"])
    ref = (req.body if isinstance(req.body, dict) else {}).get("@odata.id")
    if not isinstance(ref, str):
        raise bad_request("Invalid value specified for property '@odata.id'.")
    writable_or_400(g)
    oid = bind_ids([ref])[0]
    if oid not in t.users and oid not in t.sp_index:
        raise not_found(oid)
    owners = t.owners.setdefault(g["id"], {})
    if oid in owners:
        raise bad_request(
            "One or more added object references already exist for the following modified properties: 'owners'."
        )
    owners[oid] = None
    return no_content()


def remove_owner_ref(sim: Simulator, req: GraphRequest) -> GraphResponse:
    perms.require(req, perms.GROUP_WRITE)
    t = sim.tenant
    g = get_group_or_404(t, req.params["id"])
    writable_or_400(g)
    owners = t.owners.get(g["id"], {})
    oid = req.params["member"]
    if oid not in owners:
        raise not_found(oid)
    if len(owners) == 1 and kind(g) == "unified":
        raise bad_request("The group must have at least one owner, hence this owner cannot be removed.")
    del owners[oid]
    return no_content()

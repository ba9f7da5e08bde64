"""/groups: the four kinds, create/update/delete and members@odata.bind (§2); member and owner
references are in `group_members`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from m365sim import replication
from m365sim.errors import bad_request, conflict, not_found
from m365sim.graph import perms
from m365sim.graph.core import GraphRequest, GraphResponse, count_response, json_response, no_content
from m365sim.graph.odata import Resource, count_only, parse_select, project, run_collection
from m365sim.graph.user_rules import NICK_BAD
from m365sim.state import Tenant, iso, new_id

if TYPE_CHECKING:
    from m365sim.simulator import Simulator

DEFAULT_PROPS = [
    "id",
    "deletedDateTime",
    "classification",
    "createdDateTime",
    "creationOptions",
    "description",
    "displayName",
    "expirationDateTime",
    "groupTypes",
    "isAssignableToRole",
    "mail",
    "mailEnabled",
    "mailNickname",
    "membershipRule",
    "membershipRuleProcessingState",
    "onPremisesDomainName",
    "onPremisesLastSyncDateTime",
    "onPremisesNetBiosName",
    "onPremisesSamAccountName",
    "onPremisesSecurityIdentifier",
    "onPremisesSyncEnabled",
    "preferredDataLocation",
    "preferredLanguage",
    "proxyAddresses",
    "renewedDateTime",
    "resourceBehaviorOptions",
    "resourceProvisioningOptions",
    "securityEnabled",
    "securityIdentifier",
    "theme",
    "visibility",
    "onPremisesProvisioningErrors",
    "serviceProvisioningErrors",
]
WRITABLE = {
    "description",
    "displayName",
    "groupTypes",
    "mailEnabled",
    "mailNickname",
    "securityEnabled",
    "visibility",
    "membershipRule",
    "membershipRuleProcessingState",
    "isAssignableToRole",
    "classification",
    "preferredLanguage",
    "theme",
    "preferredDataLocation",
    "resourceBehaviorOptions",
    "resourceProvisioningOptions",
}
ALL_PROPS = (
    set(DEFAULT_PROPS)
    | WRITABLE
    | {"allowExternalSenders", "autoSubscribeNewMembers", "hideFromAddressLists", "hideFromOutlookClients"}
)
FILTERABLE = {
    "id",
    "displayName",
    "mail",
    "mailNickname",
    "mailEnabled",
    "securityEnabled",
    "groupTypes",
    "proxyAddresses",
    "createdDateTime",
    "onPremisesSyncEnabled",
    "isAssignableToRole",
    "description",
    "visibility",
    "onPremisesSecurityIdentifier",
}
RESOURCE = Resource(
    "group",
    "groups",
    DEFAULT_PROPS,
    ALL_PROPS,
    FILTERABLE,
    ends_with_ok={"mail", "proxyAddresses"},
    default_orderby={"displayName"},
)
READ_ONLY_KIND = "Cannot Update a mail-enabled security groups and or distribution list."
ALREADY = (
    "One or more added object references already exist for the following modified properties: 'members'."
)
NOT_EXIST = (
    "One or more removed object references do not exist for the following modified properties: 'members'."
)
MAX_BIND = 20


def new_group_dict(
    gid: str, display: str, nick: str, mail_enabled: bool, security: bool, types: list[str]
) -> dict[str, Any]:
    g: dict[str, Any] = dict.fromkeys(DEFAULT_PROPS)
    g.update(
        id=gid,
        displayName=display,
        mailNickname=nick,
        mailEnabled=mail_enabled,
        securityEnabled=security,
        groupTypes=list(types),
        createdDateTime=iso(),
        renewedDateTime=iso(),
        proxyAddresses=[],
        creationOptions=[],
        resourceBehaviorOptions=[],
        resourceProvisioningOptions=[],
        onPremisesProvisioningErrors=[],
        serviceProvisioningErrors=[],
        isAssignableToRole=None,
        securityIdentifier="S-1-12-1-"
        + "-".join(str(int(gid.replace("-", "")[i : i + 8], 16)) for i in (0, 8, 16, 24)),
    )
    if "Unified" in types:
        g["visibility"] = "Public"
    return g


def kind(g: dict[str, Any]) -> str:
    if "Unified" in (g.get("groupTypes") or []):
        return "unified"
    if g.get("mailEnabled"):
        return "mailSecurity" if g.get("securityEnabled") else "distribution"
    return "security"


def writable_or_400(g: dict[str, Any]) -> None:
    if kind(g) in ("mailSecurity", "distribution"):
        raise bad_request(READ_ONLY_KIND)


def members_writable_or_400(g: dict[str, Any], req: GraphRequest | None = None) -> None:
    writable_or_400(g)
    if req is not None and g.get("isAssignableToRole"):
        perms.require(req, {"RoleManagement.ReadWrite.Directory"})  # role-assignable groups (§2.3)
    if "DynamicMembership" in (g.get("groupTypes") or []):
        raise bad_request(
            "Insufficient privileges to complete the operation: members of a group with dynamic membership cannot be added or removed manually."
        )


def get_group_or_404(t: Tenant, gid: str) -> dict[str, Any]:
    g = t.groups.get(gid)
    if g is None:
        raise not_found(gid)
    replication.require_replicated(t, gid)
    return g


def bind_ids(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise bad_request("Invalid value specified for property 'members@odata.bind' of resource 'Group'.")
    out = []
    for url in value:
        if not isinstance(url, str) or "/" not in url:
            raise bad_request(f"Invalid object identifier '{url}'.")
        out.append(url.rstrip("/").rsplit("/", 1)[-1].removesuffix("')").split("('")[-1])
    return out


def check_new_members(t: Tenant, g: dict[str, Any], ids: list[str]) -> None:
    """All-or-nothing validation for members to add (404 unknown, 400 already member)."""
    current = t.members.get(g["id"], {})
    for mid in ids:
        found = t.find_object(mid)
        if found is None:
            raise not_found(mid)
        replication.require_replicated(t, mid)
        if kind(g) == "unified" and found[0] != "user":
            raise bad_request("Only user objects can be members of a Microsoft 365 group.")
        if mid == g["id"]:
            raise bad_request("A group cannot be a member of itself.")
        if mid in current:
            raise bad_request(ALREADY)
    if len(set(ids)) != len(ids):
        raise bad_request(ALREADY)


def add_members(t: Tenant, g: dict[str, Any], ids: list[str]) -> None:
    for mid in ids:
        t.add_member(g["id"], mid)
        mtype = t.find_object(mid)[0]  # type: ignore[index]
        t.log_change("group", g["id"], "member_add", member=mid, member_type=mtype)


def create_group(sim: Simulator, req: GraphRequest) -> GraphResponse:
    perms.require(req, perms.GROUP_CREATE)
    t = sim.tenant
    body = req.body if isinstance(req.body, dict) else {}
    for prop in ("displayName", "mailEnabled", "mailNickname", "securityEnabled"):
        if body.get(prop) is None:
            raise bad_request(f"Invalid value specified for property '{prop}' of resource 'Group'.")
    display, nick = body["displayName"], body["mailNickname"]
    if not isinstance(display, str) or not display.strip() or len(display) > 256:
        raise bad_request("Invalid value specified for property 'displayName' of resource 'Group'.")
    if (
        not isinstance(nick, str)
        or not nick
        or len(nick) > 64
        or any(c in NICK_BAD or ord(c) > 127 for c in nick)
    ):
        raise bad_request("Invalid value specified for property 'mailNickname' of resource 'Group'.")
    types = body.get("groupTypes") or []
    unified = "Unified" in types
    if body["mailEnabled"] and not unified:
        raise bad_request(
            "The service does not currently support writes of mail-enabled groups. Please ensure that the mail-enablement property is unset or is set to false."
        )
    if unified and not body["mailEnabled"]:
        raise bad_request("Invalid value specified for property 'mailEnabled' of resource 'Group'.")
    if not unified and not body["securityEnabled"]:
        raise bad_request("Invalid value specified for property 'securityEnabled' of resource 'Group'.")
    if (unified or sim.settings.group_mail_nickname_unique_for_security) and nick.lower() in t.group_nick:
        other = t.groups.get(t.group_nick[nick.lower()])
        if other is not None and (
            sim.settings.group_mail_nickname_unique_for_security or kind(other) == "unified"
        ):
            raise conflict("mailNickname")
    members = bind_ids(body.get("members@odata.bind", []))
    owners = bind_ids(body.get("owners@odata.bind", []))
    if members or owners:
        perms.require(req, perms.BIND_AT_CREATE)
    if len(members) + len(owners) > MAX_BIND:
        raise bad_request("The number of members and owners to add in one request exceeds the limit of 20.")
    gid = new_id()
    g = new_group_dict(gid, display, nick, body["mailEnabled"], body["securityEnabled"], types)
    for k in (
        "description",
        "visibility",
        "isAssignableToRole",
        "membershipRule",
        "membershipRuleProcessingState",
    ):
        if k in body:
            g[k] = body[k]
    if unified:
        mail = f"{nick}@{t.default_domain().id}"
        if mail.lower() in t.by_proxy or mail.lower() in t.by_mail:
            raise conflict("proxyAddresses")
        g["mail"] = mail
        g["proxyAddresses"] = [f"SMTP:{mail}"]
    check_new_members(t, g, members)
    for oid in owners:
        if oid not in t.users and oid not in t.sp_index:
            raise not_found(oid)
        replication.require_replicated(t, oid)
    t.groups[gid] = g
    t.index_group(g)
    t.log_change("group", gid, "upsert")
    add_members(t, g, members)
    t.owners[gid] = dict.fromkeys(owners)
    return json_response(
        {"@odata.context": f"{req.base_url}/$metadata#groups/$entity", **project(g, None, RESOURCE)}, 201
    )


def get_group(sim: Simulator, req: GraphRequest) -> GraphResponse:
    perms.require(req, perms.GROUP_READ)
    g = get_group_or_404(sim.tenant, req.params["id"])
    select = parse_select(req.query, RESOURCE, collection=False)
    return json_response(
        {"@odata.context": f"{req.base_url}/$metadata#groups/$entity", **project(g, select, RESOURCE)}
    )


def list_groups(sim: Simulator, req: GraphRequest) -> GraphResponse:
    perms.require(req, perms.GROUP_READ)
    t = sim.tenant
    return json_response(
        run_collection(
            req.query,
            req.headers,
            RESOURCE,
            lambda n: replication.visible(t, t.groups.values()),
            req.base_url,
            "/groups",
        )
    )


def count_groups(sim: Simulator, req: GraphRequest) -> GraphResponse:
    perms.require(req, perms.GROUP_READ)
    t = sim.tenant
    return count_response(
        sim,
        req,
        count_only(req.query, req.headers, RESOURCE, lambda n: replication.visible(t, t.groups.values())),
    )


def update_group(sim: Simulator, req: GraphRequest) -> GraphResponse:
    t = sim.tenant
    g = get_group_or_404(t, req.params["id"])
    body = req.body if isinstance(req.body, dict) else {}
    binds = body.get("members@odata.bind")
    props = {k: v for k, v in body.items() if k != "members@odata.bind"}
    if props:
        perms.require(req, perms.GROUP_WRITE)
    if binds is not None:
        perms.require(req, perms.MEMBER_WRITE)
        members_writable_or_400(g, req)
    writable_or_400(g)
    for k in props:
        if k not in WRITABLE and k not in ALL_PROPS:
            raise bad_request(
                f"Property '{k}' does not exist on type 'microsoft.graph.group'. Make sure to only use property names that are defined by the type or mark the type as open type."
            )
        if k in ("mailEnabled",) and props[k] and kind(g) != "unified":
            raise bad_request(
                "The service does not currently support writes of mail-enabled groups. Please ensure that the mail-enablement property is unset or is set to false."
            )
    if "displayName" in props and not (
        isinstance(props["displayName"], str) and props["displayName"].strip()
    ):
        raise bad_request("Invalid value specified for property 'displayName' of resource 'Group'.")
    ids: list[str] = []
    if binds is not None:
        ids = bind_ids(binds)
        if len(ids) > MAX_BIND:
            raise bad_request("The number of members to add in one request exceeds the limit of 20.")
        check_new_members(t, g, ids)
    nick = props.get("mailNickname")
    if nick is not None:
        if (
            not isinstance(nick, str)
            or not nick
            or len(nick) > 64
            or any(c in NICK_BAD or ord(c) > 127 for c in nick)
        ):
            raise bad_request("Invalid value specified for property 'mailNickname' of resource 'Group'.")
        owner = t.group_nick.get(nick.lower())
        other = t.groups.get(owner or "")
        if other is not None and owner != g["id"] and kind(g) == "unified" and kind(other) == "unified":
            raise conflict("mailNickname")
    t.unindex_group(g)
    changed = [k for k, v in props.items() if g.get(k) != v]
    g.update(props)
    t.index_group(g)
    if changed:
        t.log_change("group", g["id"], "upsert", changed)
    add_members(t, g, ids)
    return no_content()


def delete_group(sim: Simulator, req: GraphRequest) -> GraphResponse:
    perms.require(req, perms.GROUP_WRITE)
    t = sim.tenant
    g = get_group_or_404(t, req.params["id"])
    writable_or_400(g)
    gid = g["id"]
    t.unindex_group(g)
    del t.groups[gid]
    for mid in list(t.members.pop(gid, {})):
        t.member_of.get(mid, set()).discard(gid)
    for pgid in list(t.member_of.get(gid, ())):
        t.remove_member(pgid, gid)
        t.log_change("group", pgid, "member_remove", member=gid, member_type="group")
    t.owners.pop(gid, None)
    if kind(g) == "unified":
        g["deletedDateTime"] = iso()
        t.deleted[gid] = g
        t.deleted_kind[gid] = "group"
        t.log_change("group", gid, "softdelete")
    else:
        t.log_change("group", gid, "purge")  # security groups are deleted permanently (§1.6)
    return no_content()

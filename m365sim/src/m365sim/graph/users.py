"""/users: create, read, list, update, delete, revokeSignInSessions (graph-facts §1); the
properties are in `user_schema`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from m365sim import replication
from m365sim.errors import bad_request, denied, not_found
from m365sim.graph import perms
from m365sim.graph.core import GraphRequest, GraphResponse, count_response, json_response, no_content
from m365sim.graph.odata import count_only, index_plan, parse_select, project, run_collection
from m365sim.graph.user_lifecycle import soft_delete_user
from m365sim.graph.user_rules import (
    check_federated_move,
    check_immutable,
    check_mail_free,
    check_password,
    check_synced,
    check_upn_free,
    check_usage_location,
    is_federated,
    set_mail,
    validate_nick,
    validate_simple_props,
    validate_upn,
)
from m365sim.graph.user_schema import (
    ALL_PROPS,
    APP_ONLY_FORBIDDEN,
    RESOURCE,
    UPDATABLE,
    new_user_dict,
)
from m365sim.state import Tenant, iso, new_id

if TYPE_CHECKING:
    from m365sim.simulator import Simulator


def get_user_or_404(t: Tenant, key: str) -> dict[str, Any]:
    u = t.find_user(key)
    if u is None:
        raise not_found(key)
    replication.require_replicated(t, u["id"], key)
    return u


def _str(body: dict[str, Any], prop: str, max_len: int | None = None, required: bool = False) -> str | None:
    v = body.get(prop)
    if v is None:
        if required:
            raise bad_request(f"Invalid value specified for property '{prop}' of resource 'User'.")
        return None
    if not isinstance(v, str) or (required and not v.strip()) or (max_len and len(v) > max_len):
        raise bad_request(f"Invalid value specified for property '{prop}' of resource 'User'.")
    return v


def create_user(sim: Simulator, req: GraphRequest) -> GraphResponse:
    perms.require(req, perms.USER_CREATE)
    t = sim.tenant
    body = req.body if isinstance(req.body, dict) else {}
    unknown = [k for k in body if k not in ALL_PROPS and not k.startswith("@")]
    if unknown:
        raise bad_request(
            f"Property '{unknown[0]}' does not exist on type 'microsoft.graph.user'. Make sure to only use property names that are defined by the type or mark the type as open type."
        )
    for prop in ("accountEnabled", "displayName", "mailNickname", "userPrincipalName"):
        if prop not in body or body[prop] is None:
            raise bad_request(f"Invalid value specified for property '{prop}' of resource 'User'.")
    if "proxyAddresses" in body:
        raise bad_request("Property 'proxyAddresses' is read-only and cannot be set.")
    if not isinstance(body["accountEnabled"], bool):
        raise bad_request("Invalid value specified for property 'accountEnabled' of resource 'User'.")
    display = _str(body, "displayName", 256, required=True) or ""
    nick = validate_nick(body["mailNickname"])
    upn = validate_upn(t, body["userPrincipalName"])
    profile = body.get("passwordProfile")
    if not isinstance(profile, dict) or not profile.get("password"):
        raise bad_request("A password must be specified to create a new user.")
    immutable = body.get("onPremisesImmutableId")
    if is_federated(t, upn) and not immutable:
        raise bad_request(sim.settings.federated_create_message)
    check_upn_free(sim, t, upn, None)
    check_immutable(t, immutable, None)
    uid = new_id()
    u = new_user_dict(uid, upn, display, nick, body["accountEnabled"])
    for k, v in body.items():
        if k in ("passwordProfile", "mail") or k.startswith("@"):
            continue
        if k in UPDATABLE or k in ALL_PROPS:
            u[k] = v
    validate_simple_props(body)
    check_usage_location(sim, body)
    check_password(sim, t, u, profile["password"], body.get("passwordPolicies"))
    if body.get("mail"):
        check_mail_free(sim, t, body["mail"], None)
        set_mail(u, body["mail"], t)
    t.users[uid] = u
    t.passwords[uid] = profile["password"]
    t.password_force_change[uid] = bool(profile.get("forceChangePasswordNextSignIn", True))
    t.index_user(u)
    t.log_change("user", uid, "upsert")
    return json_response(
        {"@odata.context": f"{req.base_url}/$metadata#users/$entity", **project(u, None, RESOURCE)}, 201
    )


def get_user(sim: Simulator, req: GraphRequest) -> GraphResponse:
    perms.require(req, perms.USER_READ)
    u = get_user_or_404(sim.tenant, req.params["id"])
    select = parse_select(req.query, RESOURCE, collection=False)
    ctx = "users/$entity" if select is None else f"users({','.join(select)})/$entity"
    return json_response(
        {"@odata.context": f"{req.base_url}/$metadata#{ctx}", **project(u, select, RESOURCE)}
    )


def user_indexes(t: Tenant) -> dict[str, Any]:
    def by(idx: dict[str, str]) -> Any:
        return lambda v: t.users.get(idx.get(v.lower(), ""))

    return {
        "id": lambda v: t.users.get(v),
        "userprincipalname": by(t.by_upn),
        "mail": by(t.by_mail),
        "onpremisesimmutableid": lambda v: t.users.get(t.by_immutable.get(v, "")),
        "proxyaddresses": lambda v: t.users.get(t.by_proxy.get(v.split(":", 1)[-1].lower(), "")),
    }


def list_users(sim: Simulator, req: GraphRequest) -> GraphResponse:
    perms.require(req, perms.USER_READ)
    t = sim.tenant

    def items(node: Any) -> Any:
        plan = index_plan(node, user_indexes(t))
        return replication.visible(t, plan if plan is not None else t.users.values())

    sel = req.query.get("$select")
    ctx = f"users({sel})" if sel else "users"
    return json_response(run_collection(req.query, req.headers, RESOURCE, items, req.base_url, "/users", ctx))


def count_users(sim: Simulator, req: GraphRequest) -> GraphResponse:
    perms.require(req, perms.USER_READ)
    t = sim.tenant
    n = count_only(
        req.query,
        req.headers,
        RESOURCE,
        lambda node: replication.visible(t, index_plan(node, user_indexes(t)) or t.users.values()),
    )
    return count_response(sim, req, n)


def update_user(sim: Simulator, req: GraphRequest) -> GraphResponse:
    t = sim.tenant
    u = get_user_or_404(t, req.params["id"])
    body = req.body if isinstance(req.body, dict) else {}
    if not body:
        raise bad_request("Empty Payload. JSON content expected.")
    for k in body:
        if k == "proxyAddresses":
            raise bad_request("Property 'proxyAddresses' is read-only and cannot be set.")
        if k not in UPDATABLE:
            if k in ALL_PROPS:
                raise bad_request(f"Property '{k}' is read-only and cannot be set.")
            raise bad_request(
                f"Property '{k}' does not exist on type 'microsoft.graph.user'. Make sure to only use property names that are defined by the type or mark the type as open type."
            )
    # permission gates (§1.3)
    general = set(body) - {"passwordProfile", "accountEnabled", "passwordPolicies"}
    for prop in general:
        perms.require(req, perms.USER_UPDATE | perms.NARROW.get(prop, set()))
    if "identities" in body:
        perms.require(req, {"User.ManageIdentities.All"})
    if set(body) & APP_ONLY_FORBIDDEN:
        raise denied()
    uid = u["id"]
    if "passwordProfile" in body:
        perms.require(req, perms.PASSWORD)
        perms.require_role_for_target(sim, req, uid, sim.settings.password_profile_requires_user_admin_role)
    if "accountEnabled" in body:
        perms.require(req, perms.ENABLE)
        perms.require_role_for_target(sim, req, uid, need_user_admin=False)
    if "passwordPolicies" in body and not general:
        perms.require(req, perms.USER_UPDATE | perms.PASSWORD)
    if set(body) & {"otherMails", "businessPhones", "mobilePhone"}:
        perms.require_role_for_target(sim, req, uid, need_user_admin=False)
    check_synced(u, body)
    validate_simple_props(body)
    check_usage_location(sim, body)
    if "displayName" in body and not (isinstance(body["displayName"], str) and body["displayName"].strip()):
        raise bad_request("Invalid value specified for property 'displayName' of resource 'User'.")
    if "accountEnabled" in body and not isinstance(body["accountEnabled"], bool):
        raise bad_request("Invalid value specified for property 'accountEnabled' of resource 'User'.")
    if "mail" in body and body["mail"] is None:
        raise bad_request("Invalid value specified for property 'mail' of resource 'User'.")
    if "usageLocation" in body and body["usageLocation"] is None and u.get("usageLocation"):
        raise bad_request("Invalid value specified for property 'usageLocation' of resource 'User'.")
    new_upn = body.get("userPrincipalName", u["userPrincipalName"])
    if "userPrincipalName" in body:
        validate_upn(t, new_upn)
        check_upn_free(sim, t, new_upn, uid)
    if "mailNickname" in body:
        validate_nick(body["mailNickname"])
    check_federated_move(sim, t, u, body)
    # the immutable id rule is judged on the UPN the user has when the request arrives, the
    # password rule on the UPN it has afterwards (a move out of a federated domain sets one)
    federated = is_federated(t, u["userPrincipalName"])
    if "passwordProfile" in body:
        if is_federated(t, new_upn):
            raise bad_request(sim.settings.federated_password_message)
        prof = body["passwordProfile"]
        if not isinstance(prof, dict) or not prof.get("password"):
            raise bad_request("Invalid value specified for property 'passwordProfile' of resource 'User'.")
        check_password(
            sim,
            t,
            {**u, **{k: v for k, v in body.items() if k in ("givenName", "surname")}},
            prof["password"],
            body.get("passwordPolicies", u.get("passwordPolicies")),
        )
    if "onPremisesImmutableId" in body:
        if federated and body["onPremisesImmutableId"] != u.get("onPremisesImmutableId"):
            raise bad_request(sim.settings.federated_immutable_id_message)
        check_immutable(t, body["onPremisesImmutableId"], uid)
    if "mail" in body:
        check_mail_free(sim, t, body["mail"], uid)
    # apply
    t.unindex_user(u)
    changed = []
    for k, v in body.items():
        if k == "passwordProfile":
            t.passwords[uid] = v["password"]
            t.password_force_change[uid] = bool(v.get("forceChangePasswordNextSignIn", True))
            u["lastPasswordChangeDateTime"] = iso()
            changed.append(k)
            continue
        if k == "mail":
            set_mail(u, v, t)
            changed += ["mail", "proxyAddresses"]
            continue
        if u.get(k) != v:
            u[k] = v
            changed.append(k)
    t.index_user(u)
    if changed:
        t.log_change("user", uid, "upsert", changed)
    return no_content()


def delete_user(sim: Simulator, req: GraphRequest) -> GraphResponse:
    perms.require(req, perms.USER_DELETE)
    t = sim.tenant
    u = get_user_or_404(t, req.params["id"])
    perms.require_role_for_target(sim, req, u["id"], need_user_admin=False)
    soft_delete_user(t, u)
    return no_content()


def revoke_sessions(sim: Simulator, req: GraphRequest) -> GraphResponse:
    perms.require(req, perms.REVOKE)
    u = get_user_or_404(sim.tenant, req.params["id"])
    perms.require_role_for_target(sim, req, u["id"], need_user_admin=False)
    u["signInSessionsValidFromDateTime"] = iso()
    return json_response({"@odata.context": f"{req.base_url}/$metadata#Edm.Boolean", "value": True})


def user_member_of(sim: Simulator, req: GraphRequest) -> GraphResponse:
    perms.require(req, perms.USER_READ)
    t = sim.tenant
    u = get_user_or_404(t, req.params["id"])
    from m365sim.graph.directory import member_of_values

    transitive = req.path.rstrip("/").lower().endswith("transitivememberof")
    return json_response(
        {
            "@odata.context": f"{req.base_url}/$metadata#directoryObjects",
            "value": member_of_values(t, u["id"], transitive),
        }
    )

"""/users: create, read, list, update, delete, revokeSignInSessions (graph-facts §1)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from m365sim import passwords
from m365sim.errors import bad_request, conflict, denied, not_found
from m365sim.graph import perms
from m365sim.graph.core import GraphRequest, GraphResponse, json_response, no_content, text_response
from m365sim.graph.odata import Resource, count_only, index_plan, parse_select, project, run_collection
from m365sim.state import Tenant, iso, new_id

if TYPE_CHECKING:
    from m365sim.simulator import Simulator

DEFAULT_PROPS = [
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
]
SINGLE_ONLY = {
    "aboutMe",
    "birthday",
    "hireDate",
    "interests",
    "mySite",
    "pastProjects",
    "preferredName",
    "responsibilities",
    "schools",
    "skills",
    "mailboxSettings",
}
APP_ONLY_FORBIDDEN = {
    "aboutMe",
    "birthday",
    "employeeHireDate",
    "interests",
    "mySite",
    "pastProjects",
    "responsibilities",
    "schools",
    "skills",
}
UPDATABLE = {
    "aboutMe",
    "accountEnabled",
    "ageGroup",
    "birthday",
    "businessPhones",
    "city",
    "companyName",
    "consentProvidedForMinor",
    "country",
    "customSecurityAttributes",
    "department",
    "displayName",
    "employeeId",
    "employeeType",
    "employeeHireDate",
    "employeeLeaveDateTime",
    "employeeOrgData",
    "givenName",
    "identities",
    "interests",
    "jobTitle",
    "mail",
    "mailNickname",
    "mobilePhone",
    "mySite",
    "officeLocation",
    "onPremisesExtensionAttributes",
    "onPremisesImmutableId",
    "otherMails",
    "passwordPolicies",
    "passwordProfile",
    "pastProjects",
    "postalCode",
    "preferredLanguage",
    "responsibilities",
    "schools",
    "skills",
    "state",
    "streetAddress",
    "surname",
    "usageLocation",
    "userPrincipalName",
    "userType",
    "faxNumber",
}
ALL_PROPS = (
    UPDATABLE
    | set(DEFAULT_PROPS)
    | SINGLE_ONLY
    | {
        "assignedLicenses",
        "assignedPlans",
        "createdDateTime",
        "creationType",
        "deletedDateTime",
        "externalUserState",
        "imAddresses",
        "isResourceAccount",
        "lastPasswordChangeDateTime",
        "licenseAssignmentStates",
        "onPremisesSyncEnabled",
        "onPremisesLastSyncDateTime",
        "proxyAddresses",
        "signInSessionsValidFromDateTime",
        "securityIdentifier",
        "showInAddressList",
        "provisionedPlans",
        "hireDate",
        "preferredName",
        "mailboxSettings",
    }
)
FILTERABLE = {
    "id",
    "userPrincipalName",
    "mail",
    "mailNickname",
    "displayName",
    "givenName",
    "surname",
    "accountEnabled",
    "usageLocation",
    "onPremisesImmutableId",
    "proxyAddresses",
    "otherMails",
    "jobTitle",
    "department",
    "city",
    "country",
    "companyName",
    "employeeId",
    "userType",
    "createdDateTime",
    "assignedLicenses",
    "identities",
    "state",
    "officeLocation",
    "employeeType",
    "onPremisesSyncEnabled",
    "creationType",
    "businessPhones",
    "mobilePhone",
    "imAddresses",
}
RESOURCE = Resource(
    "user",
    "users",
    DEFAULT_PROPS,
    ALL_PROPS,
    FILTERABLE,
    ends_with_ok={"mail", "otherMails", "userPrincipalName", "proxyAddresses"},
    default_orderby={"displayName", "userPrincipalName"},
    single_only=SINGLE_ONLY,
)

UPN_LOCAL = re.compile(r"^[A-Za-z0-9'.\-_!#^~]+$")
NICK_BAD = set('@()\\[]";:<>, ')
WEAK = "The specified password does not comply with password complexity requirements. Please provide a different password."


def new_user_dict(uid: str, upn: str, display: str, nick: str, enabled: bool) -> dict[str, Any]:
    """Every Graph property the simulator stores for a user, with Graph's empty values."""
    return {
        "id": uid,
        "userPrincipalName": upn,
        "displayName": display,
        "mailNickname": nick,
        "accountEnabled": enabled,
        "givenName": None,
        "surname": None,
        "jobTitle": None,
        "mail": None,
        "mobilePhone": None,
        "officeLocation": None,
        "preferredLanguage": None,
        "businessPhones": [],
        "department": None,
        "companyName": None,
        "employeeId": None,
        "employeeType": None,
        "usageLocation": None,
        "city": None,
        "country": None,
        "state": None,
        "postalCode": None,
        "streetAddress": None,
        "onPremisesImmutableId": None,
        "proxyAddresses": [],
        "otherMails": [],
        "imAddresses": [],
        "assignedLicenses": [],
        "assignedPlans": [],
        "userType": "Member",
        "createdDateTime": iso(),
        "creationType": None,
        "passwordPolicies": None,
        "signInSessionsValidFromDateTime": iso(),
        "lastPasswordChangeDateTime": iso(),
        "onPremisesSyncEnabled": None,
        "identities": [],
        "faxNumber": None,
        "ageGroup": None,
        "deletedDateTime": None,
        "showInAddressList": None,
        "isResourceAccount": None,
        "licenseAssignmentStates": [],
        "employeeHireDate": None,
        "employeeLeaveDateTime": None,
        "externalUserState": None,
        "securityIdentifier": None,
        "employeeOrgData": None,
        "onPremisesExtensionAttributes": {f"extensionAttribute{i}": None for i in range(1, 16)},
        "onPremisesLastSyncDateTime": None,
        "consentProvidedForMinor": None,
        "provisionedPlans": [],
    }


def get_user_or_404(t: Tenant, key: str) -> dict[str, Any]:
    u = t.find_user(key)
    if u is None:
        raise not_found(key)
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


def validate_upn(t: Tenant, upn: Any) -> str:
    if not isinstance(upn, str) or upn.count("@") != 1:
        raise bad_request("Invalid value specified for property 'userPrincipalName' of resource 'User'.")
    local, domain = upn.split("@")
    if (
        not local
        or len(upn) > 113
        or len(local) > 64
        or len(domain) > 48
        or not UPN_LOCAL.match(local)
        or local.endswith(".")
        or local.startswith(".")
    ):
        raise bad_request("Invalid value specified for property 'userPrincipalName' of resource 'User'.")
    d = t.domain_of(upn)
    if d is None or not d.isVerified:
        raise bad_request(
            "The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization."
        )
    return upn


def validate_nick(nick: Any) -> str:
    if (
        not isinstance(nick, str)
        or not nick
        or len(nick) > 64
        or any(c in NICK_BAD or ord(c) > 127 for c in nick)
    ):
        raise bad_request("Invalid value specified for property 'mailNickname' of resource 'User'.")
    return nick


def is_federated(t: Tenant, upn: str) -> bool:
    d = t.domain_of(upn)
    return d is not None and d.authenticationType == "Federated"


def check_password(
    sim: Simulator, t: Tenant, user: dict[str, Any], password: Any, policies: str | None
) -> None:
    if not isinstance(password, str) or not password:
        raise bad_request("A password must be specified to create a new user.")
    strong = "disablestrongpassword" not in (policies or "").lower()
    names = [user.get("givenName") or "", user.get("surname") or "", t.display_name]
    username = user["userPrincipalName"].split("@")[0]
    reason = passwords.check(password, strong, sim.settings.banned_passwords, names, username)
    if reason == "username":
        raise bad_request(
            "The specified password does not comply with password complexity requirements. Password cannot contain username."
        )
    if reason:
        raise bad_request(WEAK)


def check_immutable(t: Tenant, value: Any, uid: str | None) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not value or "$" in value or "_" in value or len(value) > 256:
        raise bad_request("Invalid value specified for property 'onPremisesImmutableId' of resource 'User'.")
    owner = t.by_immutable.get(value)
    if owner is not None and owner != uid:
        raise conflict("immutableId")


def check_mail_free(sim: Simulator, t: Tenant, mail: str, uid: str | None) -> None:
    key = mail.lower()
    for idx in (t.by_proxy, t.by_mail):
        owner = idx.get(key)
        if owner is not None and owner != uid:
            raise conflict("proxyAddresses")
    if sim.settings.soft_deleted_blocks_conflicts:
        for oid, o in t.deleted.items():
            if oid != uid and any(p.split(":", 1)[-1].lower() == key for p in o.get("proxyAddresses") or []):
                raise conflict("proxyAddresses")


def check_upn_free(sim: Simulator, t: Tenant, upn: str, uid: str | None) -> None:
    owner = t.by_upn.get(upn.lower())
    if owner is not None and owner != uid:
        raise conflict("userPrincipalName")
    if sim.settings.soft_deleted_blocks_conflicts:
        for oid, o in t.deleted.items():
            if oid != uid and (o.get("userPrincipalName") or "").lower() == upn.lower():
                raise conflict("userPrincipalName")


def set_mail(u: dict[str, Any], mail: str, t: Tenant | None = None) -> None:
    """mail defines the primary SMTP proxy address; others stay as secondaries (§1.4).

    For a licensed (Exchange) user, addresses outside the tenant's verified domains are dropped.
    """
    old = [p for p in u.get("proxyAddresses") or [] if p.split(":", 1)[-1].lower() != mail.lower()]
    u["mail"] = mail
    proxies = [f"SMTP:{mail}"] + [("smtp:" + p.split(":", 1)[1]) if p.startswith("SMTP:") else p for p in old]
    if t is not None and u.get("assignedLicenses"):
        verified = {d.id.lower() for d in t.verified_domains()}
        proxies = [p for p in proxies if p.rsplit("@", 1)[-1].lower() in verified]
    u["proxyAddresses"] = proxies


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
    _validate_simple_props(body)
    check_password(sim, t, u, profile["password"], body.get("passwordPolicies"))
    if body.get("mail"):
        check_mail_free(sim, t, body["mail"], None)
        set_mail(u, body["mail"], t)
    t.users[uid] = u
    t.passwords[uid] = profile["password"]
    t.index_user(u)
    t.log_change("user", uid, "upsert")
    return json_response(
        {"@odata.context": f"{req.base_url}/$metadata#users/$entity", **project(u, None, RESOURCE)}, 201
    )


def _validate_simple_props(body: dict[str, Any]) -> None:
    for prop, n in (
        ("companyName", 64),
        ("employeeId", 16),
        ("displayName", 256),
        ("givenName", 64),
        ("surname", 64),
        ("jobTitle", 128),
        ("department", 64),
    ):
        if (
            prop in body
            and body[prop] is not None
            and (not isinstance(body[prop], str) or len(body[prop]) > n)
        ):
            raise bad_request(f"Invalid value specified for property '{prop}' of resource 'User'.")
    if "usageLocation" in body and (
        not isinstance(body["usageLocation"], str) or not re.fullmatch(r"[A-Za-z]{2}", body["usageLocation"])
    ):
        raise bad_request("Invalid value specified for property 'usageLocation' of resource 'User'.")
    if "businessPhones" in body and (
        not isinstance(body["businessPhones"], list) or len(body["businessPhones"]) > 1
    ):
        raise bad_request("Invalid value specified for property 'businessPhones' of resource 'User'.")
    if "otherMails" in body:
        om = body["otherMails"]
        if (
            not isinstance(om, list)
            or len(om) > 250
            or any(not isinstance(m, str) or len(m) > 250 or not m.isascii() for m in om)
        ):
            raise bad_request("Invalid value specified for property 'otherMails' of resource 'User'.")
    if (
        "mail" in body
        and body["mail"] is not None
        and (not isinstance(body["mail"], str) or not body["mail"].isascii() or "@" not in body["mail"])
    ):
        raise bad_request("Invalid value specified for property 'mail' of resource 'User'.")


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
        return plan if plan is not None else t.users.values()

    sel = req.query.get("$select")
    ctx = f"users({sel})" if sel else "users"
    return json_response(run_collection(req.query, req.headers, RESOURCE, items, req.base_url, "/users", ctx))


def count_users(sim: Simulator, req: GraphRequest) -> GraphResponse:
    perms.require(req, perms.USER_READ)
    t = sim.tenant
    n = count_only(
        req.query, req.headers, RESOURCE, lambda node: index_plan(node, user_indexes(t)) or t.users.values()
    )
    return text_response(str(n))


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
    _validate_simple_props(body)
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
    # federated rules are judged on the UPN the user has when the request arrives
    federated = is_federated(t, u["userPrincipalName"])
    if "passwordProfile" in body:
        if federated:
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


def soft_delete_user(t: Tenant, u: dict[str, Any]) -> None:
    uid = u["id"]
    t.unindex_user(u)
    del t.users[uid]
    for gid in list(t.member_of.get(uid, ())):
        t.remove_member(gid, uid)
        t.log_change("group", gid, "member_remove", member=uid, member_type="user")
    u["deletedDateTime"] = iso()
    t.deleted[uid] = u
    t.deleted_kind[uid] = "user"
    t.log_change("user", uid, "softdelete")


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

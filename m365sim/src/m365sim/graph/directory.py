"""Domains, organization, role assignments, service principals, memberOf, SKUs and licenses
(graph-facts §1.6, §7.1, §9.2, §10); deleted items are in `deleted_items`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from m365sim import replication
from m365sim.errors import GraphError, bad_request, not_found
from m365sim.graph import perms
from m365sim.graph.core import GraphRequest, GraphResponse, json_response, no_content
from m365sim.graph.groups import RESOURCE as GROUP_RESOURCE
from m365sim.graph.odata import Resource, run_collection
from m365sim.graph.odata_filter import FilterParser, evaluate
from m365sim.graph.user_rules import set_mail
from m365sim.graph.users import RESOURCE as USER_RESOURCE
from m365sim.graph.users import get_user_or_404
from m365sim.saml_state import sp_of
from m365sim.state import ROLE_NAMES, Tenant, iso

if TYPE_CHECKING:
    from m365sim.simulator import Simulator


def context_url(req: GraphRequest, name: str) -> str:
    return f"{req.base_url}/$metadata#{name}"


# ----- domains / organization -------------------------------------------------------------------
def list_domains(sim: Simulator, req: GraphRequest) -> GraphResponse:
    perms.require(req, perms.DOMAIN_READ)
    return json_response(
        {
            "@odata.context": context_url(req, "domains"),
            "value": [d.graph() for d in sim.tenant.domains.values()],
        }
    )


def get_domain(sim: Simulator, req: GraphRequest) -> GraphResponse:
    perms.require(req, perms.DOMAIN_READ)
    d = sim.tenant.domains.get(req.params["id"].lower())
    if d is None:
        raise not_found(req.params["id"])
    return json_response({"@odata.context": context_url(req, "domains/$entity"), **d.graph()})


def update_domain(sim: Simulator, req: GraphRequest) -> GraphResponse:
    """PATCH /domains/{id}: authenticationType Federated->Managed defederates; the reverse fails."""
    d = sim.tenant.domains.get(req.params["id"].lower())
    if d is None:
        raise not_found(req.params["id"])
    body = req.body if isinstance(req.body, dict) else {}
    if "authenticationType" in body:
        perms.require(req, perms.FEDERATION_WRITE)
        new = body["authenticationType"]
        if new == "Federated" and d.authenticationType != "Federated":
            raise bad_request(
                "Changing authenticationType from Managed to Federated is currently not supported."
            )
        if new == "Managed":
            before = d.federation
            d.authenticationType = "Managed"
            d.federation = None
            if before is not None:
                sp_of(sim).note_federation(d.id, before, None)
    other = {k: v for k, v in body.items() if k != "authenticationType"}
    if other:
        perms.require(req, perms.DOMAIN_WRITE)
        for k, v in other.items():
            if k in (
                "isDefault",
                "supportedServices",
                "passwordValidityPeriodInDays",
                "passwordNotificationWindowInDays",
            ):
                if k == "isDefault" and v:
                    if not d.isVerified:
                        raise bad_request("Domain must be verified before it can be set as default.")
                    for o in sim.tenant.domains.values():
                        o.isDefault = False
                setattr(d, k, v)
            else:
                raise bad_request(f"Property '{k}' is read-only and cannot be set.")
    return no_content()


def organization(sim: Simulator, req: GraphRequest) -> GraphResponse:
    perms.require(req, perms.ORG_READ)
    t = sim.tenant
    verified = [
        {
            "capabilities": "Email, OfficeCommunicationsOnline",
            "isDefault": d.isDefault,
            "isInitial": d.isInitial,
            "name": d.id,
            "type": d.authenticationType,
        }
        for d in t.verified_domains()
    ]
    org = {
        "id": t.id,
        "displayName": t.display_name,
        "verifiedDomains": verified,
        "tenantType": "AAD",
        "countryLetterCode": "US",
        "preferredLanguage": "en",
        "createdDateTime": iso(t.created),
        "onPremisesSyncEnabled": None,
        "assignedPlans": [],
        "technicalNotificationMails": [],
    }
    return json_response({"@odata.context": context_url(req, "organization"), "value": [org]})


# ----- roles / service principals ---------------------------------------------------------------
def role_assignments(sim: Simulator, req: GraphRequest) -> GraphResponse:
    perms.require(req, perms.ROLE_READ)
    items = list(sim.tenant.role_assignments.values())
    flt = req.query.get("$filter")
    if flt:
        node = FilterParser(flt, "unifiedRoleAssignment").parse()
        items = [ra for ra in items if evaluate(node, ra)]
    return json_response(
        {"@odata.context": context_url(req, "roleManagement/directory/roleAssignments"), "value": items}
    )


def role_definitions(sim: Simulator, req: GraphRequest) -> GraphResponse:
    perms.require(req, perms.ROLE_READ)
    vals = [
        {"id": rid, "templateId": rid, "displayName": name, "isBuiltIn": True, "isEnabled": True}
        for rid, name in ROLE_NAMES.items()
    ]
    return json_response(
        {"@odata.context": context_url(req, "roleManagement/directory/roleDefinitions"), "value": vals}
    )


def sp_by_app_id(sim: Simulator, req: GraphRequest) -> GraphResponse:
    perms.require(req, perms.SP_READ)
    app_id = req.params["appId"].strip("'")
    if app_id not in sim.tenant.apps:
        raise not_found(app_id)
    return json_response(
        {
            "@odata.context": context_url(req, "servicePrincipals/$entity"),
            **sim.tenant.service_principal(app_id),
        }
    )


def list_sps(sim: Simulator, req: GraphRequest) -> GraphResponse:
    perms.require(req, perms.SP_READ)
    t = sim.tenant
    res = Resource(
        "servicePrincipal",
        "servicePrincipals",
        [
            "id",
            "appId",
            "displayName",
            "accountEnabled",
            "appOwnerOrganizationId",
            "servicePrincipalType",
            "servicePrincipalNames",
        ],
        {
            "id",
            "appId",
            "displayName",
            "accountEnabled",
            "appOwnerOrganizationId",
            "servicePrincipalType",
            "servicePrincipalNames",
            "appRoleAssignmentRequired",
        },
        {"id", "appId", "displayName", "servicePrincipalNames", "accountEnabled", "servicePrincipalType"},
    )
    return json_response(
        run_collection(
            req.query,
            req.headers,
            res,
            lambda n: [t.service_principal(a) for a in t.apps],
            req.base_url,
            "/servicePrincipals",
        )
    )


def get_sp(sim: Simulator, req: GraphRequest) -> GraphResponse:
    perms.require(req, perms.SP_READ)
    app = sim.tenant.app_by_sp(req.params["id"])
    if app is None:
        raise not_found(req.params["id"])
    return json_response(
        {
            "@odata.context": context_url(req, "servicePrincipals/$entity"),
            **sim.tenant.service_principal(app.appId),
        }
    )


def member_of_values(t: Tenant, oid: str, transitive: bool = False) -> list[dict[str, Any]]:
    """Groups (default props) and directoryRoles (with roleTemplateId) the object is in."""
    out: list[dict[str, Any]] = []
    gids = set(t.member_of.get(oid, ()))
    if transitive:
        stack = list(gids)
        while stack:
            for parent in t.member_of.get(stack.pop(), ()):
                if parent not in gids:
                    gids.add(parent)
                    stack.append(parent)
    for gid in sorted(gids):
        g = t.groups.get(gid)
        if g is not None:
            out.append(
                {
                    "@odata.type": "#microsoft.graph.group",
                    **{p: g.get(p) for p in GROUP_RESOURCE.default_props},
                }
            )
    for rid in sorted(t.roles_of(oid)):
        out.append(
            {
                "@odata.type": "#microsoft.graph.directoryRole",
                "id": directory_role_id(t, rid),
                "deletedDateTime": None,
                "description": ROLE_NAMES.get(rid, ""),
                "displayName": ROLE_NAMES.get(rid, rid),
                "roleTemplateId": rid,
            }
        )
    return out


def directory_role_id(t: Tenant, template_id: str) -> str:
    """A directoryRole's id differs from its template id (stable per tenant)."""
    import uuid

    return str(uuid.uuid5(uuid.UUID(t.id), template_id))


def sp_member_of(sim: Simulator, req: GraphRequest) -> GraphResponse:
    perms.require(req, perms.SP_READ | perms.ROLE_READ)
    app = sim.tenant.app_by_sp(req.params["id"])
    if app is None:
        raise not_found(req.params["id"])
    return json_response(
        {
            "@odata.context": context_url(req, "directoryObjects"),
            "value": member_of_values(sim.tenant, app.servicePrincipalId),
        }
    )


def get_directory_object(sim: Simulator, req: GraphRequest) -> GraphResponse:
    perms.require(req, perms.DIR_R | perms.USER_READ | perms.GROUP_READ)
    t = sim.tenant
    found = t.find_object(req.params["id"])
    if found is None:
        raise not_found(req.params["id"])
    replication.require_replicated(t, req.params["id"])
    kind, obj = found
    res = USER_RESOURCE if kind == "user" else GROUP_RESOURCE if kind == "group" else None
    body = {p: obj.get(p) for p in res.default_props} if res else dict(obj)
    return json_response(
        {
            "@odata.context": context_url(req, "directoryObjects/$entity"),
            "@odata.type": f"#microsoft.graph.{kind}",
            **body,
        }
    )


# ----- licenses -----------------------------------------------------------------------------------
def _consumed(t: Tenant, sku_id: str) -> int:
    return sum(
        1 for u in t.users.values() for a in u.get("assignedLicenses") or [] if a.get("skuId") == sku_id
    )


def subscribed_skus(sim: Simulator, req: GraphRequest) -> GraphResponse:
    perms.require(req, perms.SKU_READ)
    t = sim.tenant
    vals = [
        {
            "id": f"{t.id}_{s.skuId}",
            "skuId": s.skuId,
            "skuPartNumber": s.skuPartNumber,
            "capabilityStatus": s.capabilityStatus,
            "consumedUnits": _consumed(t, s.skuId),
            "appliesTo": s.appliesTo,
            "accountId": t.id,
            "accountName": t.display_name,
            "subscriptionIds": [],
            "prepaidUnits": {"enabled": s.enabled, "suspended": 0, "warning": 0, "lockedOut": 0},
            "servicePlans": s.servicePlans,
        }
        for s in t.skus.values()
    ]
    return json_response({"@odata.context": context_url(req, "subscribedSkus"), "value": vals})


def assign_license(sim: Simulator, req: GraphRequest) -> GraphResponse:
    perms.require(req, perms.LICENSE_WRITE)
    t = sim.tenant
    u = get_user_or_404(t, req.params["id"])
    body = req.body if isinstance(req.body, dict) else {}
    if "addLicenses" not in body or "removeLicenses" not in body:
        raise bad_request("Invalid request: both addLicenses and removeLicenses must be specified.")
    add, remove = body["addLicenses"] or [], body["removeLicenses"] or []
    if not isinstance(add, list) or not isinstance(remove, list):
        raise bad_request("Invalid value specified for property 'addLicenses' of resource 'User'.")
    for item in add:
        if not isinstance(item, dict) or item.get("skuId") not in t.skus:
            sku = item.get("skuId") if isinstance(item, dict) else item
            raise bad_request(f"License {sku} does not correspond to a valid company License.")
    for sku in remove:
        if sku not in t.skus:
            raise bad_request(f"License {sku} does not correspond to a valid company License.")
    if add and not u.get("usageLocation"):
        raise bad_request("License assignment cannot be done for user with invalid usage location.")
    current = {a["skuId"]: a for a in u.get("assignedLicenses") or []}
    for item in add:
        sku = t.skus[item["skuId"]]
        if item["skuId"] not in current and _consumed(t, sku.skuId) >= sku.enabled:
            raise bad_request(f"Subscription with SKU {sku.skuId} does not have any available licenses.")
    for sku in remove:
        current.pop(sku, None)
    for item in add:
        current[item["skuId"]] = {
            "skuId": item["skuId"],
            "disabledPlans": list(item.get("disabledPlans") or []),
        }
    u["assignedLicenses"] = list(current.values())
    u["licenseAssignmentStates"] = [
        {
            "skuId": s,
            "disabledPlans": a["disabledPlans"],
            "assignedByGroup": None,
            "state": "Active",
            "error": "None",
        }
        for s, a in current.items()
    ]
    changed = ["assignedLicenses"]
    if current and not u.get("mail") and sim.settings.populate_mail_on_license:
        t.unindex_user(u)
        set_mail(u, u["userPrincipalName"], t)
        t.index_user(u)
        changed += ["mail", "proxyAddresses"]
    t.log_change("user", u["id"], "upsert", changed)
    from m365sim.graph.odata import project

    return json_response(
        {"@odata.context": context_url(req, "users/$entity"), **project(u, None, USER_RESOURCE)}
    )


def unsupported(sim: Simulator, req: GraphRequest) -> GraphResponse:
    raise GraphError(
        400, "Request_BadRequest", "Specified HTTP method is not allowed for the request target."
    )

"""Domains, organization, roles, service principals, SKUs and licenses (§7.1, §9.2, §10)."""

from __future__ import annotations

from typing import Any

import httpx

from m365sim.seeds import DEMO_CLIENT_ID, SKU_E3, SKU_EXO, SKU_PBI
from m365sim.state import USER_ADMIN
from m365sim.testing import SimServer, app_client
from m365sim.testing import graph_error as err


def test_domains(graph: httpx.Client) -> None:
    doms = {d["id"]: d for d in graph.get("/domains").json()["value"]}
    assert set(doms) == {"contoso.onmicrosoft.com", "contoso.com", "fabrikam.com", "northwind.example"}
    assert doms["contoso.onmicrosoft.com"]["isInitial"] and doms["contoso.com"]["isDefault"]
    assert doms["northwind.example"]["isVerified"] is False
    assert all(d["authenticationType"] == "Managed" for d in doms.values())
    assert graph.get("/domains/contoso.com").json()["isDefault"] is True
    assert graph.get("/domains/nope.com").status_code == 404


def test_domain_authentication_type_patch(graph: httpx.Client) -> None:
    r = graph.patch("/domains/fabrikam.com", json={"authenticationType": "Federated"})
    assert r.status_code == 400
    assert (
        err(r)["message"]
        == "Changing authenticationType from Managed to Federated is currently not supported."
    )


def test_organization_verified_domains(graph: httpx.Client) -> None:
    org = graph.get("/organization").json()["value"][0]
    names = {d["name"]: d for d in org["verifiedDomains"]}
    assert set(names) == {"contoso.onmicrosoft.com", "contoso.com", "fabrikam.com"}
    assert names["contoso.com"]["isDefault"] and names["contoso.onmicrosoft.com"]["isInitial"]
    assert names["fabrikam.com"]["type"] == "Managed"


def test_service_principal_and_roles(graph: httpx.Client) -> None:
    sp = graph.get(f"/servicePrincipals(appId='{DEMO_CLIENT_ID}')").json()
    assert sp["appId"] == DEMO_CLIENT_ID
    same = graph.get("/servicePrincipals", params={"$filter": f"appId eq '{DEMO_CLIENT_ID}'"}).json()["value"]
    assert [s["id"] for s in same] == [sp["id"]]
    ras = graph.get(
        "/roleManagement/directory/roleAssignments", params={"$filter": f"principalId eq '{sp['id']}'"}
    ).json()["value"]
    assert [(ra["roleDefinitionId"], ra["directoryScopeId"]) for ra in ras] == [(USER_ADMIN, "/")]
    member_of = graph.get(f"/servicePrincipals/{sp['id']}/memberOf").json()["value"]
    assert member_of[0]["@odata.type"] == "#microsoft.graph.directoryRole"
    assert member_of[0]["roleTemplateId"] == USER_ADMIN and member_of[0]["id"] != USER_ADMIN
    assert graph.get("/servicePrincipals(appId='00000000-0000-0000-0000-000000000009')").status_code == 404


def test_role_assignments_need_permission(sim_server: SimServer) -> None:
    with app_client(sim_server, ["User.Read.All"]) as c:
        assert c.get("/roleManagement/directory/roleAssignments").status_code == 403
    with app_client(sim_server, ["RoleManagement.Read.Directory"]) as c:
        assert c.get("/roleManagement/directory/roleAssignments").status_code == 200


def test_user_member_of(graph: httpx.Client) -> None:
    vals = graph.get("/users/adele.vance@contoso.com/memberOf").json()["value"]
    types = {v["@odata.type"] for v in vals}
    assert "#microsoft.graph.group" in types


def test_subscribed_skus(graph: httpx.Client) -> None:
    skus = {s["skuPartNumber"]: s for s in graph.get("/subscribedSkus").json()["value"]}
    assert skus["POWER_BI_PRO"]["consumedUnits"] == 2 and skus["POWER_BI_PRO"]["prepaidUnits"]["enabled"] == 2
    assert skus["SPE_E3"]["skuId"] == SKU_E3


def test_assign_license(graph: httpx.Client) -> None:
    uid = graph.post(
        "/users",
        json={
            "accountEnabled": True,
            "displayName": "L",
            "mailNickname": "lic",
            "userPrincipalName": "lic@contoso.com",
            "passwordProfile": {"password": "Xq7#mLp2vR!k"},
        },
    ).json()["id"]
    body = {"addLicenses": [{"skuId": SKU_EXO, "disabledPlans": []}], "removeLicenses": []}
    r = graph.post(f"/users/{uid}/assignLicense", json=body)
    assert r.status_code == 400
    assert err(r)["message"] == "License assignment cannot be done for user with invalid usage location."
    graph.patch(f"/users/{uid}", json={"usageLocation": "US"})
    r = graph.post(f"/users/{uid}/assignLicense", json=body)
    assert r.status_code == 200 and r.json()["id"] == uid
    got = graph.get(f"/users/{uid}", params={"$select": "assignedLicenses,mail"}).json()
    assert got["assignedLicenses"] == [{"skuId": SKU_EXO, "disabledPlans": []}]
    assert got["mail"] is None  # Exchange has not provisioned a mailbox yet (populate_mail_on_license off)
    r = graph.post(
        f"/users/{uid}/assignLicense",
        json={"addLicenses": [{"skuId": SKU_PBI, "disabledPlans": []}], "removeLicenses": []},
    )
    assert r.status_code == 400 and "does not have any available licenses" in err(r)["message"]
    r = graph.post(f"/users/{uid}/assignLicense", json={"addLicenses": [], "removeLicenses": [SKU_EXO]})
    assert r.status_code == 200
    assert graph.get(f"/users/{uid}", params={"$select": "assignedLicenses"}).json()["assignedLicenses"] == []


def test_directory_object(graph: httpx.Client) -> None:
    uid = graph.get("/users/adele.vance@contoso.com").json()["id"]
    r = graph.get(f"/directoryObjects/{uid}")
    assert r.json()["@odata.type"] == "#microsoft.graph.user"


def test_control_api(sim_server: SimServer) -> None:
    info = sim_server.control("GET", "/info").json()
    assert info["tenant_id"] == sim_server.tenant_id and info["client_id"] == DEMO_CLIENT_ID
    state = sim_server.control("GET", "/state").json()
    assert state["users"] == 49 and state["groups"] == 6
    sim_server.reset("godaddy")
    assert (
        sim_server.control("GET", "/state").json()["tenant_id"] == sim_server.tenant_id != info["tenant_id"]
    )
    sim_server.reset("demo")


def test_assign_license_populates_mail_only_when_set(sim_server: Any, graph: httpx.Client) -> None:
    """§1.4 [UNCERTAIN]: Exchange may write the UPN-based address back; off by default (strict)."""
    sim_server.update_settings(populate_mail_on_license=True)
    uid = graph.post(
        "/users",
        json={
            "accountEnabled": True,
            "displayName": "M",
            "mailNickname": "mailer",
            "userPrincipalName": "mailer@contoso.com",
            "usageLocation": "US",
            "passwordProfile": {"password": "Xq7#mLp2vR!k"},
        },
    ).json()["id"]
    body = {"addLicenses": [{"skuId": SKU_EXO, "disabledPlans": []}], "removeLicenses": []}
    assert graph.post(f"/users/{uid}/assignLicense", json=body).status_code == 200
    assert graph.get(f"/users/{uid}", params={"$select": "mail"}).json()["mail"] == "mailer@contoso.com"

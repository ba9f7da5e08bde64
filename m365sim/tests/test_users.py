"""Users: create/read/update/delete rules and exact error bodies (§1, §6)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from m365sim.state import GLOBAL_ADMIN, PRIVILEGED_AUTH_ADMIN, USER_ADMIN
from m365sim.testing import SimServer, app_client
from m365sim.testing import graph_error as err

PW = "Xq7#mLp2vR!k"
WEAK = "The specified password does not comply with password complexity requirements. Please provide a different password."
BAD_DOMAIN = "The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization."


def new_user(**over: Any) -> dict[str, Any]:
    body = {
        "accountEnabled": True,
        "displayName": "Jane Roe",
        "mailNickname": "jane.roe",
        "userPrincipalName": "jane.roe@contoso.com",
        "passwordProfile": {"password": PW, "forceChangePasswordNextSignIn": True},
    }
    body.update(over)
    return body


def bad(
    r: httpx.Response, message: str, code: str = "Request_BadRequest", status: int = 400
) -> dict[str, Any]:
    assert r.status_code == status, r.text
    e = err(r)
    assert e["code"] == code
    assert e["message"] == message
    return e


def test_create_returns_201_with_default_properties(graph: httpx.Client) -> None:
    r = graph.post("/users", json=new_user(givenName="Jane", usageLocation="US"))
    assert r.status_code == 201
    body = r.json()
    assert body["@odata.context"].endswith("/$metadata#users/$entity")
    assert set(body) - {"@odata.context"} == {
        "businessPhones",
        "displayName",
        "givenName",
        "id",
        "jobTitle",
        "mail",
        "mobilePhone",
        "officeLocation",
        "preferredLanguage",
        "surname",
        "userPrincipalName",
    }
    assert body["userPrincipalName"] == "jane.roe@contoso.com" and body["givenName"] == "Jane"
    got = graph.get(
        f"/users/{body['id']}", params={"$select": "accountEnabled,usageLocation,mailNickname"}
    ).json()
    assert {k: v for k, v in got.items() if not k.startswith("@")} == {
        "accountEnabled": True,
        "usageLocation": "US",
        "mailNickname": "jane.roe",
    }


def test_duplicate_upn_exact_body(graph: httpx.Client) -> None:
    assert graph.post("/users", json=new_user()).status_code == 201
    r = graph.post("/users", json=new_user(mailNickname="other"))
    msg = "Another object with the same value for property userPrincipalName already exists."
    e = bad(r, msg)
    assert e["details"] == [{"code": "ObjectConflict", "message": msg, "target": "userPrincipalName"}]
    assert list(r.json()["error"]) == ["code", "message", "details", "innerError"]
    # case-insensitive
    r = graph.post("/users", json=new_user(userPrincipalName="JANE.ROE@contoso.com"))
    assert r.status_code == 400


@pytest.mark.parametrize("upn", ["x@northwind.example", "x@unknown.org"])
def test_upn_domain_must_be_verified(graph: httpx.Client, upn: str) -> None:
    bad(graph.post("/users", json=new_user(userPrincipalName=upn)), BAD_DOMAIN)


@pytest.mark.parametrize(
    "upn",
    [
        "jané@contoso.com",
        "a.@contoso.com",
        "a@b@contoso.com",
        "a b@contoso.com",
        "x" * 65 + "@contoso.com",
        "no-at-sign",
        "@contoso.com",
    ],
)
def test_upn_syntax(graph: httpx.Client, upn: str) -> None:
    bad(
        graph.post("/users", json=new_user(userPrincipalName=upn)),
        "Invalid value specified for property 'userPrincipalName' of resource 'User'.",
    )


def test_upn_allowed_symbols(graph: httpx.Client) -> None:
    assert (
        graph.post("/users", json=new_user(userPrincipalName="o'neil-x_y!#^~@contoso.com")).status_code == 201
    )


@pytest.mark.parametrize("prop", ["accountEnabled", "displayName", "mailNickname", "userPrincipalName"])
def test_required_properties(graph: httpx.Client, prop: str) -> None:
    body = new_user()
    del body[prop]
    bad(graph.post("/users", json=body), f"Invalid value specified for property '{prop}' of resource 'User'.")


def test_mail_nickname_rules(graph: httpx.Client) -> None:
    for nick in ("has space", "a@b", "x" * 65, "ü"):
        bad(
            graph.post("/users", json=new_user(mailNickname=nick)),
            "Invalid value specified for property 'mailNickname' of resource 'User'.",
        )


def test_missing_password(graph: httpx.Client) -> None:
    bad(
        graph.post("/users", json=new_user(passwordProfile={"forceChangePasswordNextSignIn": True})),
        "A password must be specified to create a new user.",
    )
    body = new_user()
    del body["passwordProfile"]
    bad(graph.post("/users", json=body), "A password must be specified to create a new user.")


@pytest.mark.parametrize(
    "pw",
    [
        "Xq7#mLp",  # 7 characters, all four classes: only the length rule refuses it
        "alllowercase1",
        "NoDigitsOrSymbols",
        "P@ssw0rd1",
        "Contoso!1x",
        "Pässwort123!",
        "Summer1!x",
    ],
)
def test_weak_passwords(graph: httpx.Client, pw: str) -> None:
    bad(graph.post("/users", json=new_user(passwordProfile={"password": pw})), WEAK)


def test_password_length_boundary_is_eight(graph: httpx.Client) -> None:
    """Entra's minimum is 8 characters: 7 is refused and 8 accepted, on create and on reset."""
    seven, eight = "Xq7#mLp", "Xq7#mLp2"
    bad(graph.post("/users", json=new_user(passwordProfile={"password": seven})), WEAK)
    created = graph.post("/users", json=new_user(passwordProfile={"password": eight}))
    assert created.status_code == 201, created.text
    uid = created.json()["id"]
    bad(graph.patch(f"/users/{uid}", json={"passwordProfile": {"password": "Zr4!kWq"}}), WEAK)
    assert graph.patch(f"/users/{uid}", json={"passwordProfile": {"password": "Zr4!kWq9"}}).status_code == 204
    # DisableStrongPassword drops the complexity rules, not the length: still 8
    weak = {"passwordPolicies": "DisableStrongPassword", "mailNickname": "b"}
    bad(
        graph.post(
            "/users",
            json=new_user(userPrincipalName="b@contoso.com", passwordProfile={"password": "lowerca"}, **weak),
        ),
        WEAK,
    )
    assert (
        graph.post(
            "/users",
            json=new_user(
                userPrincipalName="b@contoso.com", passwordProfile={"password": "lowercas"}, **weak
            ),
        ).status_code
        == 201
    )


def test_password_with_username(graph: httpx.Client) -> None:
    r = graph.post("/users", json=new_user(passwordProfile={"password": "Jane.roe#2024x"}))
    assert r.status_code == 400 and "Password cannot contain username" in err(r)["message"]


def test_banned_term_plus_enough_other_characters_passes(graph: httpx.Client) -> None:
    assert (
        graph.post("/users", json=new_user(passwordProfile={"password": "Password123!"})).status_code == 201
    )


def test_disable_strong_password(graph: httpx.Client) -> None:
    r = graph.post(
        "/users",
        json=new_user(
            passwordProfile={"password": "lowercaseonly"}, passwordPolicies="DisableStrongPassword"
        ),
    )
    assert r.status_code == 201
    r = graph.post(
        "/users",
        json=new_user(
            userPrincipalName="b@contoso.com",
            mailNickname="b",
            passwordProfile={"password": "short"},
            passwordPolicies="DisableStrongPassword",
        ),
    )
    bad(r, WEAK)


def test_mail_defines_primary_proxy_address(graph: httpx.Client) -> None:
    uid = graph.post("/users", json=new_user(mail="jane@contoso.com")).json()["id"]
    sel = {"$select": "mail,proxyAddresses"}
    assert graph.get(f"/users/{uid}", params=sel).json()["proxyAddresses"] == ["SMTP:jane@contoso.com"]
    assert graph.patch(f"/users/{uid}", json={"mail": "jane.roe@fabrikam.com"}).status_code == 204
    got = graph.get(f"/users/{uid}", params=sel).json()
    assert got["mail"] == "jane.roe@fabrikam.com"
    assert got["proxyAddresses"] == ["SMTP:jane.roe@fabrikam.com", "smtp:jane@contoso.com"]
    bad(
        graph.patch(f"/users/{uid}", json={"mail": None}),
        "Invalid value specified for property 'mail' of resource 'User'.",
    )


def test_mail_clash_with_other_proxy_address(graph: httpx.Client) -> None:
    other = graph.get("/users/adele.vance@contoso.com", params={"$select": "mail"}).json()["mail"]
    uid = graph.post("/users", json=new_user()).json()["id"]
    msg = "Another object with the same value for property proxyAddresses already exists."
    e = bad(graph.patch(f"/users/{uid}", json={"mail": other, "jobTitle": "x"}), msg)
    assert e["details"][0]["target"] == "proxyAddresses"
    assert graph.get(f"/users/{uid}", params={"$select": "jobTitle,mail"}).json() == {
        "@odata.context": graph.get(f"/users/{uid}", params={"$select": "jobTitle,mail"}).json()[
            "@odata.context"
        ],
        "jobTitle": None,
        "mail": None,
    }


def test_proxy_addresses_read_only(graph: httpx.Client) -> None:
    bad(
        graph.post("/users", json=new_user(proxyAddresses=["SMTP:x@contoso.com"])),
        "Property 'proxyAddresses' is read-only and cannot be set.",
    )
    bad(
        graph.patch("/users/adele.vance@contoso.com", json={"proxyAddresses": []}),
        "Property 'proxyAddresses' is read-only and cannot be set.",
    )


def test_get_by_upn_and_select(graph: httpx.Client) -> None:
    r = graph.get("/users/Adele.Vance@contoso.com", params={"$select": "displayName,accountEnabled"})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"@odata.context", "displayName", "accountEnabled"}
    assert "users(displayName,accountEnabled)/$entity" in body["@odata.context"]
    r = graph.get("/users/adele.vance@contoso.com", params={"$select": "nope"})
    bad(
        r,
        "Parsing OData Select and Expand failed: Could not find a property named 'nope' on type 'microsoft.graph.user'.",
    )


def test_single_only_property_on_collection_is_501(graph: httpx.Client) -> None:
    r = graph.get("/users", params={"$select": "skills"})
    assert r.status_code == 501 and err(r)["code"] == "NotImplemented"


def test_get_unknown_user_404(graph: httpx.Client) -> None:
    r = graph.get("/users/00000000-0000-0000-0000-000000000000")
    bad(
        r,
        "Resource '00000000-0000-0000-0000-000000000000' does not exist or one of its queried reference-property objects are not present.",
        "Request_ResourceNotFound",
        404,
    )


def test_patch_204_and_rules(graph: httpx.Client) -> None:
    uid = graph.post("/users", json=new_user()).json()["id"]
    r = graph.patch(f"/users/{uid}", json={"jobTitle": "CTO", "department": "R&D", "usageLocation": "DE"})
    assert r.status_code == 204 and r.content == b""
    bad(
        graph.patch(f"/users/{uid}", json={"usageLocation": None}),
        "Invalid value specified for property 'usageLocation' of resource 'User'.",
    )
    bad(
        graph.patch(f"/users/{uid}", json={"displayName": ""}),
        "Invalid value specified for property 'displayName' of resource 'User'.",
    )
    bad(
        graph.patch(f"/users/{uid}", json={"businessPhones": ["1", "2"]}),
        "Invalid value specified for property 'businessPhones' of resource 'User'.",
    )
    bad(
        graph.patch(f"/users/{uid}", json={"createdDateTime": "x"}),
        "Property 'createdDateTime' is read-only and cannot be set.",
    )
    r = graph.patch(f"/users/{uid}", json={"skills": ["x"]})
    assert r.status_code == 403  # app-only cannot update skills
    bad(
        graph.patch(f"/users/{uid}", json={"userPrincipalName": "adele.vance@contoso.com"}),
        "Another object with the same value for property userPrincipalName already exists.",
    )
    assert graph.patch(f"/users/{uid}", json={"userPrincipalName": "jane@fabrikam.com"}).status_code == 204
    assert graph.get("/users/jane@fabrikam.com").json()["id"] == uid


def test_immutable_id_rules(graph: httpx.Client) -> None:
    uid = graph.post("/users", json=new_user()).json()["id"]
    for v in ("has$dollar", "has_underscore"):
        bad(
            graph.patch(f"/users/{uid}", json={"onPremisesImmutableId": v}),
            "Invalid value specified for property 'onPremisesImmutableId' of resource 'User'.",
        )
    assert graph.patch(f"/users/{uid}", json={"onPremisesImmutableId": "abc123=="}).status_code == 204
    uid2 = graph.post("/users", json=new_user(userPrincipalName="x2@contoso.com", mailNickname="x2")).json()[
        "id"
    ]
    msg = "Another object with the same value for property immutableId already exists."
    e = bad(graph.patch(f"/users/{uid2}", json={"onPremisesImmutableId": "abc123=="}), msg)
    assert e["details"] == [{"code": "ObjectConflict", "message": msg, "target": "immutableId"}]


def federate(srv: SimServer, domain: str = "fabrikam.com") -> None:
    d = srv.sim.tenant.domains[domain]
    d.authenticationType = "Federated"


def test_federated_domain_rules(sim_server: SimServer, graph: httpx.Client) -> None:
    uid = graph.post(
        "/users", json=new_user(userPrincipalName="fed@fabrikam.com", mailNickname="fed")
    ).json()["id"]
    federate(sim_server)
    bad(
        graph.post("/users", json=new_user(userPrincipalName="new@fabrikam.com")),
        "SourceAnchor is a required property for creation of a federated user.",
    )
    r = graph.post(
        "/users", json=new_user(userPrincipalName="new@fabrikam.com", onPremisesImmutableId="imm-1")
    )
    assert r.status_code == 201
    s = sim_server.sim.settings
    bad(
        graph.patch(f"/users/{uid}", json={"passwordProfile": {"password": PW}}), s.federated_password_message
    )
    bad(
        graph.patch(f"/users/{uid}", json={"onPremisesImmutableId": "imm-2"}),
        s.federated_immutable_id_message,
    )
    # the documented workaround: move to the managed onmicrosoft domain, set it, move back
    assert (
        graph.patch(
            f"/users/{uid}",
            json={"userPrincipalName": "fed@contoso.onmicrosoft.com", "passwordProfile": {"password": PW}},
        ).status_code
        == 204
    )
    assert graph.patch(f"/users/{uid}", json={"onPremisesImmutableId": "imm-2"}).status_code == 204
    assert graph.patch(f"/users/{uid}", json={"passwordProfile": {"password": PW}}).status_code == 204
    assert graph.patch(f"/users/{uid}", json={"userPrincipalName": "fed@fabrikam.com"}).status_code == 204
    s.federated_password_message = "You cannot reset a password for a federated user."
    bad(
        graph.patch(f"/users/{uid}", json={"passwordProfile": {"password": PW}}),
        "You cannot reset a password for a federated user.",
    )


def test_password_profile_needs_permission_and_user_admin_role(sim_server: SimServer) -> None:
    target = "adele.vance@contoso.com"
    body = {"passwordProfile": {"password": PW, "forceChangePasswordNextSignIn": True}}
    with app_client(sim_server, ["User.Read.All"], [USER_ADMIN]) as c:
        assert c.patch(f"/users/{target}", json=body).status_code == 403
    with app_client(sim_server, ["User-PasswordProfile.ReadWrite.All"]) as c:
        r = c.patch(f"/users/{target}", json=body)
        assert r.status_code == 403 and err(r)["code"] == "Authorization_RequestDenied"
        sim_server.update_settings(password_profile_requires_user_admin_role=False)
        assert c.patch(f"/users/{target}", json=body).status_code == 204
    with app_client(sim_server, ["User-PasswordProfile.ReadWrite.All"], [USER_ADMIN]) as c:
        assert c.patch(f"/users/{target}", json=body).status_code == 204


def test_admin_targets_need_higher_role(sim_server: SimServer, graph: httpx.Client) -> None:
    t = sim_server.sim.tenant
    ga = next(uid for uid in t.users if GLOBAL_ADMIN in t.roles_of(uid))
    helpdesk = next(uid for uid in t.users if t.roles_of(uid) == {"729827e3-9c14-49f7-bb1b-9608f156bbb8"})
    body = {"passwordProfile": {"password": PW}}
    # the demo app holds User Administrator
    assert graph.patch(f"/users/{helpdesk}", json=body).status_code == 204
    assert graph.patch(f"/users/{ga}", json=body).status_code == 403
    assert graph.patch(f"/users/{ga}", json={"accountEnabled": False}).status_code == 403
    assert graph.delete(f"/users/{ga}").status_code == 403
    with app_client(sim_server, ["User.ReadWrite.All"], [PRIVILEGED_AUTH_ADMIN]) as c:
        assert c.patch(f"/users/{ga}", json=body).status_code == 204
        assert c.patch(f"/users/{ga}", json={"accountEnabled": False}).status_code == 204


def test_account_enabled_permission(sim_server: SimServer) -> None:
    with app_client(sim_server, ["User.EnableDisableAccount.All", "User.Read.All"]) as c:
        assert c.patch("/users/adele.vance@contoso.com", json={"accountEnabled": False}).status_code == 204
        assert c.patch("/users/adele.vance@contoso.com", json={"jobTitle": "x"}).status_code == 403


def test_revoke_sign_in_sessions(graph: httpx.Client) -> None:
    r = graph.post("/users/adele.vance@contoso.com/revokeSignInSessions")
    assert r.status_code == 200 and r.json()["value"] is True


def test_soft_delete_restore_purge(graph: httpx.Client) -> None:
    uid = graph.post("/users", json=new_user(mail="jane.roe@contoso.com")).json()["id"]
    assert graph.delete(f"/users/{uid}").status_code == 204
    assert graph.get(f"/users/{uid}").status_code == 404
    r = graph.get("/directory/deletedItems/microsoft.graph.user")
    assert r.status_code == 200
    item = next(u for u in r.json()["value"] if u["id"] == uid)
    assert item["deletedDateTime"].endswith("Z")
    bad(
        graph.get("/directory/deletedItems"),
        "The requested deleted items type is not supported. Please specify a type cast, e.g. microsoft.graph.user.",
    )
    got = graph.get(f"/directory/deletedItems/{uid}").json()
    assert got["@odata.type"] == "#microsoft.graph.user"
    # the UPN is free again (setting soft_deleted_blocks_conflicts=False), so restore conflicts
    other = graph.post("/users", json=new_user(mailNickname="again")).json()["id"]
    r = graph.post(f"/directory/deletedItems/{uid}/restore")
    bad(r, "Another object with the same value for property userPrincipalName already exists.")
    assert graph.delete(f"/users/{other}").status_code == 204
    assert graph.delete(f"/directory/deletedItems/{other}").status_code == 204
    r = graph.post(f"/directory/deletedItems/{uid}/restore")
    assert r.status_code == 200 and r.json()["id"] == uid
    assert graph.get(f"/users/{uid}").status_code == 200
    assert graph.delete(f"/users/{uid}").status_code == 204
    assert graph.delete(f"/directory/deletedItems/{uid}").status_code == 204
    assert graph.get(f"/directory/deletedItems/{uid}").status_code == 404


def test_soft_deleted_conflict_switch(sim_server: SimServer, graph: httpx.Client) -> None:
    uid = graph.post("/users", json=new_user()).json()["id"]
    graph.delete(f"/users/{uid}")
    sim_server.update_settings(soft_deleted_blocks_conflicts=True)
    bad(
        graph.post("/users", json=new_user()),
        "Another object with the same value for property userPrincipalName already exists.",
    )


def test_soft_deleted_purged_after_30_days(sim_server: SimServer, graph: httpx.Client) -> None:
    uid = graph.post("/users", json=new_user()).json()["id"]
    graph.delete(f"/users/{uid}")
    sim_server.sim.tenant.deleted[uid]["deletedDateTime"] = "2000-01-01T00:00:00Z"
    assert graph.get(f"/directory/deletedItems/{uid}").status_code == 404


def test_unknown_property_on_create(graph: httpx.Client) -> None:
    r = graph.post("/users", json=new_user(mailNickName="typo"))
    assert r.status_code == 400 and "mailNickName" in err(r)["message"]


def test_me_is_delegated_only(graph: httpx.Client) -> None:
    r = graph.get("/me")
    assert (
        r.status_code == 400
        and err(r)["message"] == "/me request is only valid with delegated authentication flow."
    )


def test_narrow_property_permissions(sim_server: SimServer) -> None:
    with app_client(sim_server, ["User-Mail.ReadWrite.All"]) as c:
        assert (
            c.patch("/users/adele.vance@contoso.com", json={"otherMails": ["a@example.org"]}).status_code
            == 204
        )
        assert c.patch("/users/adele.vance@contoso.com", json={"mobilePhone": "+1 555"}).status_code == 403
    with app_client(sim_server, ["User-Phone.ReadWrite.All"]) as c:
        assert c.patch("/users/adele.vance@contoso.com", json={"mobilePhone": "+1 555"}).status_code == 204
    with app_client(sim_server, ["User.ReadWrite.All"]) as c:
        assert c.patch("/users/adele.vance@contoso.com", json={"identities": []}).status_code == 403


def test_licensed_user_proxy_addresses_only_in_verified_domains(graph: httpx.Client) -> None:
    uid = graph.get("/users/adele.vance@contoso.com").json()["id"]  # licensed in the demo seed
    assert graph.patch(f"/users/{uid}", json={"mail": "adele@external.example"}).status_code == 204
    got = graph.get(f"/users/{uid}", params={"$select": "mail,proxyAddresses"}).json()
    assert got["mail"] == "adele@external.example"
    assert got["proxyAddresses"] == ["smtp:adele.vance@contoso.com"]


def test_password_policies_values(graph: httpx.Client) -> None:
    uid = graph.post("/users", json=new_user()).json()["id"]
    ok = {"passwordPolicies": "DisablePasswordExpiration, DisableStrongPassword"}
    assert graph.patch(f"/users/{uid}", json=ok).status_code == 204
    bad(
        graph.patch(f"/users/{uid}", json={"passwordPolicies": "NeverExpire"}),
        "Invalid value specified for property 'passwordPolicies' of resource 'User'.",
    )

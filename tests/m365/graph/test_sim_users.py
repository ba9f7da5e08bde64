"""Users against m365sim: CRUD, lookups with OData literals, soft delete and restore, and the
classification of the sim's real error bodies."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from lockstep.m365.graph import errors as e
from lockstep.m365.graph import odata
from lockstep.m365.graph.client import GraphClient
from lockstep.m365.graph.payloads import UserCreate

PASSWORD = "Xq7!long-Enough-pass"


def new_user(upn: str, **extra: Any) -> UserCreate:
    nick = upn.split("@")[0].replace("'", "")
    body: UserCreate = {
        "accountEnabled": True,
        "displayName": f"Test {nick}",
        "mailNickname": nick,
        "userPrincipalName": upn,
        "passwordProfile": {"password": PASSWORD, "forceChangePasswordNextSignIn": True},
    }
    body.update(extra)  # type: ignore[typeddict-item]
    return body


def unique(domain: str = "contoso.com", prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}@{domain}"


def test_create_get_update_delete(graph: GraphClient) -> None:
    upn = unique()
    created = graph.create_user(new_user(upn, usageLocation="US", jobTitle="Engineer"))
    assert created["userPrincipalName"] == upn and created["id"]
    got = graph.get_user(created["id"])
    assert got["accountEnabled"] is True and got["usageLocation"] == "US"
    assert graph.get_user(upn)["id"] == created["id"]  # by UPN too

    graph.update_user(created["id"], {"displayName": "Renamed", "accountEnabled": False, "jobTitle": None})
    got = graph.get_user(upn, select=["displayName", "accountEnabled", "jobTitle"])
    assert got["displayName"] == "Renamed" and got["accountEnabled"] is False and got.get("jobTitle") is None
    graph.revoke_sign_in_sessions(created["id"])

    graph.delete_user(created["id"])
    assert graph.find_user(created["id"]) is None
    with pytest.raises(e.NotFound) as info:
        graph.get_user(upn)
    assert info.value.status == 404 and info.value.kind == "permanent"
    assert graph.stats.writes == 4


def test_soft_deleted_user_is_listed_and_restored(graph: GraphClient) -> None:
    upn = unique()
    uid = graph.create_user(new_user(upn))["id"]
    graph.delete_user(uid)
    deleted = {u["id"]: u for u in graph.list_deleted_users()}
    assert uid in deleted
    restored = graph.restore_deleted_item(uid)
    assert restored["id"] == uid
    assert graph.get_user(uid)["userPrincipalName"] == upn


def test_duplicate_upn_is_object_conflict(graph: GraphClient) -> None:
    upn = unique()
    graph.create_user(new_user(upn))
    with pytest.raises(e.ObjectConflict) as info:
        graph.create_user(new_user(upn))
    err = info.value
    assert err.property == "userPrincipalName"
    assert err.status == 400 and err.code == "Request_BadRequest"
    assert err.request_id and err.client_request_id
    assert "userPrincipalName" in err.plain_words


def test_unverified_domain_is_invalid_domain(graph: GraphClient) -> None:
    with pytest.raises(e.InvalidDomain) as info:
        graph.create_user(new_user(unique("northwind.example")))
    assert "verify" in info.value.plain_words


def test_weak_password_is_password_policy_violation(graph: GraphClient) -> None:
    body = new_user(unique())
    body["passwordProfile"] = {"password": "password1", "forceChangePasswordNextSignIn": True}
    with pytest.raises(e.PasswordPolicyViolation):
        graph.create_user(body)


def test_quotes_in_upn_survive_filters_and_paths(graph: GraphClient) -> None:
    upn = f"o'brien{uuid.uuid4().hex[:6]}@contoso.com"
    uid = graph.create_user(new_user(upn))["id"]
    assert [u["id"] for u in graph.list_users(filter=odata.eq("userPrincipalName", upn))] == [uid]
    assert graph.get_user(upn)["id"] == uid
    assert [u["id"] for u in graph.find_users_by_address(upn)] == [uid]


def test_find_by_mail_and_proxy_address(graph: GraphClient) -> None:
    seeded = next(u for u in graph.list_users(filter=odata.starts_with("userPrincipalName", "adele")))
    assert seeded.get("mail")
    by_mail = graph.find_users_by_address(seeded["mail"] or "")
    assert [u["id"] for u in by_mail] == [seeded["id"]]
    assert graph.find_users_by_address("nobody-here@contoso.com") == []


def test_in_filter_is_chunked_by_fifteen(graph: GraphClient) -> None:
    users = list(graph.list_users(select=["id", "userPrincipalName"]))
    upns = [u["userPrincipalName"] for u in users][:40]
    before = graph.stats.http_requests
    found = list(graph.find_users_by("userPrincipalName", upns, select=["id", "userPrincipalName"]))
    assert sorted(u["userPrincipalName"] for u in found) == sorted(upns)
    assert graph.stats.http_requests - before == 3


def test_tenant_reads(sim: Any, broad_graph: GraphClient) -> None:
    graph = broad_graph
    domains = {d["id"]: d for d in graph.list_domains()}
    assert domains["contoso.com"]["isDefault"] and domains["northwind.example"]["isVerified"] is False
    assert graph.get_domain("contoso.com")["authenticationType"] == "Managed"
    org = graph.get_organization()
    assert org["id"] == sim.tenant_id
    sp = graph.get_service_principal_by_app_id(sim.client_id)
    assert sp is not None
    roles = {a["roleDefinitionId"] for a in graph.list_role_assignments(sp["id"])}
    assert "fe930be7-5e62-47db-91af-98c3a49a38b1" in roles  # User Administrator
    assert graph.get_service_principal_by_app_id(str(uuid.uuid4())) is None
    skus = {s["skuPartNumber"] for s in graph.list_subscribed_skus()}
    assert "SPE_E3" in skus


def test_advanced_queries_need_the_consistency_header(graph: GraphClient) -> None:
    clause = "endsWith(userPrincipalName, '@fabrikam.com')"
    with pytest.raises(e.UnsupportedQuery):
        list(graph.list_users(filter=clause))
    found = list(graph.list_users(filter=clause, advanced=True, select=["userPrincipalName"]))
    assert found and all(u["userPrincipalName"].endswith("@fabrikam.com") for u in found)


def test_license_assignment_errors(broad_graph: GraphClient) -> None:
    graph = broad_graph
    skus = {s["skuPartNumber"]: s["skuId"] for s in graph.list_subscribed_skus()}
    uid = graph.create_user(new_user(unique()))["id"]
    with pytest.raises(e.InvalidUsageLocation) as info:
        graph.assign_license(uid, add=[{"skuId": skus["SPE_E3"]}])
    assert "usage location" in info.value.plain_words
    graph.update_user(uid, {"usageLocation": "GB"})
    user = graph.assign_license(uid, add=[{"skuId": skus["SPE_E3"]}])
    assert user["id"] == uid
    assigned = graph.get_user(uid, select=["assignedLicenses"])["assignedLicenses"]
    assert [a["skuId"] for a in assigned] == [skus["SPE_E3"]]
    with pytest.raises(e.NoLicensesAvailable):
        graph.assign_license(uid, add=[{"skuId": skus["POWER_BI_PRO"]}])


def test_one_client_shared_by_threads(graph: GraphClient) -> None:
    from concurrent.futures import ThreadPoolExecutor

    ids = [u["id"] for u in graph.list_users(select=["id"])][:40]
    from lockstep.m365.graph.auth import clear_app_cache

    clear_app_cache()  # cold token cache: 8 threads ask for a token at once
    fresh = type(graph)(graph.connection)
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            got = list(pool.map(lambda uid: fresh.get_user(uid, select=["id"])["id"], ids))
        assert got == ids
        assert fresh.stats.http_requests == 40
    finally:
        fresh.close()
    assert fresh.tokens.tokens_fetched == 1  # type: ignore[attr-defined]

"""Several tenants on one server: each has its own state, settings, faults and throttle buckets;
a token is good for its own tenant only; Entra's errors for unknown tenants and foreign apps."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator

import httpx
import jwt
import pytest

from m365sim.seeds import DEMO_TENANT_ID
from m365sim.state import USER_ADMIN
from m365sim.testing import SimServer, SimTenant, graph_error


@pytest.fixture(scope="module")
def srv() -> Iterator[SimServer]:
    with SimServer(seed="demo", throttling=False, tenants=2) as server:
        yield server


@pytest.fixture
def other(srv: SimServer) -> Iterator[SimTenant]:
    """A freshly added demo tenant, removed after the test."""
    tenant = srv.add_tenant(seed="demo")
    yield tenant
    srv.remove_tenant(tenant.tenant_id)


def token_request(srv: SimServer, tenant: str, client_id: str, secret: str) -> httpx.Response:
    with httpx.Client(verify=srv.ssl_context(), timeout=30) as http:
        return http.post(
            f"{srv.base_url}/{tenant}/oauth2/v2.0/token",
            data={
                "client_id": client_id,
                "client_secret": secret,
                "scope": "https://graph.microsoft.com/.default",
                "grant_type": "client_credentials",
            },
        )


def tid_of(token: str) -> str:
    return str(jwt.decode(token, options={"verify_signature": False})["tid"])


def upns(tenant: SimTenant) -> set[str]:
    with tenant.client() as http:
        r = http.get("/users", params={"$select": "userPrincipalName", "$top": "999"})
    assert r.status_code == 200
    return {u["userPrincipalName"] for u in r.json()["value"]}


def test_server_starts_with_the_default_tenant_first(srv: SimServer) -> None:
    tenants = srv.tenants
    assert len(tenants) == 2
    assert tenants[0].tenant_id == srv.tenant_id == DEMO_TENANT_ID
    assert tenants[0].client_id == srv.client_id
    added = tenants[1]
    assert added.tenant_id != DEMO_TENANT_ID
    assert added.initial_domain == "tenant2.onmicrosoft.com"
    assert added.client_id != srv.client_id
    assert set(added.domains).isdisjoint(tenants[0].domains)


def test_each_tenant_reads_its_own_directory(srv: SimServer, other: SimTenant) -> None:
    default = srv.tenants[0]
    mine, theirs = upns(default), upns(other)
    assert "admin@contoso.onmicrosoft.com" in mine
    assert f"admin@{other.initial_domain}" in theirs
    assert not mine & theirs
    assert all(upn.split("@")[1] in {d.lower() for d in other.domains} for upn in theirs)


def test_a_write_lands_in_the_token_tenant_only(srv: SimServer, other: SimTenant) -> None:
    upn = f"newcomer@{other.initial_domain}"
    body = {
        "accountEnabled": True,
        "displayName": "Newcomer",
        "mailNickname": "newcomer",
        "userPrincipalName": upn,
        "passwordProfile": {"password": "Quartz-Lantern-Ripple-58", "forceChangePasswordNextSignIn": True},
    }
    with other.client() as http:
        created = http.post("/users", json=body)
    assert created.status_code == 201
    assert upn in upns(other)
    assert upn not in upns(srv.tenants[0])
    with srv.client() as http:
        assert http.get(f"/users/{created.json()['id']}").status_code == 404


def test_object_ids_of_another_tenant_are_not_found(srv: SimServer, other: SimTenant) -> None:
    with other.client() as http:
        theirs = http.get("/users", params={"$select": "id,jobTitle"}).json()["value"][3]
    with srv.client() as http:
        assert http.get(f"/users/{theirs['id']}").status_code == 404
        assert http.patch(f"/users/{theirs['id']}", json={"jobTitle": "Intruder"}).status_code == 404
    with other.client() as http:
        assert http.get(f"/users/{theirs['id']}").json()["jobTitle"] == theirs["jobTitle"]


def test_batch_is_served_from_the_token_tenant(other: SimTenant) -> None:
    with other.client() as http:
        r = http.post("/$batch", json={"requests": [{"id": "1", "method": "GET", "url": "/domains"}]})
    assert r.status_code == 200
    names = {d["id"] for d in r.json()["responses"][0]["body"]["value"]}
    assert other.initial_domain in names
    assert "contoso.com" not in names


@pytest.mark.parametrize("how", ["id", "initial domain", "custom domain", "upper case"])
def test_token_by_tenant_id_or_verified_domain(srv: SimServer, other: SimTenant, how: str) -> None:
    name = {
        "id": other.tenant_id,
        "initial domain": other.initial_domain,
        "custom domain": other.default_domain,
        "upper case": other.default_domain.upper(),
    }[how]
    r = token_request(srv, name, other.client_id, other.client_secret)
    assert r.status_code == 200
    assert tid_of(r.json()["access_token"]) == other.tenant_id


def test_unverified_domain_names_no_tenant(srv: SimServer, other: SimTenant) -> None:
    unverified = f"{other.initial_domain.split('.')[0]}.northwind.example"
    with other.client() as http:
        domains = {d["id"]: d["isVerified"] for d in http.get("/domains").json()["value"]}
    assert domains[unverified] is False
    r = token_request(srv, unverified, other.client_id, other.client_secret)
    assert r.status_code == 400
    assert r.json()["error_codes"] == [90002]


def test_unknown_tenant_is_aadsts90002(srv: SimServer) -> None:
    unknown = str(uuid.uuid4())
    r = token_request(srv, unknown, srv.client_id, srv.client_secret)
    assert r.status_code == 400
    body = r.json()
    assert body["error"] == "invalid_request"
    assert body["error_codes"] == [90002]
    assert body["error_description"].startswith(f"AADSTS90002: Tenant '{unknown}' not found.")


def test_an_app_of_one_tenant_gets_no_token_from_another(srv: SimServer, other: SimTenant) -> None:
    r = token_request(srv, other.tenant_id, srv.client_id, srv.client_secret)
    assert r.status_code == 400
    assert r.json()["error"] == "unauthorized_client"
    assert r.json()["error_codes"] == [700016]


def forged(token: str, tid: str) -> str:
    """`token` with its `tid` claim changed (the signature no longer matches)."""
    head, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["tid"] = tid
    encoded = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{encoded}.{signature}"


def test_a_token_edited_to_name_another_tenant_is_refused(srv: SimServer, other: SimTenant) -> None:
    with srv.client(forged(srv.token(), other.tenant_id)) as http:
        r = http.get("/users")
    assert r.status_code == 401
    assert graph_error(r)["code"] == "InvalidAuthenticationToken"


def test_tokens_of_a_removed_tenant_stop_working(srv: SimServer) -> None:
    gone = srv.add_tenant(seed="demo")
    token = gone.token()
    srv.remove_tenant(gone.tenant_id)
    with srv.client(token) as http:
        r = http.get("/users")
    assert r.status_code == 401
    assert graph_error(r)["code"] == "InvalidAuthenticationToken"
    assert token_request(srv, gone.tenant_id, gone.client_id, gone.client_secret).json()["error_codes"] == [
        90002
    ]


def test_faults_are_per_tenant(srv: SimServer, other: SimTenant) -> None:
    other.control("POST", "/faults", json={"kind": "status", "status": 503, "path": "/v1.0/users"})
    with other.client() as http:
        assert http.get("/users").status_code == 503
    with srv.client() as http:
        assert http.get("/users").status_code == 200
    assert srv.control("GET", "/faults").json()["value"] == []
    assert len(other.control("GET", "/faults").json()["value"]) == 1


def test_settings_and_replication_lag_are_per_tenant(srv: SimServer, other: SimTenant) -> None:
    other.control("PATCH", "/settings", json={"replication_lag_seconds": 600})
    assert srv.control("GET", "/settings").json()["replication_lag_seconds"] == 0
    with other.client() as http:
        group = http.post(
            "/groups",
            json={
                "displayName": "Lagging",
                "mailEnabled": False,
                "mailNickname": "lagging",
                "securityEnabled": True,
            },
        )
        assert group.status_code == 201
        assert http.get(f"/groups/{group.json()['id']}").status_code == 404
    with srv.client() as http:
        group = http.post(
            "/groups",
            json={
                "displayName": "Current",
                "mailEnabled": False,
                "mailNickname": "current",
                "securityEnabled": True,
            },
        )
        assert http.get(f"/groups/{group.json()['id']}").status_code == 200
        http.delete(f"/groups/{group.json()['id']}")


def test_reset_of_an_added_tenant_keeps_who_it_is(srv: SimServer, other: SimTenant) -> None:
    with other.client() as http:
        adele = http.get(f"/users/adele.vance@{other.default_domain}").json()
        assert http.patch(f"/users/{adele['id']}", json={"jobTitle": "Changed"}).status_code == 204
    other.control("POST", "/reset")
    again = srv.tenant(other.tenant_id)
    assert (again.initial_domain, again.client_id) == (other.initial_domain, other.client_id)
    with other.client() as http:
        assert http.get(f"/users/{adele['id']}").json()["jobTitle"] != "Changed"


def test_control_api_adds_lists_and_removes_tenants(srv: SimServer) -> None:
    wanted = str(uuid.uuid4())
    with httpx.Client(verify=srv.ssl_context(), timeout=30) as http:
        base = f"{srv.base_url}/_sim/tenants"
        r = http.post(base, json={"seed": "godaddy", "tenant_id": wanted, "domain": "acme.onmicrosoft.com"})
        assert r.status_code == 201
        made = r.json()
        assert (made["tenant_id"], made["initial_domain"], made["seed"]) == (
            wanted,
            "acme.onmicrosoft.com",
            "godaddy",
        )
        assert "acme.bellowsbakery.com" in made["domains"]
        assert wanted in [t["tenant_id"] for t in http.get(base).json()["value"]]
        assert http.get(f"{base}/acme.bellowsbakery.com").json()["tenant_id"] == wanted
        assert http.post(base, json={"tenant_id": wanted}).status_code == 409
        assert http.post(base, json={"domain": "acme.onmicrosoft.com"}).status_code == 409
        assert http.post(base, json={"domain": "contoso.com"}).status_code == 409
        assert http.post(base, json={"seed": "nonsense"}).status_code == 400
        assert http.post(base, json={"tenant_id": "not-a-guid"}).status_code == 400
        assert http.delete(f"{base}/{srv.tenant_id}").status_code == 409
        assert http.get(f"{srv.base_url}/_sim/info", params={"tenant": "nowhere.example"}).status_code == 404
        assert http.delete(f"{base}/{wanted}").status_code == 204
        assert http.get(f"{base}/{wanted}").status_code == 404


def test_endpoints_without_a_tenant_act_on_the_default_one(srv: SimServer, other: SimTenant) -> None:
    assert srv.control("GET", "/info").json()["tenant_id"] == srv.tenant_id
    assert other.control("GET", "/info").json()["tenant_id"] == other.tenant_id
    assert other.control("GET", "/state").json()["tenant_id"] == other.tenant_id


@pytest.fixture
def throttled() -> Iterator[SimServer]:
    with SimServer(seed="demo", throttling=True, tenants=2) as server:
        yield server


def write_statuses(tenant: SimTenant, token: str, count: int) -> list[tuple[int, str]]:
    out = []
    with tenant.client(token) as http:
        user = http.get(f"/users/adele.vance@{tenant.default_domain}").json()["id"]
        for i in range(count):
            r = http.patch(f"/users/{user}", json={"jobTitle": f"Title {i}"})
            out.append((r.status_code, r.headers.get("x-ms-throttle-scope", "")))
    return out


def test_tenant_write_buckets_are_separate(throttled: SimServer) -> None:
    throttled.sim.throttle.configure(tenant_writes=3, tenant_write_window=3600.0)
    first, second = throttled.tenants
    assert [s for s, _ in write_statuses(first, first.token(), 4)] == [204, 204, 204, 429]
    assert write_statuses(first, first.token(), 1)[0][1].startswith("Tenant/Write/")
    assert [s for s, _ in write_statuses(second, second.token(), 3)] == [204, 204, 204]


def test_application_buckets_count_across_the_tenants_of_a_server(throttled: SimServer) -> None:
    throttled.sim.throttle.configure(app_writes=4, app_write_window=3600.0)
    first, second = throttled.tenants
    roles = ["User.ReadWrite.All"]
    app = first.add_app(roles, [USER_ADMIN])
    second.add_app(roles, [USER_ADMIN], client_id=app["client_id"], client_secret=app["client_secret"])
    assert [s for s, _ in write_statuses(first, first.token(app["client_id"], app["client_secret"]), 2)] == [
        204,
        204,
    ]
    in_second = write_statuses(second, second.token(app["client_id"], app["client_secret"]), 3)
    assert [s for s, _ in in_second] == [204, 204, 429]
    assert in_second[2][1] == f"Application/Write/{app['client_id']}/{second.tenant_id}"
    # the tenants' own app (another client id) is not held back
    assert [s for s, _ in write_statuses(second, second.token(), 1)] == [204]


def reads_until_throttled(tenant: SimTenant, limit: int) -> int:
    with tenant.client() as http:
        for i in range(limit):
            if http.get("/domains").status_code == 429:
                return i
    return limit


def test_the_resource_unit_quota_follows_each_tenants_size(throttled: SimServer) -> None:
    throttled.sim.throttle.configure(ru_small=5, ru_medium=8, ru_large=12, ru_window=3600.0)
    small = throttled.tenants[0]  # demo: 49 users
    large = throttled.add_tenant(seed="large", users=600, groups=2)
    assert reads_until_throttled(small, 20) == 5
    assert reads_until_throttled(large, 20) == 12


def test_user_realm_answers_for_the_tenant_owning_the_domain(srv: SimServer, other: SimTenant) -> None:
    with httpx.Client(verify=srv.ssl_context(), timeout=30) as http:
        r = http.get(
            f"{srv.base_url}/getuserrealm.srf", params={"login": f"x@{other.default_domain}", "json": "1"}
        )
    assert r.json()["NameSpaceType"] == "Managed"
    assert r.json()["FederationBrandName"] == other.display_name

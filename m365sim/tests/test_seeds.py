"""Seeds (demo, godaddy, large), persistence, and m365sim's independence from lockstep."""

from __future__ import annotations

import ast
import re
import time
from pathlib import Path

import httpx

from m365sim import seeds
from m365sim.state import GLOBAL_ADMIN, load_tenant, save_tenant
from m365sim.testing import SimServer

SRC = Path(__file__).resolve().parents[1] / "src" / "m365sim"


def test_never_imports_lockstep() -> None:
    offenders = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "lockstep"]
        if re.search(r"""import_module\(\s*['"]lockstep""", path.read_text()):
            offenders.append(f"{path.name}: import_module")
    assert offenders == []


def test_demo_seed_shape() -> None:
    t = seeds.demo()
    assert 45 <= len(t.users) <= 55
    enabled = [u for u in t.users.values() if u["accountEnabled"]]
    licensed = [u for u in t.users.values() if u["assignedLicenses"]]
    assert 0 < len(enabled) < len(t.users) and 0 < len(licensed) < len(t.users)
    assert any(GLOBAL_ADMIN in t.roles_of(u) for u in t.users)
    kinds = sorted(
        ("Unified" in g["groupTypes"], g["mailEnabled"], g["securityEnabled"]) for g in t.groups.values()
    )
    assert (True, True, True) in kinds and (False, True, True) in kinds and (False, True, False) in kinds
    assert (False, False, True) in kinds
    app = t.apps[seeds.DEMO_CLIENT_ID]
    assert sorted(app.roles) == sorted(seeds.LOCKSTEP_PERMISSIONS)


def test_godaddy_signals(sim_server: SimServer) -> None:
    sim_server.reset("godaddy")
    with sim_server.client(sim_server.token()) as c:
        doms = {d["id"]: d for d in c.get("/domains").json()["value"]}
        initial = next(d for d, v in doms.items() if v["isInitial"])
        assert re.fullmatch(r"netorg\d+\.onmicrosoft\.com", initial.lower())
        fed = [d for d, v in doms.items() if v["authenticationType"] == "Federated"]
        assert fed == ["bellowsbakery.com"]
        conf = sim_server.sim.tenant.domains["bellowsbakery.com"].federation
        hosts = [
            httpx.URL(conf[k]).host
            for k in ("passiveSignInUri", "activeSignInUri", "signOutUri", "metadataExchangeUri")
        ]
        assert all(h.endswith(("godaddy.com", "secureserver.net")) for h in hosts)
        assert c.get("/organization").status_code == 403  # the guide's set has no Organization.Read.All
    reader = sim_server.add_app(roles=["Organization.Read.All"])
    with sim_server.client(sim_server.token(reader["client_id"], reader["client_secret"])) as c:
        org = c.get("/organization").json()["value"][0]
        assert any(v["type"] == "Federated" for v in org["verifiedDomains"])
    sim_server.reset("demo")


def test_large_seed_over_http(sim_server: SimServer) -> None:
    sim_server.reset("large", users=2000, groups=20)
    with sim_server.client(sim_server.token()) as c:
        r = c.get("/users/$count", headers={"ConsistencyLevel": "eventual"})
        assert r.text == "\ufeff2000"  # with the byte-order mark (count_byte_order_mark)
        r = c.get("/users", params={"$filter": "userPrincipalName eq 'user001234@largecorp.com'"})
        assert [u["userPrincipalName"] for u in r.json()["value"]] == ["user001234@largecorp.com"]
        assert len(c.get("/groups").json()["value"]) == 20
    sim_server.reset("demo")


def test_large_seed_100k_fast_with_constant_lookups() -> None:
    start = time.perf_counter()
    t = seeds.large(100_000, 100)
    assert time.perf_counter() - start < 15
    assert len(t.users) == 100_000
    last = "user099999@largecorp.com"
    u = t.find_user(last)
    assert u is not None and t.find_user(u["id"]) is u and t.find_by_mail(last.upper()) is u
    assert t.by_proxy[last] == u["id"]


def test_state_round_trip(tmp_path: Path) -> None:
    t = seeds.demo()
    path = tmp_path / "state.json"
    save_tenant(t, path)
    t2 = load_tenant(path)
    assert t2.users == t.users and set(t2.groups) == set(t.groups) and t2.by_upn == t.by_upn
    assert t2.apps[seeds.DEMO_CLIENT_ID].secrets[0].secretText == seeds.DEMO_CLIENT_SECRET
    assert {g: list(m) for g, m in t2.members.items()} == {g: list(m) for g, m in t.members.items()}


def test_getuserrealm(sim_server: SimServer) -> None:
    sim_server.reset("godaddy")
    with httpx.Client(verify=sim_server.ssl_context()) as c:
        r = c.get(
            f"{sim_server.login_base_url}/getuserrealm.srf",
            params={"login": "x@bellowsbakery.com", "json": "1"},
        )
        body = r.json()
        assert body["NameSpaceType"] == "Federated"
        assert httpx.URL(body["AuthURL"]).host.endswith("godaddy.com")
        r = c.get(
            f"{sim_server.login_base_url}/getuserrealm.srf",
            params={"login": "x@NETORG1234567.onmicrosoft.com", "json": "1"},
        )
        assert r.json()["NameSpaceType"] == "Managed"
        r = c.get(
            f"{sim_server.login_base_url}/getuserrealm.srf",
            params={"login": "x@unknown.example", "json": "1"},
        )
        assert r.json()["NameSpaceType"] == "Unknown"
    sim_server.reset("demo")


def test_cli_subprocess_mode() -> None:
    with SimServer(seed="demo", subprocess_mode=True, throttling=False) as srv:
        assert srv.sim is None
        with srv.client() as c:
            assert c.get("/users/adele.vance@contoso.com").status_code == 200
        assert srv.request_log()[-1]["path"] == "/users/adele.vance@contoso.com"


def test_state_file_keeps_tenant_and_tokens(tmp_path: Path) -> None:
    state = tmp_path / "tenant.json"
    with SimServer(seed="demo", state_file=state, throttling=False) as srv:
        tok = srv.token()
        with srv.client(tok) as c:
            assert (
                c.patch("/users/adele.vance@contoso.com", json={"jobTitle": "Persisted"}).status_code == 204
            )
        srv.control("POST", "/save", json={})
    with SimServer(seed="demo", state_file=state, throttling=False) as srv, srv.client(tok) as c:
        r = c.get("/users/adele.vance@contoso.com", params={"$select": "jobTitle"})
        assert r.status_code == 200 and r.json()["jobTitle"] == "Persisted"

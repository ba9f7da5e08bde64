"""Entra token endpoint, discovery, admin consent and Graph token validation (§9.2, §9.3)."""

from __future__ import annotations

import base64
import datetime as dt
import time
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import jwt
import msal
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from m365sim import seeds
from m365sim.state import USER_ADMIN, WIDS_CONSTANT
from m365sim.testing import SimServer, app_client
from m365sim.testing import graph_error as err

SCOPE = "https://graph.microsoft.com/.default"


def post_token(srv: SimServer, tenant: str | None = None, **form: str) -> httpx.Response:
    data = {"grant_type": "client_credentials", "scope": SCOPE, **form}
    return httpx.post(
        f"{srv.login_base_url}/{tenant or srv.tenant_id}/oauth2/v2.0/token", data=data, verify=srv.ca_file
    )


def aad(r: httpx.Response, status: int, error: str, code: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == error
    assert body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert "Trace ID: " in body["error_description"] and "Correlation ID: " in body["error_description"]
    assert body["trace_id"] and body["correlation_id"] and body["timestamp"]
    return dict(body)


def session(srv: SimServer) -> requests.Session:
    s = requests.Session()
    s.verify = srv.ca_file
    s.trust_env = False  # REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE would override Session.verify
    return s


def make_cert() -> tuple[str, str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lockstep-test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    return key_pem, cert_pem, cert.fingerprint(hashes.SHA1()).hex()


def claims(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def test_secret_token_claims(sim_server: SimServer) -> None:
    r = post_token(sim_server, client_id=sim_server.client_id, client_secret=sim_server.client_secret)
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3599 and "refresh_token" not in body
    c = claims(body["access_token"])
    assert jwt.get_unverified_header(body["access_token"])["alg"] == "RS256"
    assert c["aud"] == "https://graph.microsoft.com"
    assert c["tid"] == sim_server.tenant_id and c["appid"] == sim_server.client_id and c["idtyp"] == "app"
    sp = sim_server.sim.tenant.apps[sim_server.client_id].servicePrincipalId
    assert c["oid"] == sp
    assert USER_ADMIN in c["wids"] and WIDS_CONSTANT in c["wids"]
    assert sorted(c["roles"]) == sorted(seeds.LOCKSTEP_PERMISSIONS)  # exactly the set-up guide's set
    assert c["exp"] > time.time() + 3000


def test_secret_by_http_basic_and_tenant_by_domain(sim_server: SimServer) -> None:
    auth = base64.b64encode(f"{sim_server.client_id}:{sim_server.client_secret}".encode()).decode()
    r = httpx.post(
        f"{sim_server.login_base_url}/contoso.onmicrosoft.com/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "scope": SCOPE},
        headers={"Authorization": f"Basic {auth}"},
        verify=sim_server.ca_file,
    )
    assert r.status_code == 200
    assert claims(r.json()["access_token"])["tid"] == sim_server.tenant_id


def test_token_errors(sim_server: SimServer) -> None:
    aad(
        post_token(sim_server, client_id=sim_server.client_id, client_secret="wrong"),
        401,
        "invalid_client",
        7000215,
    )
    aad(
        post_token(sim_server, client_id="00000000-0000-0000-0000-000000000001", client_secret="x"),
        400,
        "unauthorized_client",
        700016,
    )
    aad(
        post_token(sim_server, tenant="nosuch.example", client_id=sim_server.client_id, client_secret="x"),
        400,
        "invalid_request",
        90002,
    )
    aad(post_token(sim_server, client_id=sim_server.client_id), 401, "invalid_client", 7000216)
    r = httpx.post(
        f"{sim_server.token_url}",
        verify=sim_server.ca_file,
        data={
            "grant_type": "client_credentials",
            "scope": "https://graph.microsoft.com/User.Read.All",
            "client_id": sim_server.client_id,
            "client_secret": sim_server.client_secret,
        },
    )
    aad(r, 400, "invalid_scope", 1002012)
    r = httpx.post(
        f"{sim_server.token_url}",
        verify=sim_server.ca_file,
        data={
            "grant_type": "client_credentials",
            "scope": "https://other.example/.default",
            "client_id": sim_server.client_id,
            "client_secret": sim_server.client_secret,
        },
    )
    aad(r, 400, "invalid_scope", 70011)


def test_expired_secret(sim_server: SimServer) -> None:
    app = sim_server.add_app(["User.Read.All"], secret_expired=True)
    aad(
        post_token(sim_server, client_id=app["client_id"], client_secret=app["client_secret"]),
        401,
        "invalid_client",
        7000222,
    )


def test_no_consent_token_without_roles_gives_403(sim_server: SimServer) -> None:
    app = sim_server.add_app(["User.Read.All"], consent=False)
    tok = sim_server.token(app["client_id"], app["client_secret"])
    assert "roles" not in claims(tok)
    with sim_server.client(tok) as c:
        r = c.get("/users")
    assert r.status_code == 403
    e = err(r)
    assert e["code"] == "Authorization_RequestDenied"
    assert e["message"] == "Insufficient privileges to complete the operation."


def test_msal_with_secret(sim_server: SimServer) -> None:
    app = msal.ConfidentialClientApplication(
        sim_server.client_id,
        client_credential=sim_server.client_secret,
        authority=sim_server.authority,
        instance_discovery=False,
        http_client=session(sim_server),
    )
    result = app.acquire_token_for_client(scopes=[SCOPE])
    assert "access_token" in result, result
    with sim_server.client(result["access_token"]) as c:
        assert c.get("/domains").status_code == 200


def test_msal_with_certificate(sim_server: SimServer) -> None:
    key_pem, cert_pem, sha1 = make_cert()
    sim_server.add_certificate(sim_server.client_id, cert_pem)
    app = msal.ConfidentialClientApplication(
        sim_server.client_id,
        client_credential={"private_key": key_pem, "thumbprint": sha1},
        authority=sim_server.authority,
        instance_discovery=False,
        http_client=session(sim_server),
    )
    result = app.acquire_token_for_client(scopes=[SCOPE])
    assert "access_token" in result, result
    assert claims(result["access_token"])["appidacr"] == "2"
    # an unregistered certificate is refused
    key2, _, sha2 = make_cert()
    bad = msal.ConfidentialClientApplication(
        sim_server.client_id,
        client_credential={"private_key": key2, "thumbprint": sha2},
        authority=sim_server.authority,
        instance_discovery=False,
        http_client=session(sim_server),
    )
    result = bad.acquire_token_for_client(scopes=[SCOPE])
    assert result["error"] == "invalid_client" and 700027 in result["error_codes"]


def test_assertion_checks(sim_server: SimServer) -> None:
    key_pem, cert_pem, sha1 = make_cert()
    sim_server.add_certificate(sim_server.client_id, cert_pem)
    x5t = base64.urlsafe_b64encode(bytes.fromhex(sha1)).decode().rstrip("=")

    def assertion(**over: Any) -> str:
        now = int(time.time())
        c = {
            "aud": sim_server.token_url,
            "iss": sim_server.client_id,
            "sub": sim_server.client_id,
            "jti": "x",
            "nbf": now,
            "exp": now + 600,
            **over,
        }
        return jwt.encode(c, key_pem, algorithm="RS256", headers={"x5t": x5t})

    def send(a: str) -> httpx.Response:
        return post_token(
            sim_server,
            client_id=sim_server.client_id,
            client_assertion=a,
            client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        )

    assert send(assertion()).status_code == 200
    aad(send(assertion(exp=int(time.time()) - 1000)), 401, "invalid_client", 700024)
    aad(send(assertion(aud="https://elsewhere/token")), 401, "invalid_client", 700212)
    aad(send(assertion(iss="someone", sub="someone")), 401, "invalid_client", 700021)
    tampered = assertion()[:-4] + ("AAAA" if not assertion().endswith("AAAA") else "BBBB")
    aad(send(tampered), 401, "invalid_client", 700027)


def test_discovery_documents(sim_server: SimServer) -> None:
    r = httpx.get(f"{sim_server.authority}/v2.0/.well-known/openid-configuration", verify=sim_server.ca_file)
    assert r.status_code == 200
    doc = r.json()
    assert doc["token_endpoint"] == sim_server.token_url
    keys = httpx.get(doc["jwks_uri"], verify=sim_server.ca_file).json()["keys"]
    tok = sim_server.token()
    key = jwt.PyJWK(keys[0])
    assert (
        jwt.decode(tok, key.key, algorithms=["RS256"], audience="https://graph.microsoft.com")["tid"]
        == sim_server.tenant_id
    )


def test_admin_consent_redirects(sim_server: SimServer) -> None:
    app = sim_server.add_app(["User.Read.All"], consent=False)
    url = f"{sim_server.login_base_url}/{sim_server.tenant_id}/adminconsent"
    params = {"client_id": app["client_id"], "state": "s1", "redirect_uri": "https://localhost/cb"}
    with httpx.Client(verify=sim_server.ca_file) as c:
        assert c.get(url, params=params).status_code == 200  # the consent page
        r = c.post(url, params=params, data={"decision": "accept"})
        assert r.status_code == 302
        q = parse_qs(urlparse(r.headers["location"]).query)
        assert q == {"tenant": [sim_server.tenant_id], "state": ["s1"], "admin_consent": ["True"]}
        assert "roles" in claims(sim_server.token(app["client_id"], app["client_secret"]))
        r = c.post(url, params=params, data={"decision": "accept", "as_admin": "0"})
        q = parse_qs(urlparse(r.headers["location"]).query)
        assert q["error"] == ["permission_denied"] and q["state"] == ["s1"]
        r = c.post(url, params=params, data={"decision": "cancel"})
        assert parse_qs(urlparse(r.headers["location"]).query)["error"] == ["access_denied"]
        r = c.get(url, params={**params, "redirect_uri": "https://evil.example/cb"})
        assert r.status_code == 400 and "AADSTS50011" in r.text


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        (None, "Access token is empty."),
        ("Bearer", "Access token is empty."),
        ("Bearer abc", "IDX14100: JWT is not well formed, there are no dots (.)."),
    ],
)
def test_graph_401(sim_server: SimServer, auth: str | None, message: str) -> None:
    headers = {"Authorization": auth} if auth is not None else {}
    r = httpx.get(f"{sim_server.graph_base_url}/users", headers=headers, verify=sim_server.ca_file)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    e = err(r)
    assert e == {"code": "InvalidAuthenticationToken", "message": message, "innerError": e["innerError"]}


def test_graph_401_expired_and_foreign(sim_server: SimServer) -> None:
    sim = sim_server.sim
    now = int(time.time())
    base = {
        "aud": "https://graph.microsoft.com",
        "tid": sim.tenant.id,
        "iat": now - 7200,
        "nbf": now - 7200,
        "exp": now - 3600,
    }
    expired = jwt.encode(base, sim.signing_key, algorithm="RS256")
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode({**base, "exp": now + 600}, other_key, algorithm="RS256")
    wrong_aud = jwt.encode(
        {**base, "exp": now + 600, "aud": "https://outlook.office.com"}, sim.signing_key, algorithm="RS256"
    )
    for tok, msg in (
        (expired, "Access token has expired or is not yet valid."),
        (forged, "Access token validation failure."),
        (wrong_aud, "Access token validation failure. Invalid audience."),
    ):
        r = httpx.get(
            f"{sim_server.graph_base_url}/users",
            headers={"Authorization": f"Bearer {tok}"},
            verify=sim_server.ca_file,
        )
        assert r.status_code == 401 and err(r)["message"] == msg


def test_request_ids_echoed(graph: httpx.Client) -> None:
    r = graph.get("/organization", headers={"client-request-id": "abc-123"})
    assert r.headers["client-request-id"] == "abc-123" and r.headers["request-id"]
    r = graph.get("/users/nobody@contoso.com", headers={"client-request-id": "abc-124"})
    assert err(r)["innerError"]["client-request-id"] == "abc-124"


def test_reader_app_cannot_write(sim_server: SimServer) -> None:
    with app_client(sim_server, ["User.Read.All"]) as c:
        assert c.get("/users").status_code == 200
        r = c.post("/users", json={})
        assert r.status_code == 403 and err(r)["code"] == "Authorization_RequestDenied"


def test_control_permissions_and_delete_app(sim_server: SimServer) -> None:
    sim_server.set_permissions(sim_server.client_id, roles=["User.Read.All"], directory_roles=[])
    c = claims(sim_server.token())
    assert c["roles"] == ["User.Read.All"] and c["wids"] == [WIDS_CONSTANT]
    sim_server.delete_app(sim_server.client_id)
    aad(
        post_token(sim_server, client_id=sim_server.client_id, client_secret=sim_server.client_secret),
        400,
        "unauthorized_client",
        700016,
    )

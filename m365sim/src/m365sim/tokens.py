"""Entra side: client-credentials token endpoint, OIDC discovery, admin consent, Graph token check.

graph-facts §9.2-9.3. Tokens are RS256 JWTs signed with the simulator's key (published at
``/{tenant}/discovery/v2.0/keys``). What a caller presents is checked in `token_checks`.
"""

from __future__ import annotations

import asyncio
import base64
import html
import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import jwt
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from m365sim.state import WIDS_CONSTANT, AppRegistration, Tenant
from m365sim.token_checks import TokenError, check_assertion, check_secret, login_base

if TYPE_CHECKING:
    from m365sim.simulator import Simulator

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def aad_error(e: TokenError) -> JSONResponse:
    trace, corr = str(uuid.uuid4()), str(uuid.uuid4())
    ts = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
    desc = f"AADSTS{e.code}: {e.description} Trace ID: {trace} Correlation ID: {corr} Timestamp: {ts}"
    body = {
        "error": e.error,
        "error_description": desc,
        "error_codes": [e.code],
        "timestamp": ts,
        "trace_id": trace,
        "correlation_id": corr,
        "error_uri": f"https://login.microsoftonline.com/error?code={e.code}",
    }
    return JSONResponse(body, status_code=e.status, headers={"Cache-Control": "no-store, no-cache"})


async def read_form(request: Request) -> dict[str, str]:
    """application/x-www-form-urlencoded body (no python-multipart dependency)."""
    from urllib.parse import parse_qsl

    return dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))


def tenant_or_error(sim: Simulator, name: str) -> Simulator:
    """The served tenant named by id or verified domain, else AADSTS90002 (graph-facts §9.3)."""
    served = sim.tenant_sim(name)
    if served is None:
        raise TokenError(
            400,
            "invalid_request",
            90002,
            f"Tenant '{name}' not found. Check to make sure you have the correct tenant ID and are signing "
            "into the correct cloud. Check with your subscription administrator, this may happen if there "
            "are no active subscriptions for the tenant.",
        )
    return served


def issue_token(sim: Simulator, t: Tenant, app: AppRegistration, acr: str, audience: str) -> dict[str, Any]:
    now = int(time.time())
    life = sim.settings.token_lifetime_s
    wids = [*sorted(t.roles_in_token(app.servicePrincipalId, sim.settings.token_claims_lag_s)), WIDS_CONSTANT]
    claims: dict[str, Any] = {
        "aud": audience,
        "iss": f"https://sts.windows.net/{t.id}/",
        "iat": now,
        "nbf": now,
        "exp": now + life,
        "app_displayname": app.displayName,
        "appid": app.appId,
        "appidacr": acr,
        "idp": f"https://sts.windows.net/{t.id}/",
        "idtyp": "app",
        "oid": app.servicePrincipalId,
        "sub": app.servicePrincipalId,
        "tid": t.id,
        "uti": uuid.uuid4().hex[:22],
        "ver": "1.0",
        "wids": wids,
    }
    roles = app.granted_roles()
    if roles:
        claims["roles"] = sorted(roles)
    token = jwt.encode(claims, sim.signing_key, algorithm="RS256", headers={"kid": sim.kid, "typ": "JWT"})
    return {"token_type": "Bearer", "expires_in": life, "ext_expires_in": life, "access_token": token}


async def token_endpoint(request: Request) -> Response:
    server: Simulator = request.app.state.sim
    name = request.path_params["tenant"]
    form = await read_form(request)
    delay = server.latency_s()
    if delay > 0:
        await asyncio.sleep(delay)
    # login faults of the named tenant (the default tenant's when the name is unknown)
    hook = getattr((server.tenant_sim(name) or server).faults, "before_login", None)
    if hook is not None:
        early = hook(name, form)
        if early is not None:
            return early
    try:
        with server.lock:
            sim = tenant_or_error(server, name)
            return JSONResponse(
                _token(sim, sim.tenant, form, request, name), headers={"Cache-Control": "no-store, no-cache"}
            )
    except TokenError as e:
        return aad_error(e)


def _token(sim: Simulator, t: Tenant, form: dict[str, Any], request: Request, name: str) -> dict[str, Any]:
    client_id, secret = form.get("client_id"), form.get("client_secret")
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("basic "):
        try:
            user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
        except ValueError as err:
            raise TokenError(401, "invalid_client", 7000215, "Invalid client secret provided.") from err
        from urllib.parse import unquote_plus

        client_id, secret = unquote_plus(user), unquote_plus(pw)
    grant = form.get("grant_type")
    if grant != "client_credentials":
        raise TokenError(
            400,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type 'client_credentials' only is simulated.",
        )
    if not client_id:
        raise TokenError(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        )
    scope = form.get("scope")
    if not scope:
        raise TokenError(
            400, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'."
        )
    scopes = scope.split()
    resource = sim.settings.graph_audience
    valid = {f"{resource}/.default", f"{resource}//.default", "00000003-0000-0000-c000-000000000000/.default"}
    if len(scopes) != 1 or scopes[0] not in valid:
        if all(s.endswith("/.default") for s in scopes) or len(scopes) != 1:
            raise TokenError(
                400,
                "invalid_scope",
                70011,
                f"The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid.",
            )
        raise TokenError(
            400,
            "invalid_scope",
            1002012,
            f"The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).",
        )
    app = t.apps.get(client_id)
    if app is None:
        raise TokenError(
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory '{t.display_name}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
        )
    if form.get("client_assertion"):
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise TokenError(400, "invalid_request", 50027, "Invalid client_assertion_type.")
        check_assertion(sim, t, app, form["client_assertion"], request, name)
        acr = "2"
    elif secret:
        check_secret(app, secret)
        acr = "1"
    else:
        raise TokenError(
            401,
            "invalid_client",
            7000216,
            "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
        )
    return issue_token(sim, t, app, acr, resource)


async def openid_configuration(request: Request) -> Response:
    sim: Simulator = request.app.state.sim
    name = request.path_params["tenant"]
    t = sim.resolve_tenant(name)
    if t is None:
        return aad_error(tenant_or_error_exc(name))
    base = login_base(request)
    return JSONResponse(
        {
            "token_endpoint": f"{base}/{t.id}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{base}/{t.id}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/{t.id}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{base}/oidc/userinfo",
            "authorization_endpoint": f"{base}/{t.id}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/{t.id}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/{t.id}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "tid", "oid", "roles", "wids"],
            "tenant_region_scope": "EU",
            "cloud_instance_name": request.headers.get("host", "127.0.0.1"),
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": sim.settings.graph_audience.split("://", 1)[-1],
        }
    )


def tenant_or_error_exc(name: str) -> TokenError:
    return TokenError(400, "invalid_request", 90002, f"Tenant '{name}' not found.")


async def jwks(request: Request) -> Response:
    sim: Simulator = request.app.state.sim
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(sim.signing_key.public_key(), as_dict=True)
    jwk.update(kid=sim.kid, use="sig", alg="RS256")
    return JSONResponse({"keys": [jwk]})


def _page(title: str, text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>",
        status_code=status,
    )


async def admin_consent(request: Request) -> Response:
    """GET shows a consent page; POST ``decision=accept|cancel`` (``as_admin=0`` = non-admin)."""
    sim: Simulator = request.app.state.sim
    q = dict(request.query_params)
    if request.method == "POST":
        q.update(await read_form(request))
    name = request.path_params["tenant"]
    with sim.lock:
        t = sim.resolve_tenant(name) if name not in ("common", "organizations") else sim.tenant
        if t is None:
            return _page("Sign in error", f"AADSTS90002: Tenant '{name}' not found.", 400)
        app = t.apps.get(q.get("client_id", ""))
        if app is None:
            return _page(
                "Sign in error",
                f"AADSTS700016: Application with identifier '{q.get('client_id', '')}' was not found in the directory '{t.display_name}'.",
                400,
            )
        redirect = q.get("redirect_uri", "")
        if not any(redirect == r or redirect.startswith(r.rstrip("/") + "/") for r in app.redirectUris):
            return _page(
                "Sign in error",
                f"AADSTS50011: The redirect URI '{redirect}' specified in the request does not match the redirect URIs configured for the application '{app.appId}'.",
                400,
            )
        state = q.get("state", "")
        sep = "&" if "?" in redirect else "?"
        if request.method == "GET" and not q.get("decision"):
            perms = "".join(f"<li>{html.escape(r)}</li>" for r in app.roles)
            return HTMLResponse(
                f"<!doctype html><html><body><h1>Permissions requested</h1><p>{html.escape(app.displayName)}</p>"
                f"<ul>{perms}</ul><form method='post'>"
                "<button name='decision' value='accept'>Accept</button>"
                "<button name='decision' value='cancel'>Cancel</button></form></body></html>"
            )
        if q.get("as_admin", "1") == "0":
            params = {
                "error": "permission_denied",
                "error_description": "AADSTS90094: The grant requires admin permission.",
                "state": state,
            }
            return RedirectResponse(f"{redirect}{sep}{urlencode(params)}", status_code=302)
        if q.get("decision") != "accept":
            params = {
                "error": "access_denied",
                "error_description": "AADSTS65004: User declined to consent to access the app.",
                "state": state,
            }
            return RedirectResponse(f"{redirect}{sep}{urlencode(params)}", status_code=302)
        app.consentGranted = True
        params = {"tenant": t.id, "state": state, "admin_consent": "True"}
        return RedirectResponse(f"{redirect}{sep}{urlencode(params)}", status_code=302)


async def get_user_realm(request: Request) -> Response:
    """``/getuserrealm.srf?login=user@domain&json=1`` (undocumented; used for IdP detection, §7.2)."""
    sim: Simulator = request.app.state.sim
    login = request.query_params.get("login", "")
    domain = login.rsplit("@", 1)[-1].lower()
    served = sim.tenant_sim(domain) or sim
    with sim.lock:
        d = served.tenant.domains.get(domain)
        if d is None or not d.isVerified:
            body: dict[str, Any] = {"State": 4, "UserState": 1, "Login": login, "NameSpaceType": "Unknown"}
        elif d.authenticationType == "Federated" and d.federation:
            f = d.federation
            body = {
                "State": 3,
                "UserState": 2,
                "Login": login,
                "NameSpaceType": "Federated",
                "DomainName": d.id,
                "FederationGlobalVersion": -1,
                "AuthURL": f.get("passiveSignInUri"),
                "FederationBrandName": served.tenant.display_name,
                "AuthNForwardType": 1,
                "CloudInstanceName": "microsoftonline.com",
                "CloudInstanceIssuerUri": "urn:federation:MicrosoftOnline",
            }
        else:
            body = {
                "State": 4,
                "UserState": 1,
                "Login": login,
                "NameSpaceType": "Managed",
                "DomainName": d.id,
                "FederationBrandName": served.tenant.display_name,
                "CloudInstanceName": "microsoftonline.com",
            }
    return JSONResponse(body)


def routes() -> list[Route]:
    return [
        Route("/getuserrealm.srf", get_user_realm, methods=["GET"]),
        Route("/{tenant}/oauth2/v2.0/token", token_endpoint, methods=["POST"]),
        Route("/{tenant}/v2.0/.well-known/openid-configuration", openid_configuration, methods=["GET"]),
        Route("/{tenant}/.well-known/openid-configuration", openid_configuration, methods=["GET"]),
        Route("/{tenant}/discovery/v2.0/keys", jwks, methods=["GET"]),
        Route("/{tenant}/adminconsent", admin_consent, methods=["GET", "POST"]),
        Route("/{tenant}/v2.0/adminconsent", admin_consent, methods=["GET", "POST"]),
    ]

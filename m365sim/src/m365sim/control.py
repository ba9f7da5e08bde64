"""The ``/_sim/`` control API (no auth: the sim listens on loopback only).

Several tenants: every endpoint below acts on the server's default (first) tenant, or on the
tenant named by the query parameter ``?tenant=<tenant id or verified domain>`` (404 if the
server does not serve it), e.g. ``POST /_sim/reset?tenant=tenant2.onmicrosoft.com``.
Throttle limits (``sim.throttle``) and latency are the server's, shared by its tenants.

GET  /_sim/tenants               {"value": [info of each tenant, the default first]}
POST /_sim/tenants               {"seed": "demo"|"godaddy"|"large", "users": N, "groups": M,
                                  "tenant_id": GUID, "domain": "x.onmicrosoft.com",
                                  "display_name": "..."} (all optional) -> 201 info of the new
                                  tenant (its own client_id/client_secret); 409 if the id or a
                                  domain is taken, 400 for a bad seed/id/domain
GET  /_sim/tenants/{tenant}      info of one tenant (id or domain)
DELETE /_sim/tenants/{tenant}    stop serving an added tenant (409 for the default tenant)

GET  /_sim/info                  tenant id, domains, its client id/secret, base URLs, CA file, seed
POST /_sim/reset                 {"seed": "demo"|"godaddy"|"large", "users": N, "groups": M}
GET  /_sim/state                 counts and domains; ?full=1 for the whole tenant JSON
GET  /_sim/requests              request log (?since=<index>); DELETE clears it
GET  /_sim/settings, PATCH       the UNCERTAIN-behaviour switches (state.Settings)
POST /_sim/apps                  {"roles": [...], "directory_roles": [...], "consent": true,
                                  "secret_expired": false, "display_name": "x"} -> {client_id, client_secret, sp_id}
                                 ("client_id"/"client_secret" given: the same app in several
                                 tenants, a multi-tenant app sharing per-app throttle buckets)
POST /_sim/apps/{appId}/certificates   {"pem": "..."}      register a certificate
POST /_sim/apps/{appId}/consent        {"granted": bool}   grant/revoke admin consent
POST /_sim/apps/{appId}/expire-secrets                     every secret of the app expires now
POST /_sim/apps/{appId}/permissions    {"roles": [...], "directory_roles": [...]} replace either list
DELETE /_sim/apps/{appId}              delete the app registration and its service principal
POST /_sim/delta/reset           {"kind": "user"|"group"} next delta call with a token answers 410
POST /_sim/save                  {"path": "..."} (default: --state file)
POST /_sim/password-check        {"user": id or UPN, "password": "..."} -> {"current": bool, "force_change_next_sign_in": bool}
                                 (is this the account's current password; no password is ever shown)
"""

from __future__ import annotations

import hmac
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from m365sim.simulator import Simulator, TenantTaken
from m365sim.state import AppRegistration, Certificate, Secret, Tenant


def add_app(
    t: Tenant,
    roles: list[str],
    directory_roles: list[str] | None = None,
    consent: bool = True,
    secret_expired: bool = False,
    display_name: str = "Test app",
    client_id: str | None = None,
    secret: str | None = None,
) -> AppRegistration:
    app = AppRegistration(
        appId=client_id or str(uuid.uuid4()),
        displayName=display_name,
        servicePrincipalId=str(uuid.uuid4()),
        applicationObjectId=str(uuid.uuid4()),
        secrets=[
            Secret(
                str(uuid.uuid4()),
                secret or f"sim~{uuid.uuid4().hex}",
                time.time() + (-60 if secret_expired else 365 * 86400),
            )
        ],
        roles=list(roles),
        consentGranted=consent,
        redirectUris=["http://localhost", "https://localhost", "http://127.0.0.1", "https://127.0.0.1"],
    )
    t.add_app(app)
    for r in directory_roles or []:
        t.assign_role(app.servicePrincipalId, r)
    return app


def add_certificate(t: Tenant, app_id: str, pem: str, expired: bool = False) -> Certificate:
    from m365sim.token_checks import thumbprints

    cert = Certificate(
        str(uuid.uuid4()), thumbprints(pem)[0], pem, time.time() + (-60 if expired else 365 * 86400)
    )
    t.apps[app_id].certificates.append(cert)
    return cert


def info(sim: Simulator, request: Request | None = None) -> dict[str, Any]:
    base = sim.base_url
    if request is not None:
        base = f"{request.url.scheme}://{request.headers.get('host')}"
    t = sim.tenant
    client_id, client_secret = sim.client_credentials()
    return {
        "tenant_id": t.id,
        "tenant_name": t.display_name,
        "initial_domain": t.initial_domain,
        "default_domain": t.default_domain().id,
        "domains": [d.id for d in t.verified_domains()],
        "seed": sim.seed_name,
        "users": len(t.users),
        "client_id": client_id,
        "client_secret": client_secret,
        "login_base_url": base,
        "graph_base_url": base + "/v1.0",
        "token_url": f"{base}/{t.id}/oauth2/v2.0/token",
        "ca_file": getattr(sim.primary, "ca_file", None),
    }


Scoped = Callable[[Request, "Simulator"], Awaitable[Response]]


def unknown_tenant(name: str) -> JSONResponse:
    return JSONResponse({"error": f"unknown tenant {name!r}"}, status_code=404)


def scoped(sim: Simulator, handler: Scoped) -> Callable[[Request], Awaitable[Response]]:
    """A control endpoint acting on the default tenant, or on the ``?tenant=`` one."""

    async def endpoint(request: Request) -> Response:
        name = request.query_params.get("tenant")
        target = sim.tenant_sim(name) if name else sim
        if target is None:
            return unknown_tenant(str(name))
        return await handler(request, target)

    return endpoint


def routes(server: Simulator) -> list[BaseRoute]:
    async def body(request: Request) -> dict[str, Any]:
        raw = await request.body()
        import json

        return json.loads(raw) if raw else {}

    async def get_info(request: Request, sim: Simulator) -> Response:
        return JSONResponse(info(sim, request))

    async def reset(request: Request, sim: Simulator) -> Response:
        b = await body(request)
        sim.reset(b.get("seed"), b.get("users"), b.get("groups"))
        return JSONResponse(info(sim, request))

    async def state(request: Request, sim: Simulator) -> Response:
        with sim.lock:
            t = sim.tenant
            if request.query_params.get("full"):
                return JSONResponse(t.to_json())
            return JSONResponse(
                {
                    "tenant_id": t.id,
                    "users": len(t.users),
                    "groups": len(t.groups),
                    "deleted": len(t.deleted),
                    "apps": list(t.apps),
                    "change_seq": t.seq,
                    "domains": [d.graph() | {"federation": d.federation} for d in t.domains.values()],
                }
            )

    async def requests(request: Request, sim: Simulator) -> Response:
        with sim.lock:
            if request.method == "DELETE":
                sim.tenant.request_log.clear()
                return Response(status_code=204)
            since = int(request.query_params.get("since", "0"))
            return JSONResponse([r.to_dict() for r in list(sim.tenant.request_log)[since:]])

    async def settings(request: Request, sim: Simulator) -> Response:
        if request.method == "PATCH":
            try:
                sim.settings.update(await body(request))
            except KeyError as e:
                return JSONResponse({"error": f"unknown setting {e}"}, status_code=400)
            except ValueError as e:
                return JSONResponse({"error": str(e)}, status_code=400)
        return JSONResponse(sim.settings.to_dict())

    async def apps(request: Request, sim: Simulator) -> Response:
        b = await body(request)
        with sim.lock:
            app = add_app(
                sim.tenant,
                b.get("roles", []),
                b.get("directory_roles"),
                b.get("consent", True),
                b.get("secret_expired", False),
                b.get("display_name", "Test app"),
                client_id=b.get("client_id"),
                secret=b.get("client_secret"),
            )
        return JSONResponse(
            {
                "client_id": app.appId,
                "client_secret": app.secrets[0].secretText,
                "sp_id": app.servicePrincipalId,
            },
            status_code=201,
        )

    async def app_action(request: Request, sim: Simulator) -> Response:
        app_id, action = request.path_params["app_id"], request.path_params["action"]
        b = await body(request)
        with sim.lock:
            app = sim.tenant.apps.get(app_id)
            if app is None:
                return JSONResponse({"error": "unknown app"}, status_code=404)
            if action == "certificates":
                c = add_certificate(sim.tenant, app_id, b["pem"], b.get("expired", False))
                return JSONResponse({"thumbprint": c.thumbprint}, status_code=201)
            if action == "consent":
                app.consentGranted = bool(b.get("granted", True))
            elif action == "permissions":
                if "roles" in b:
                    app.roles = list(b["roles"])
                if "directory_roles" in b:
                    t = sim.tenant
                    for ra in [
                        ra
                        for ra in t.role_assignments.values()
                        if ra["principalId"] == app.servicePrincipalId
                    ]:
                        del t.role_assignments[ra["id"]]
                    for r in b["directory_roles"]:
                        t.assign_role(app.servicePrincipalId, r)
            elif action == "expire-secrets":
                for s in app.secrets:
                    s.endDateTime = time.time() - 1
            else:
                return JSONResponse({"error": "unknown action"}, status_code=404)
        return Response(status_code=204)

    async def delete_app(request: Request, sim: Simulator) -> Response:
        app_id = request.path_params["app_id"]
        with sim.lock:
            t = sim.tenant
            app = t.apps.pop(app_id, None)
            if app is None:
                return JSONResponse({"error": "unknown app"}, status_code=404)
            t.sp_index.pop(app.servicePrincipalId, None)
            for ra in [
                ra for ra in t.role_assignments.values() if ra["principalId"] == app.servicePrincipalId
            ]:
                del t.role_assignments[ra["id"]]
        return Response(status_code=204)

    async def delta_reset(request: Request, sim: Simulator) -> Response:
        b = await body(request)
        sim.delta_reset_pending.add(b.get("kind", "user"))
        return Response(status_code=204)

    async def password_check(request: Request, sim: Simulator) -> Response:
        b = await body(request)
        with sim.lock:
            found = sim.tenant.find_user(str(b.get("user", "")))
            if found is None:
                return JSONResponse({"error": "unknown user"}, status_code=404)
            stored = sim.tenant.passwords.get(found["id"])
            must_change = sim.tenant.password_force_change.get(found["id"], False)
        given = str(b.get("password", ""))
        current = stored is not None and hmac.compare_digest(stored.encode(), given.encode())
        return JSONResponse({"current": current, "force_change_next_sign_in": must_change})

    async def save(request: Request, sim: Simulator) -> Response:
        b = await body(request)
        sim.save(b.get("path"))
        return Response(status_code=204)

    async def tenants(request: Request) -> Response:
        if request.method == "GET":
            with server.lock:
                return JSONResponse({"value": [info(t, request) for t in server.tenants.values()]})
        b = await body(request)
        try:
            added = server.add_tenant(
                b.get("seed") or "demo",
                b.get("users"),
                b.get("groups"),
                tenant_id=b.get("tenant_id"),
                domain=b.get("domain"),
                display_name=b.get("display_name") or "",
            )
        except TenantTaken as taken:
            return JSONResponse({"error": str(taken)}, status_code=409)
        except ValueError as bad:
            return JSONResponse({"error": str(bad)}, status_code=400)
        return JSONResponse(info(added, request), status_code=201)

    async def one_tenant(request: Request) -> Response:
        name = request.path_params["tenant"]
        target = server.tenant_sim(name)
        if target is None:
            return unknown_tenant(name)
        if request.method == "GET":
            return JSONResponse(info(target, request))
        if target.is_primary:
            return JSONResponse({"error": "the default tenant cannot be removed"}, status_code=409)
        server.remove_tenant(target.tenant.id)
        return Response(status_code=204)

    def on(handler: Scoped) -> Callable[[Request], Awaitable[Response]]:
        return scoped(server, handler)

    out: list[BaseRoute] = [
        Route("/_sim/tenants", tenants, methods=["GET", "POST"]),
        Route("/_sim/tenants/{tenant}", one_tenant, methods=["GET", "DELETE"]),
        Route("/_sim/info", on(get_info), methods=["GET"]),
        Route("/_sim/reset", on(reset), methods=["POST"]),
        Route("/_sim/state", on(state), methods=["GET"]),
        Route("/_sim/requests", on(requests), methods=["GET", "DELETE"]),
        Route("/_sim/settings", on(settings), methods=["GET", "PATCH"]),
        Route("/_sim/apps", on(apps), methods=["POST"]),
        Route("/_sim/apps/{app_id}", on(delete_app), methods=["DELETE"]),
        Route("/_sim/apps/{app_id}/{action}", on(app_action), methods=["POST"]),
        Route("/_sim/delta/reset", on(delta_reset), methods=["POST"]),
        Route("/_sim/save", on(save), methods=["POST"]),
        Route("/_sim/password-check", on(password_check), methods=["POST"]),
    ]
    extra = getattr(server.faults, "control_routes", None)
    if extra is not None:
        out += extra()
    return out

"""Test fixture API: run m365sim on a free loopback port.

    from m365sim.testing import SimServer

    with SimServer(seed="demo") as srv:
        token = srv.token()                       # client-credentials token for the demo app
        with srv.client() as http:                # httpx.Client: base graph URL, CA, bearer token
            http.get("/users").json()
        srv.sim.tenant.users                      # direct state access (thread mode)
        srv.request_log()                         # [{'method','path','status','ru','at',...}]
        srv.reset("godaddy")

Attributes: ``base_url``, ``login_base_url`` (token endpoint is
``f"{login_base_url}/{tenant}/oauth2/v2.0/token"``), ``graph_base_url`` (``.../v1.0``),
``ca_file``, ``tenant_id``, ``client_id`` / ``client_secret`` (demo app), ``sim`` (None in
subprocess mode).

Several tenants on one server (each with its own state, settings, faults, throttle buckets):

    with SimServer(seed="large", users=1000, tenants=10) as srv:   # the default + 9 added
        for tenant in srv.tenants:                                 # SimTenant, default first
            tenant.tenant_id, tenant.initial_domain, tenant.client_id, tenant.client_secret
            with tenant.client() as http:                          # a token of that tenant
                http.get("/users")
        extra = srv.add_tenant(seed="demo", domain="acme.onmicrosoft.com")
        extra.control("POST", "/faults", json={...})               # /_sim/...?tenant=<its id>
        srv.remove_tenant(extra.tenant_id)

A `SimTenant` has the attributes Lockstep's directory form needs (``tenant_id``,
``client_id``, ``client_secret``, ``login_base_url``, ``graph_base_url``, ``ca_file``), like
the server itself does for its default tenant.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from m365sim import seeds
from m365sim.sim_tenant import SimTenant
from m365sim.state import Settings

__all__ = ["SimServer", "SimTenant", "app_client", "graph_error"]


class SimServer:
    def __init__(
        self,
        seed: str = "demo",
        users: int | None = None,
        groups: int | None = None,
        latency_ms: float = 0,
        jitter_ms: float = 0,
        throttling: bool = True,
        settings: dict[str, Any] | None = None,
        state_file: str | Path | None = None,
        ca_dir: str | Path | None = None,
        port: int = 0,
        subprocess_mode: bool = False,
        tenants: int = 1,
    ) -> None:
        """`tenants`: how many tenants the server starts with, each built from `seed`/`users`/
        `groups` (the default one plus ``tenants - 1`` added ones; see `add_tenant`)."""
        self.seed, self.users, self.groups = seed, users, groups
        self.tenant_count = tenants
        self.latency_ms, self.jitter_ms = latency_ms, jitter_ms
        self.throttling = throttling
        self.settings = settings or {}
        self.state_file, self.ca_dir, self.port = state_file, ca_dir, port
        self.subprocess_mode = subprocess_mode
        self.sim: Any = None
        self._server: Any = None
        self._proc: subprocess.Popen[bytes] | None = None
        self.base_url = ""
        self.ca_file = ""
        self.tenant_id = ""
        self.client_id = seeds.DEMO_CLIENT_ID
        self.client_secret = seeds.DEMO_CLIENT_SECRET

    # ----- lifecycle ------------------------------------------------------------------------------
    def start(self) -> SimServer:
        if self.subprocess_mode:
            self._start_subprocess()
        else:
            from m365sim.server import ThreadedServer
            from m365sim.simulator import Simulator

            st = Settings()
            st.update(self.settings)
            st.throttling_enabled = self.throttling
            self.sim = Simulator(self.seed, self.users, self.groups, settings=st, state_file=self.state_file)
            self.sim.latency_ms, self.sim.latency_jitter_ms = self.latency_ms, self.jitter_ms
            self._server = ThreadedServer(self.sim, port=self.port, ca_dir=self.ca_dir)
            self._server.start()
            self.base_url = self.sim.base_url
            self.ca_file = str(self._server.tls.ca_file)
            self.tenant_id = self.sim.tenant.id
        for _ in range(self.tenant_count - 1):
            self.add_tenant()
        return self

    def _start_subprocess(self) -> None:
        from m365sim.pki import ensure_tls
        from m365sim.server import bind

        self.ca_file = str(ensure_tls(self.ca_dir).ca_file)
        sock = bind(port=self.port)
        port = sock.getsockname()[1]
        sock.close()
        cmd = [
            sys.executable,
            "-m",
            "m365sim",
            "serve",
            "--port",
            str(port),
            "--seed",
            self.seed,
            "--latency-ms",
            str(self.latency_ms),
            "--jitter-ms",
            str(self.jitter_ms),
        ]
        for flag, val in (
            ("--users", self.users),
            ("--groups", self.groups),
            ("--state", self.state_file),
            ("--ca-dir", self.ca_dir),
        ):
            if val is not None:
                cmd += [flag, str(val)]
        if not self.throttling:
            cmd.append("--no-throttle")
        if self.settings.get("replication_lag_seconds"):
            cmd += ["--replication-lag", str(self.settings["replication_lag_seconds"])]
        self._proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ)
        )
        self.base_url = f"https://127.0.0.1:{port}"
        deadline = time.time() + 60
        while True:
            try:
                r = httpx.get(
                    f"{self.base_url}/_sim/info",
                    verify=ssl.create_default_context(cafile=self.ca_file),
                    timeout=2,
                )
                self.tenant_id = r.json()["tenant_id"]
                break
            except httpx.HTTPError:
                if time.time() > deadline or self._proc.poll() is not None:
                    raise RuntimeError("m365sim subprocess failed to start") from None
                time.sleep(0.1)
        if self.settings:
            self.control("PATCH", "/settings", json=self.settings)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
            self._proc = None

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----- URLs -----------------------------------------------------------------------------------
    @property
    def login_base_url(self) -> str:
        return self.base_url

    @property
    def graph_base_url(self) -> str:
        return self.base_url + "/v1.0"

    @property
    def authority(self) -> str:
        """msal authority for the tenant: ``f"{login_base_url}/{tenant_id}"``."""
        return f"{self.base_url}/{self.tenant_id}"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/{self.tenant_id}/oauth2/v2.0/token"

    # ----- helpers --------------------------------------------------------------------------------
    def control(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """Call the ``/_sim`` control API (works in thread and subprocess mode)."""
        with httpx.Client(verify=self.ssl_context(), timeout=30) as c:
            r = c.request(method, f"{self.base_url}/_sim{path}", **kw)
        r.raise_for_status()
        return r

    # ----- tenants ----------------------------------------------------------------------------------
    @property
    def tenants(self) -> list[SimTenant]:
        """Every tenant the server serves, the default one first."""
        return [SimTenant(self, info) for info in self.control("GET", "/tenants").json()["value"]]

    def tenant(self, name: str) -> SimTenant:
        """A served tenant by id or verified domain (HTTPStatusError 404 if unknown)."""
        return SimTenant(self, self.control("GET", f"/tenants/{name}").json())

    def add_tenant(
        self,
        seed: str | None = None,
        users: int | None = None,
        groups: int | None = None,
        tenant_id: str | None = None,
        domain: str | None = None,
        display_name: str = "",
    ) -> SimTenant:
        """Serve another tenant (default: the server's seed, users and groups); its initial
        domain defaults to ``tenant<N>.onmicrosoft.com`` and its id to a new GUID."""
        same = seed is None
        body = {
            "seed": seed or self.seed,
            "users": users if users is not None or not same else self.users,
            "groups": groups if groups is not None or not same else self.groups,
            "tenant_id": tenant_id,
            "domain": domain,
            "display_name": display_name,
        }
        return SimTenant(self, self.control("POST", "/tenants", json=body).json())

    def remove_tenant(self, tenant_id: str) -> None:
        self.control("DELETE", f"/tenants/{tenant_id}")

    def token(
        self, client_id: str | None = None, client_secret: str | None = None, tenant: str | None = None
    ) -> str:
        """A Graph access token via the real token endpoint (client secret); `tenant` (id or
        domain) defaults to the default tenant."""
        url = self.token_url if tenant is None else f"{self.base_url}/{tenant}/oauth2/v2.0/token"
        with httpx.Client(verify=self.ssl_context(), timeout=30) as c:
            r = c.post(
                url,
                data={
                    "client_id": client_id or self.client_id,
                    "client_secret": client_secret or self.client_secret,
                    "scope": "https://graph.microsoft.com/.default",
                    "grant_type": "client_credentials",
                },
            )
        r.raise_for_status()
        return str(r.json()["access_token"])

    def client(self, token: str | None = None, **kw: Any) -> httpx.Client:
        """httpx.Client on the Graph base URL, trusting the sim's CA, with a bearer token."""
        headers = {"Authorization": f"Bearer {token or self.token()}"}
        headers.update(kw.pop("headers", {}))
        return httpx.Client(
            base_url=self.graph_base_url, verify=self.ssl_context(), headers=headers, timeout=30, **kw
        )

    def ssl_context(self) -> ssl.SSLContext:
        """An SSL context trusting only the sim's CA (for httpx ``verify=``)."""
        return ssl.create_default_context(cafile=self.ca_file)

    def request_log(self, since: int = 0) -> list[dict[str, Any]]:
        return list(self.control("GET", f"/requests?since={since}").json())

    def clear_request_log(self) -> None:
        self.control("DELETE", "/requests")

    def reset(self, seed: str | None = None, users: int | None = None, groups: int | None = None) -> None:
        if self.sim is not None:
            self.sim.reset(seed, users, groups)
            self.tenant_id = self.sim.tenant.id
        else:
            info = self.control(
                "POST", "/reset", json={"seed": seed, "users": users, "groups": groups}
            ).json()
            self.tenant_id = info["tenant_id"]

    def add_app(
        self,
        roles: list[str],
        directory_roles: list[str] | None = None,
        consent: bool = True,
        secret_expired: bool = False,
        display_name: str = "Test app",
    ) -> dict[str, str]:
        """Register an app; returns {client_id, client_secret, sp_id}."""
        return dict(
            self.control(
                "POST",
                "/apps",
                json={
                    "roles": roles,
                    "directory_roles": directory_roles or [],
                    "consent": consent,
                    "secret_expired": secret_expired,
                    "display_name": display_name,
                },
            ).json()
        )

    def add_certificate(self, client_id: str, pem: str) -> str:
        """Register a PEM certificate on an app; returns its x5t thumbprint."""
        return str(
            self.control("POST", f"/apps/{client_id}/certificates", json={"pem": pem}).json()["thumbprint"]
        )

    def set_consent(self, client_id: str, granted: bool) -> None:
        self.control("POST", f"/apps/{client_id}/consent", json={"granted": granted})

    def set_permissions(
        self, client_id: str, roles: list[str] | None = None, directory_roles: list[str] | None = None
    ) -> None:
        """Replace an app's granted application permissions and/or its SP's directory roles."""
        body: dict[str, Any] = {}
        if roles is not None:
            body["roles"] = roles
        if directory_roles is not None:
            body["directory_roles"] = directory_roles
        self.control("POST", f"/apps/{client_id}/permissions", json=body)

    def delete_app(self, client_id: str) -> None:
        self.control("DELETE", f"/apps/{client_id}")

    def password_is_current(self, user: str, password: str) -> bool:
        """Whether `password` is the account's current password (`user`: object id or UPN)."""
        r = self.control("POST", "/password-check", json={"user": user, "password": password})
        return bool(r.json()["current"])

    def password_must_change(self, user: str) -> bool:
        """Whether the account's last password write asked for a change at the next sign-in
        (`forceChangePasswordNextSignIn`; Graph's default when omitted: true)."""
        r = self.control("POST", "/password-check", json={"user": user, "password": ""})
        return bool(r.json()["force_change_next_sign_in"])

    def update_settings(self, **values: Any) -> dict[str, Any]:
        return dict(self.control("PATCH", "/settings", json=values).json())


def graph_error(r: httpx.Response) -> dict[str, Any]:
    """The ``error`` object of a Graph error response, after checking the §6 envelope:
    ``innerError`` with a timezone-less ``date`` and the same request ids as the headers."""
    e = r.json()["error"]
    ie = e["innerError"]
    assert ie["request-id"] == r.headers["request-id"], "innerError.request-id differs from the header"
    assert ie["client-request-id"] == r.headers["client-request-id"], "client-request-id differs"
    assert len(ie["date"]) == 19 and not ie["date"].endswith("Z"), "innerError.date must have no timezone"
    return dict(e)


def app_client(
    srv: SimServer, roles: list[str], directory_roles: list[str] | None = None, **kw: Any
) -> httpx.Client:
    """A Graph client for a newly registered app with exactly these permissions and roles."""
    app = srv.add_app(roles, directory_roles, **kw)
    return srv.client(srv.token(app["client_id"], app["client_secret"]))

"""One tenant of a running `testing.SimServer`, as its fixture API hands it out.

It has the attributes Lockstep's directory form needs (``tenant_id``, ``client_id``,
``client_secret``, ``login_base_url``, ``graph_base_url``, ``ca_file``), like the server itself
has for its default tenant, and scopes the ``/_sim`` control API to its tenant
(``?tenant=<id>``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

    from m365sim.testing import SimServer


class SimTenant:
    """One tenant of a running SimServer (from ``/_sim/tenants``)."""

    def __init__(self, server: SimServer, info: dict[str, Any]) -> None:
        self.server = server
        self.tenant_id: str = info["tenant_id"]
        self.display_name: str = info["tenant_name"]
        self.initial_domain: str = info["initial_domain"]
        self.default_domain: str = info["default_domain"]
        self.domains: list[str] = list(info["domains"])
        self.seed: str = info["seed"]
        self.client_id: str = info["client_id"]
        self.client_secret: str = info["client_secret"]

    def __repr__(self) -> str:
        return f"SimTenant({self.tenant_id}, {self.initial_domain})"

    @property
    def login_base_url(self) -> str:
        return self.server.login_base_url

    @property
    def graph_base_url(self) -> str:
        return self.server.graph_base_url

    @property
    def ca_file(self) -> str:
        return self.server.ca_file

    @property
    def token_url(self) -> str:
        return f"{self.server.base_url}/{self.tenant_id}/oauth2/v2.0/token"

    @property
    def sim(self) -> Any:
        """The tenant's Simulator (thread mode; None in subprocess mode)."""
        return self.server.sim.tenants.get(self.tenant_id) if self.server.sim is not None else None

    def control(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """The ``/_sim`` control API acting on this tenant (``?tenant=<id>``)."""
        params = dict(kw.pop("params", None) or {})
        params["tenant"] = self.tenant_id
        return self.server.control(method, path, params=params, **kw)

    def token(self, client_id: str | None = None, client_secret: str | None = None) -> str:
        return self.server.token(
            client_id or self.client_id, client_secret or self.client_secret, self.tenant_id
        )

    def client(self, token: str | None = None, **kw: Any) -> httpx.Client:
        return self.server.client(token or self.token(), **kw)

    def add_app(
        self, roles: list[str], directory_roles: list[str] | None = None, **kw: Any
    ) -> dict[str, str]:
        """Register an app in this tenant; returns {client_id, client_secret, sp_id}."""
        body = {"roles": roles, "directory_roles": directory_roles or [], **kw}
        return dict(self.control("POST", "/apps", json=body).json())

    def request_log(self, since: int = 0) -> list[dict[str, Any]]:
        return list(self.control("GET", "/requests", params={"since": since}).json())

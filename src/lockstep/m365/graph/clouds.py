"""National clouds: where to sign in, where Graph lives, and which token scope to ask for."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

API_VERSION = "v1.0"


@dataclass(frozen=True, slots=True)
class Cloud:
    """One Microsoft cloud (or a custom emulator): login host, Graph root and token scope."""

    name: str
    login_base: str  # e.g. https://login.microsoftonline.com (no tenant, no trailing slash)
    graph_root: str  # e.g. https://graph.microsoft.com (no version)
    scope: str  # e.g. https://graph.microsoft.com/.default

    @property
    def graph_base(self) -> str:
        """Graph root plus the API version: what relative request paths are appended to."""
        return f"{self.graph_root}/{API_VERSION}"

    @property
    def is_microsoft(self) -> bool:
        """True for Microsoft's own login hosts (msal's instance discovery knows them)."""
        return self.name in CLOUDS

    def authority(self, tenant_id: str) -> str:
        return f"{self.login_base}/{tenant_id}"


def _cloud(name: str, login: str, graph: str) -> Cloud:
    return Cloud(name=name, login_base=login, graph_root=graph, scope=f"{graph}/.default")


CLOUDS: dict[str, Cloud] = {
    "global": _cloud("global", "https://login.microsoftonline.com", "https://graph.microsoft.com"),
    "us_gov": _cloud("us_gov", "https://login.microsoftonline.us", "https://graph.microsoft.us"),
    "us_dod": _cloud("us_dod", "https://login.microsoftonline.us", "https://dod-graph.microsoft.us"),
    "china": _cloud(
        "china", "https://login.partner.microsoftonline.cn", "https://microsoftgraph.chinacloudapi.cn"
    ),
}
"""Graph-facts §9.4. GCC ("moderate") uses `global`; `us_gov` is GCC High; `us_dod` is DoD (L5)."""


def _strip(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    return url.rstrip("/")


def custom_cloud(login_base_url: str, graph_base_url: str, *, scope: str | None = None) -> Cloud:
    """A cloud at custom URLs (m365sim). `graph_base_url` may end in /v1.0 or be the bare root.

    The token scope defaults to the global Graph scope, which is what an emulator of the global
    cloud expects as the token audience.
    """
    login = _strip(login_base_url)
    graph = _strip(graph_base_url)
    for suffix in ("/v1.0", "/beta"):
        if graph.endswith(suffix):
            graph = graph[: -len(suffix)]
    return Cloud(
        name="custom",
        login_base=login,
        graph_root=graph,
        scope=scope or CLOUDS["global"].scope,
    )


def resolve_cloud(
    cloud: str = "global",
    *,
    login_base_url: str | None = None,
    graph_base_url: str | None = None,
    scope: str | None = None,
) -> Cloud:
    """The named national cloud, or a custom one when base URLs are given."""
    if login_base_url or graph_base_url or cloud == "custom":
        if not (login_base_url and graph_base_url):
            raise ValueError("a custom cloud needs both login_base_url and graph_base_url")
        return custom_cloud(login_base_url, graph_base_url, scope=scope)
    try:
        return CLOUDS[cloud]
    except KeyError:
        raise ValueError(f"unknown cloud {cloud!r}; expected one of {', '.join(CLOUDS)} or custom") from None

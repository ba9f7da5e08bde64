"""Fixtures: m365sim over real HTTPS on loopback, and GraphClients connected to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from lockstep.m365.graph.auth import clear_app_cache
from lockstep.m365.graph.client import GraphClient
from lockstep.m365.graph.connection import CertificateCredential, DirectoryConnection
from lockstep.m365.graph.transport import RetryPolicy
from lockstep.m365.verification import USER_ADMINISTRATOR

testing = pytest.importorskip("m365sim.testing", reason="m365sim is not installed")
SimServer = testing.SimServer


@pytest.fixture(scope="module")
def sim() -> Iterator[Any]:
    """The demo tenant (throttling off; tests inject faults explicitly). One server per module."""
    with SimServer(seed="demo", throttling=False) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _clean_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "sim" in request.fixturenames:
        srv = request.getfixturevalue("sim")
        if srv.sim is not None and srv.sim.faults is not None:
            srv.sim.faults.clear()


def connection(
    srv: Any,
    *,
    client_id: str | None = None,
    client_secret: str | None = None,
    certificate: CertificateCredential | None = None,
    tenant_id: str | None = None,
    ca_file: str | None = "",
    token_scope: str | None = None,
) -> DirectoryConnection:
    return DirectoryConnection(
        tenant_id=tenant_id or srv.tenant_id,
        client_id=client_id or srv.client_id,
        client_secret=None if certificate else (client_secret or srv.client_secret),
        certificate=certificate,
        cloud="custom",
        login_base_url=srv.login_base_url,
        graph_base_url=srv.graph_base_url,
        ca_file=srv.ca_file if ca_file == "" else ca_file,
        token_scope=token_scope,
    )


@pytest.fixture
def make_client(sim: Any) -> Iterator[Callable[..., GraphClient]]:
    made: list[GraphClient] = []

    def make(**kw: Any) -> GraphClient:
        client_kw = {k: kw.pop(k) for k in ("retry", "sleep", "random", "rate_limiter", "timeout") if k in kw}
        client_kw.setdefault("retry", RetryPolicy(max_attempts=5, base_delay=0.05, max_delay=0.5))
        client = GraphClient(connection(sim, **kw), **client_kw)
        made.append(client)
        return client

    yield make
    for c in made:
        c.close()
    clear_app_cache()


@pytest.fixture
def graph(make_client: Callable[..., GraphClient]) -> GraphClient:
    return make_client()


# Permissions beyond the set-up guide's set, for tests of client methods Lockstep itself does
# not call (organization, service principals, licences, federation writes).
BROAD_PERMISSIONS = [
    "User.ReadWrite.All",
    "Group.ReadWrite.All",
    "Domain.ReadWrite.All",
    "Domain-InternalFederation.ReadWrite.All",
    "Organization.Read.All",
    "Application.Read.All",
    "RoleManagement.Read.Directory",
    "LicenseAssignment.ReadWrite.All",
]


@pytest.fixture
def broad_graph(sim: Any, make_client: Callable[..., GraphClient]) -> GraphClient:
    """A client for an app holding more than the guide's set (plus the User Administrator role)."""
    app = sim.add_app(roles=BROAD_PERMISSIONS, directory_roles=[USER_ADMINISTRATOR], display_name="Broad")
    return make_client(client_id=app["client_id"], client_secret=app["client_secret"])

"""One simulator per test session (thread mode); state is reset before every test."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from m365sim.testing import SimServer


@pytest.fixture(scope="session")
def server() -> Iterator[SimServer]:
    with SimServer(seed="demo", throttling=False) as srv:
        yield srv


@pytest.fixture(scope="session")
def demo_token(server: SimServer) -> str:
    return server.token()


@pytest.fixture
def sim_server(server: SimServer) -> SimServer:
    """The session server, reset to the demo seed with default settings."""
    from m365sim.state import Settings

    server.sim.settings = Settings()
    server.sim.settings.throttling_enabled = False
    from m365sim.app import optional_module

    faults = optional_module("faults")
    server.sim.faults = faults.create(server.sim) if faults is not None else None
    server.sim.delta_reset_pending.clear()
    server.sim.delta_age_offset_s = 0.0
    server.reset("demo")
    return server


# The emulator's own tests exercise every route, so they call Graph as a harness app holding
# broad permissions; Lockstep's demo app holds only what Lockstep's set-up guide asks for.
HARNESS_PERMISSIONS = [
    "Directory.ReadWrite.All",
    "User.ReadWrite.All",
    "Group.ReadWrite.All",
    "Domain.ReadWrite.All",
    "Domain-InternalFederation.ReadWrite.All",
    "Organization.Read.All",
    "RoleManagement.Read.Directory",
    "Application.Read.All",
    "LicenseAssignment.ReadWrite.All",
]


@pytest.fixture
def harness_token(sim_server: SimServer) -> str:
    from m365sim.state import USER_ADMIN

    app = sim_server.add_app(roles=HARNESS_PERMISSIONS, directory_roles=[USER_ADMIN], display_name="Harness")
    return sim_server.token(app["client_id"], app["client_secret"])


@pytest.fixture
def graph(sim_server: SimServer, harness_token: str) -> Iterator[httpx.Client]:
    with sim_server.client(harness_token) as c:
        yield c

"""Fixtures for the Microsoft 365 integration: m365sim over HTTPS and a connected directory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lockstep.directory.actors import Actor
from lockstep.m365.models import Directory
from lockstep.m365.services import directories
from m365sim.testing import SimServer


@pytest.fixture(scope="module")
def sim_server() -> Iterator[SimServer]:
    with SimServer(seed="demo", throttling=False) as server:
        yield server


@pytest.fixture
def sim(sim_server: SimServer, settings: Any) -> SimServer:
    """A fresh demo tenant for each test; Lockstep trusts the emulator's CA."""
    sim_server.reset("demo")
    settings.TRUSTED_CA_FILE = sim_server.ca_file
    return sim_server


def directory_fields(sim: SimServer, **overrides: Any) -> dict[str, Any]:
    return {
        "name": "Contoso 365",
        "tenant_id": sim.tenant_id,
        "client_id": sim.client_id,
        "credential_kind": "secret",
        "client_secret": sim.client_secret,
        "cloud": "custom",
        "login_base_url": sim.login_base_url,
        "graph_base_url": sim.graph_base_url,
        **overrides,
    }


@pytest.fixture
def directory(sim: SimServer, actor: Actor) -> Directory:
    created, _ = directories.add_directory(actor=actor, fields=directory_fields(sim))
    return created

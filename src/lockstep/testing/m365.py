"""A Lockstep directory pointed at an m365sim server, as the tests add it."""

from __future__ import annotations

from typing import Any


def directory_fields(sim: Any, **overrides: Any) -> dict[str, Any]:
    """`add_directory` fields for m365sim's demo app (custom endpoints on loopback)."""
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

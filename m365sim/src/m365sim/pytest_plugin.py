"""pytest plugin (auto-loaded through the ``pytest11`` entry point).

Fixture ``m365sim_server``: a session-wide :class:`m365sim.testing.SimServer` on the demo seed
(thread mode, throttling off). Call ``m365sim_server.reset()`` in tests that need a clean tenant.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import m365sim  # noqa: F401  (imported early on purpose, see m365sim/pyproject.toml)
from m365sim.testing import SimServer


@pytest.fixture(scope="session")
def m365sim_server() -> Iterator[SimServer]:
    with SimServer(seed="demo", throttling=False) as srv:
        yield srv

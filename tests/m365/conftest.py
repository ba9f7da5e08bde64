"""Fixtures for the Microsoft 365 integration: m365sim over HTTPS and a connected directory.

With replication lag switched on (`LOCKSTEP_TEST_SIM_LAG_SECONDS`, see tests/conftest.py), every
test that uses `directory` ends with a check that the lag did no harm (`lag_invariants`).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lockstep.directory.actors import Actor
from lockstep.m365.models import Directory
from lockstep.m365.services import directories
from lockstep.testing.m365 import directory_fields, lag_invariants, sim_lag_seconds
from m365sim.testing import SimServer


@pytest.fixture
def directory(sim: SimServer, actor: Actor) -> Iterator[Directory]:
    created, _ = directories.add_directory(actor=actor, fields=directory_fields(sim))
    yield created
    if sim_lag_seconds():
        problems = lag_invariants(sim)
        assert not problems, "replication lag did harm:\n" + "\n".join(problems)

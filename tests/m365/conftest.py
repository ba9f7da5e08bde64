"""Fixtures for the Microsoft 365 integration: m365sim over HTTPS and a connected directory."""

from __future__ import annotations

import pytest

from lockstep.directory.actors import Actor
from lockstep.m365.models import Directory
from lockstep.m365.services import directories
from lockstep.testing.m365 import directory_fields
from m365sim.testing import SimServer


@pytest.fixture
def directory(sim: SimServer, actor: Actor) -> Directory:
    created, _ = directories.add_directory(actor=actor, fields=directory_fields(sim))
    return created

"""Fixtures for the Microsoft 365 Admin Portal pages: signed-in clients for each role."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.test import Client

from lockstep.directory.models import AdminRole, Organization
from lockstep.directory.services import admins
from lockstep.testing.sessions import signed_in_client as signed_in

PASSWORD = "Correct-Horse-Battery-9"


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def read_only_client(org: Organization) -> Client:
    auditor = admins.create_admin(
        organization=org, email="auditor@contoso.com", password=PASSWORD, role=AdminRole.READ_ONLY
    )
    return signed_in(auditor)

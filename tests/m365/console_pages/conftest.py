"""Fixtures for the Microsoft 365 Admin Portal pages: signed-in clients for each role."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.test import Client

from lockstep.directory.models import Administrator, AdminRole, Organization
from lockstep.directory.services import admins

PASSWORD = "Correct-Horse-Battery-9"


def signed_in(admin: Administrator) -> Client:
    client = Client()
    client.force_login(admin)
    session = client.session
    session["mfa_passed"] = True
    session.save()
    return client


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

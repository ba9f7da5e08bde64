"""Admin Portal fixtures: clients for each role and a second organization."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from lockstep.directory.actors import Actor
from lockstep.directory.models import Administrator, AdminRole, Organization, User
from lockstep.directory.services import admins, users
from lockstep.testing.sessions import signed_in_client as signed_in

ADMIN_PASSWORD = "Correct-Horse-Battery-9"  # as in tests/conftest.py


@pytest.fixture(autouse=True)
def _fresh_throttle() -> Iterator[None]:
    """Sign-in throttle counters live in the cache; every test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def read_only_admin(org: Organization) -> Administrator:
    return admins.create_admin(
        organization=org, email="auditor@contoso.com", password=ADMIN_PASSWORD, role=AdminRole.READ_ONLY
    )


@pytest.fixture
def read_only_client(read_only_admin: Administrator) -> Client:
    return signed_in(read_only_admin)


@pytest.fixture
def plain_admin(org: Organization) -> Administrator:
    return admins.create_admin(
        organization=org, email="helpdesk@contoso.com", password=ADMIN_PASSWORD, role=AdminRole.ADMINISTRATOR
    )


@pytest.fixture
def make_user(actor: Actor) -> Callable[..., User]:
    """make_user("adele", job_title=...) creates a user in `org` through the service."""

    def make(username: str = "adele", *, by: Actor | None = None, **fields: Any) -> User:
        base = {
            "username": username,
            "email": f"{username}@contoso.com",
            "first_name": username.capitalize(),
            "last_name": "Vance",
        }
        return users.create_user(actor=by or actor, fields={**base, **fields})

    return make


@pytest.fixture
def signed_in_client() -> Callable[[Administrator], Client]:
    return signed_in

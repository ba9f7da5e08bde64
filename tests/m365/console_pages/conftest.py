"""Fixtures for the Microsoft 365 Admin Portal pages: signed-in clients for each role."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.test import Client

from lockstep.directory.actors import Actor
from lockstep.directory.models import AdminRole, Organization, User, UserState
from lockstep.directory.services import admins, users
from lockstep.testing.sessions import signed_in_client as signed_in

PASSWORD = "Correct-Horse-Battery-9"


def active_megan(actor: Actor, **fields: str) -> User:
    """The active user Megan Bowen (megan@contoso.com), with `fields` changed or added."""
    return users.create_user(
        actor=actor,
        fields={
            "username": "megan",
            "email": "megan@contoso.com",
            "first_name": "Megan",
            "last_name": "Bowen",
            **fields,
        },
        state=UserState.ACTIVE,
    )


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

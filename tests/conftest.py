"""Shared fixtures: an organization with an owner, actors, API keys, clients."""

from __future__ import annotations

import pytest
from django.test import Client

from lockstep.directory.actors import Actor
from lockstep.directory.models import Administrator, AdminRole, Organization
from lockstep.directory.services import admins, api_keys, organizations

ADMIN_PASSWORD = "Correct-Horse-Battery-9"


@pytest.fixture
def org(db: None) -> Organization:
    return organizations.create_organization(name="Contoso Ltd")


@pytest.fixture
def other_org(db: None) -> Organization:
    return organizations.create_organization(name="Fabrikam Inc")


@pytest.fixture
def owner(org: Organization) -> Administrator:
    return admins.create_admin(
        organization=org, email="owner@contoso.com", password=ADMIN_PASSWORD, role=AdminRole.OWNER
    )


@pytest.fixture
def actor(owner: Administrator) -> Actor:
    return Actor.for_admin(owner)


@pytest.fixture
def read_only_actor(org: Organization) -> Actor:
    admin = admins.create_admin(
        organization=org, email="auditor@contoso.com", password=ADMIN_PASSWORD, role=AdminRole.READ_ONLY
    )
    return Actor.for_admin(admin)


@pytest.fixture
def api_key_secret(actor: Actor) -> str:
    _key, secret = api_keys.create_api_key(actor=actor, name="tests")
    return secret


@pytest.fixture
def api(api_key_secret: str) -> Client:
    """A Django test client that sends the organization's API key."""
    return Client(headers={"Authorization": f"Bearer {api_key_secret}"})


@pytest.fixture
def admin_client(owner: Administrator) -> Client:
    client = Client()
    client.force_login(owner)
    session = client.session
    session["mfa_passed"] = True
    session.save()
    return client

"""Shared fixtures: an organization with an owner, actors, API keys, clients."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from lockstep.directory.actors import Actor
from lockstep.directory.models import Administrator, AdminRole, Organization
from lockstep.directory.services import admins, api_keys, organizations
from lockstep.testing.sessions import signed_in_client

# The tests point directories at m365sim (custom endpoints), in this process and in the
# `lockstep` subprocesses they start; a deployment has them off unless it says otherwise.
os.environ.setdefault("LOCKSTEP_ALLOW_CUSTOM_ENDPOINTS", "true")
# Under a loaded CI machine m365sim may take longer than the 3 s a web request waits for a
# verification; the tests of that wait (tests/m365/test_verify_background.py) set their own.
# The environment reaches `lockstep` subprocesses; `verification_waits` below this process.
os.environ.setdefault("LOCKSTEP_VERIFY_WAIT_SECONDS", "60")

# Every password the tests use is learned, and looked for in the database and the logs at the end.
pytest_plugins = ["lockstep.testing.plaintext_guard"]

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
    return signed_in_client(owner)


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Debian's Chromium through Playwright; fails loudly when it cannot start."""
    from lockstep.testing.browser import BrowserUnavailable, chromium

    # Playwright's sync API runs an event loop in this thread; ORM calls in the test stay sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    try:
        with chromium() as launched:
            yield launched
    except BrowserUnavailable as absent:
        pytest.skip(str(absent))


@pytest.fixture(scope="module")
def sim_server() -> Iterator[Any]:
    """m365sim's demo tenant over HTTPS on loopback, one per test module (with the run's
    replication lag, `LOCKSTEP_TEST_SIM_LAG_SECONDS`)."""
    from lockstep.testing.m365 import sim_lag_seconds
    from m365sim.testing import SimServer

    lag = sim_lag_seconds()
    settings = {"replication_lag_seconds": lag} if lag else None
    with SimServer(seed="demo", throttling=False, settings=settings) as server:
        yield server


@pytest.fixture
def sim(sim_server: Any, settings: Any) -> Any:
    """A fresh demo tenant for each test; Lockstep trusts the emulator's CA."""
    sim_server.reset("demo")
    settings.TRUSTED_CA_FILE = sim_server.ca_file
    return sim_server


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[Any]:
    """A real SMTP server (aiosmtpd) on loopback for the whole run."""
    from lockstep.testing.smtp import smtp_server as start

    with start() as server:
        yield server


@pytest.fixture
def mailbox(smtp_server: Any, settings: Any) -> Any:
    """Lockstep sends to the test SMTP server; the mailbox starts empty for each test."""
    settings.EMAIL_HOST = smtp_server.host
    settings.EMAIL_PORT = smtp_server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    smtp_server.mailbox.clear()
    return smtp_server.mailbox


@pytest.fixture(autouse=True, scope="session")
def verification_waits() -> None:
    """Django's settings were read before this file set the environment: set the wait there too."""
    from django.conf import settings

    settings.M365_VERIFY_WAIT_SECONDS = float(os.environ["LOCKSTEP_VERIFY_WAIT_SECONDS"])

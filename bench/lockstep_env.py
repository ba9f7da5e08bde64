"""Shared set-up for Lockstep benchmarks: Django on a fresh SQLite file, an organization,
and a directory connected to an m365sim server."""

from __future__ import annotations

import os
import platform
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def setup_django(database_url: str = "") -> Path:
    data_dir = Path(tempfile.mkdtemp(prefix="lockstep-bench-"))
    os.environ["LOCKSTEP_DATA_DIR"] = str(data_dir)
    os.environ["LOCKSTEP_DATABASE_URL"] = database_url
    os.environ.setdefault("LOCKSTEP_LOG_LEVEL", "WARNING")
    os.environ.setdefault("LOCKSTEP_ALLOW_CUSTOM_ENDPOINTS", "true")  # the benches' tenant is m365sim
    os.environ["DJANGO_SETTINGS_MODULE"] = "lockstep.settings"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    return data_dir


def organization_and_actor() -> tuple[Any, Any]:
    from lockstep.directory.actors import Actor
    from lockstep.directory.services import organizations

    organization = organizations.create_organization(name="Bench Org")
    return organization, Actor.system(organization.pk, "bench")


def bench_owner(organization: Any) -> Any:
    """The organization's owner the benchmarks sign in as."""
    from lockstep.directory.models import AdminRole
    from lockstep.directory.services import admins

    return admins.create_admin(
        organization=organization,
        email="bench@contoso.com",
        password="Quartz-Lantern-Ripple-58",
        role=AdminRole.OWNER,
    )


def portal_client(owner: Any) -> Any:
    """An in-process client signed in to the Admin Portal as `owner`, past the MFA step."""
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(owner)
    session = client.session
    session["mfa_passed"] = True
    session.save()
    return client


def connect_directory(actor: Any, sim: Any) -> Any:
    from django.conf import settings

    from lockstep.m365.services import directories

    settings.TRUSTED_CA_FILE = sim.ca_file
    directory, _ = directories.add_directory(
        actor=actor,
        fields={
            "name": "Bench tenant",
            "tenant_id": sim.tenant_id,
            "client_id": sim.client_id,
            "credential_kind": "secret",
            "client_secret": sim.client_secret,
            "cloud": "custom",
            "login_base_url": sim.login_base_url,
            "graph_base_url": sim.graph_base_url,
        },
    )
    return directory


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")

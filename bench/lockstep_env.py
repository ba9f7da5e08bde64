"""Shared set-up for Lockstep benchmarks: Django on a fresh SQLite file, an organization,
and a directory connected to an m365sim server."""

from __future__ import annotations

import os
import platform
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def setup_django(database_url: str = "", data_dir: Path | None = None, migrate: bool = True) -> Path:
    """Django on `database_url` (empty: SQLite in the data directory), its data directory
    `data_dir` (default: a new one), migrated unless `migrate` is False (a child process
    joining its parent's database). Returns the data directory."""
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="lockstep-bench-"))
    os.environ["LOCKSTEP_DATA_DIR"] = str(data_dir)
    os.environ["LOCKSTEP_DATABASE_URL"] = database_url
    os.environ.setdefault("LOCKSTEP_LOG_LEVEL", "WARNING")
    # the benchmarks' directories point at m365sim, a custom endpoint
    os.environ.setdefault("LOCKSTEP_ALLOW_CUSTOM_ENDPOINTS", "true")
    os.environ["DJANGO_SETTINGS_MODULE"] = "lockstep.settings"
    import django
    from django.core.management import call_command

    django.setup()
    if migrate:
        call_command("migrate", verbosity=0)
    return data_dir


POSTGRES = "postgresql://postgres@127.0.0.1:5432/"


def fresh_postgres(name: str) -> str:
    """A new, empty PostgreSQL database `name` at 127.0.0.1 (dropped first if it exists; never
    `test`); its URL, or "" when PostgreSQL is not reachable (the caller falls back to SQLite).
    A reachable server that refuses the drop or the create stops the benchmark."""
    if name == "test":
        raise ValueError("the database named test belongs to the test runs")
    host = ["-h", "127.0.0.1", "-U", "postgres"]
    try:
        if subprocess.run(["pg_isready", *host], capture_output=True, timeout=10).returncode != 0:
            return ""
    except (OSError, subprocess.SubprocessError):
        return ""
    for command in (["dropdb", *host, "--if-exists", name], ["createdb", *host, name]):
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)}: {done.stderr.strip()}")
    return POSTGRES + name


def database_words(database_url: str, sqlite_asked: bool = False) -> str:
    """The database a benchmark ran on, for its results file."""
    if database_url:
        return "PostgreSQL"
    return "SQLite (--sqlite)" if sqlite_asked else "SQLite (PostgreSQL was not reachable)"


def throttle_counts(log: list[dict[str, Any]]) -> tuple[int, int]:
    """(Graph requests, of which throttled) in an m365sim request log: the requests inside a
    `$batch` count one by one, the outer `POST /$batch` and token requests not at all."""
    graph = [r for r in log if "/oauth2/" not in r["path"] and r["path"].rstrip("/") != "/$batch"]
    return len(graph), sum(1 for r in graph if int(r["status"]) == 429)


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


def connect_directory(actor: Any, sim: Any, name: str = "Bench tenant") -> Any:
    """A directory of `actor`'s organization connected to `sim`: a SimServer (its default
    tenant) or one SimTenant of it (same attributes)."""
    from django.conf import settings

    from lockstep.m365.services import directories

    settings.TRUSTED_CA_FILE = sim.ca_file
    directory, _ = directories.add_directory(
        actor=actor,
        fields={
            "name": name,
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


def connect_directories(actors: Any, sim: Any, count: int) -> list[tuple[Any, Any]]:
    """`count` directories, each connected to its own tenant of one SimServer `sim`.

    Tenants are added (same seed and size as the server's) until `sim` serves `count`.
    `actors` is one Actor (every directory in its organization, named "Bench tenant <i>") or a
    list of `count` Actors (directory i in actors[i]'s organization). Returns
    [(directory, SimTenant)] in the server's tenant order, the default tenant first.
    """
    tenants = sim.tenants
    while len(tenants) < count:
        tenants.append(sim.add_tenant())
    owners = list(actors) if isinstance(actors, list | tuple) else [actors] * count
    return [
        (connect_directory(owners[i], tenant, name=f"Bench tenant {i + 1}"), tenant)
        for i, tenant in enumerate(tenants[:count])
    ]


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


def bulk_users(organization: Any, prefix: str, domain: str, count: int) -> list[int]:
    """`count` Lockstep users `<prefix>NNNNNN@<domain>` made in bulk (the create service is
    measured elsewhere); their ids, in order."""
    from lockstep.directory.models import User

    User.objects.bulk_create(
        [
            User(
                organization=organization,
                username=f"{prefix}{i:06d}",
                email=f"{prefix}{i:06d}@{domain}",
                first_name="Bench",
                last_name=f"User {i}",
                display_name=f"Bench {prefix} {i}",
                immutable_id=f"{prefix}immutable{i:08d}",
            )
            for i in range(count)
        ],
        batch_size=1000,
    )
    return list(
        User.objects.filter(organization=organization, username__startswith=prefix)
        .order_by("username")
        .values_list("id", flat=True)
    )


def accounts_with_prefix(sim_tenant: Any, prefix: str) -> int:
    """How many accounts of an in-process m365sim tenant have a UPN starting with `prefix`."""
    return sum(1 for upn in list(sim_tenant.sim.tenant.by_upn) if upn.startswith(prefix))


def start_worker(name: str = "bench") -> tuple[Any, Any]:
    """The sync loop as `lockstep worker` runs it (a thread; whatever `SyncLoop` does with
    several directories); returns (loop, stop event)."""
    import threading

    from lockstep.m365 import sync_loop

    stop = threading.Event()
    loop = sync_loop.SyncLoop(worker=name, stop=stop)
    loop.start()
    return loop, stop


def stop_worker(loop: Any, stop: Any) -> None:
    from lockstep.m365 import wakeup

    stop.set()
    wakeup.notify()
    loop.join(timeout=30)

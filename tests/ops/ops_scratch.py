"""A scratch Lockstep installation for tests that start `lockstep` in subprocesses.

Its own data dir and database: a SQLite file, or, when the suite runs on PostgreSQL, a fresh
database on the same server (dropped afterwards), so subprocesses talk to a real database the
test can also read.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
# This checkout's code first, whichever checkout the installed `lockstep` script was installed from.
SOURCES = (str(ROOT / "src"), str(ROOT / "m365sim" / "src"))
LOCKSTEP = str(Path(sys.executable).with_name("lockstep"))


def postgres_url() -> str | None:
    url = os.environ.get("LOCKSTEP_DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else None


@dataclass
class Scratch:
    data_dir: Path
    env: dict[str, str]
    database_url: str | None  # None: SQLite in data_dir

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self.database_url is None:
            with sqlite3.connect(self.data_dir / "lockstep.sqlite3", timeout=10) as connection:
                return list(connection.execute(sql.replace("%s", "?"), params).fetchall())
        with psycopg.connect(self.database_url, autocommit=True) as connection:
            return list(connection.execute(sql, params).fetchall())  # type: ignore[arg-type]

    def lockstep(
        self, *args: str, input: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [LOCKSTEP, *args], env=self.env, input=input, capture_output=True, text=True, timeout=timeout
        )

    def python(self, code: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run code after django.setup() in a subprocess of this installation."""
        prologue = (
            "import django, os\nos.environ['DJANGO_SETTINGS_MODULE']='lockstep.settings'\ndjango.setup()\n"
        )
        return subprocess.run(
            [sys.executable, "-c", prologue + code],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def base_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCKSTEP_", "DJANGO_"))}
    env.update(
        LOCKSTEP_DATA_DIR=str(data_dir),
        LOCKSTEP_DATABASE_URL="",
        LOCKSTEP_ALLOW_CUSTOM_ENDPOINTS="true",  # the tests' directories point at m365sim
        LOCKSTEP_VERIFY_WAIT_SECONDS="60",  # a loaded CI machine: see tests/conftest.py
        PYTHONPATH=os.pathsep.join(filter(None, [*SOURCES, str(HERE), env.get("PYTHONPATH", "")])),
        PYTHONUNBUFFERED="1",
    )
    return env


@contextmanager
def scratch_installation(data_dir: Path) -> Iterator[Scratch]:
    env = base_env(data_dir)
    server = postgres_url()
    if server is None:
        yield Scratch(data_dir=data_dir, env=env, database_url=None)
        return
    name = f"lockstep_scratch_{uuid.uuid4().hex[:12]}"
    parts = urlsplit(server)
    url = urlunsplit(parts._replace(path=f"/{name}"))
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    env["LOCKSTEP_DATABASE_URL"] = url
    try:
        yield Scratch(data_dir=data_dir, env=env, database_url=url)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])

"""`make test`: lint, then the whole suite on SQLite and, when reachable, on PostgreSQL, then the
Microsoft 365 tests (tests/m365) once more on SQLite against an m365sim with replication lag.

The lag run (`LOCKSTEP_TEST_SIM_LAG_SECONDS`, `LAG_SECONDS` here) shows that Lockstep survives
Entra's eventual consistency (graph-facts §12.2): every test that uses a directory also checks
that no binding was parked and no account duplicated. Tests marked `lag_sensitive` (exact request
counts or timings) are left out of it. Extra arguments go to every pytest run.

The PostgreSQL run goes alongside the two SQLite runs (`LOCKSTEP_TEST_JOBS=2`, the default; 1
runs them one after the other): much of the suite waits on sockets, browsers and replication lag
rather than the CPU. Its output is kept in a file and printed when it ends, so the log reads
run by run. Each run has its own data folder.

Prints which databases it ran on and how long each step took. Exits non-zero if any step fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlparse

BIN = os.path.dirname(sys.executable)


LAG_SECONDS = "2"


def run(title: str, command: list[str], env: dict[str, str] | None = None) -> bool:
    print(f"\n=== {title}: {' '.join(command)}", flush=True)
    started = time.monotonic()
    ok = subprocess.run(command, env={**os.environ, **(env or {})}).returncode == 0
    print(f"=== {title}: {'passed' if ok else 'FAILED'} in {time.monotonic() - started:.0f} s", flush=True)
    return ok


class Background:
    """A run started now whose output is printed when `finish` is called."""

    def __init__(self, title: str, command: list[str], env: dict[str, str]) -> None:
        self.title = title
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed in finish)
        self.started = time.monotonic()
        print(f"\n=== {title} (alongside, output below when it ends): {' '.join(command)}", flush=True)
        self.process = subprocess.Popen(
            command, env={**os.environ, **env}, stdout=self.log, stderr=subprocess.STDOUT, text=True
        )

    def finish(self) -> bool:
        ok = self.process.wait() == 0
        elapsed = time.monotonic() - self.started
        self.log.seek(0)
        print(f"\n=== {self.title}: output", flush=True)
        for line in self.log:
            sys.stdout.write(line)
        self.log.close()
        print(f"=== {self.title}: {'passed' if ok else 'FAILED'} in {elapsed:.0f} s", flush=True)
        return ok


def parallel_jobs() -> int:
    return 1 if os.environ.get("LOCKSTEP_TEST_JOBS", "2").strip() == "1" else 2


# command on PATH -> the Debian package that brings it (the browser tests and SAML need them)
SYSTEM_PACKAGES = {"chromium": "chromium", "chromedriver": "chromium-driver", "xmlsec1": "xmlsec1"}


def ensure_system_packages() -> bool:
    """Install the missing Debian packages when this process may (root with apt-get), as
    .ci/run does; otherwise say the one command to run, so the suite stops at once instead of
    failing its browser tests minutes in."""
    missing = [package for command, package in SYSTEM_PACKAGES.items() if shutil.which(command) is None]
    if not missing:
        return True
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing, "fonts-liberation"]
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"Installing system packages: {' '.join(missing)}", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
        subprocess.run(install, env=env, check=False)
        missing = [package for command, package in SYSTEM_PACKAGES.items() if shutil.which(command) is None]
        if not missing:
            return True
    print(f"Missing system packages: {' '.join(missing)}. Install them, then run make test again:")
    print(f"  sudo apt-get install -y --no-install-recommends {' '.join(missing)} fonts-liberation")
    return False


def postgres_required() -> bool:
    """Under CI (`CI=true`) the PostgreSQL run is part of the contract, not an extra."""
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def postgres_reachable(url: str) -> bool:
    import psycopg

    parsed = urlparse(url)
    try:
        with psycopg.connect(url, connect_timeout=3) as connection:
            connection.execute("select 1")
        return True
    except psycopg.Error as problem:
        print(f"PostgreSQL at {parsed.hostname}:{parsed.port or 5432} not reachable: {problem}".strip())
        return False


def main() -> int:
    if not ensure_system_packages():
        return 1
    results: list[tuple[str, bool]] = []
    lint = [
        [f"{BIN}/ruff", "check", "src", "m365sim", "tests", "bench", "tools"],
        [f"{BIN}/ruff", "format", "--check", "src", "m365sim", "tests", "bench", "tools"],
        [f"{BIN}/mypy", "src/lockstep", "m365sim/src/m365sim"],
    ]
    results.append(("lint (ruff, mypy)", all([run("lint", command) for command in lint])))

    pytest = [f"{BIN}/python", "-m", "pytest", *sys.argv[1:]]
    with (
        tempfile.TemporaryDirectory(prefix="lockstep-test-") as data_dir,
        tempfile.TemporaryDirectory(prefix="lockstep-test-pg-") as pg_data_dir,
    ):
        pg_url = os.environ.get("LOCKSTEP_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
        pg_env = {"LOCKSTEP_DATA_DIR": pg_data_dir, "LOCKSTEP_DATABASE_URL": pg_url}
        postgres = bool(pg_url) and postgres_reachable(pg_url)
        alongside = (
            Background("tests on PostgreSQL", pytest, pg_env) if postgres and parallel_jobs() > 1 else None
        )

        sqlite_env = {"LOCKSTEP_DATA_DIR": data_dir, "LOCKSTEP_DATABASE_URL": ""}
        results.append(("tests on SQLite", run("tests on SQLite", pytest, sqlite_env)))
        lag_env = {**sqlite_env, "LOCKSTEP_TEST_SIM_LAG_SECONDS": LAG_SECONDS}
        lagged = [f"{BIN}/python", "-m", "pytest", "tests/m365", "-m", "not lag_sensitive", *sys.argv[1:]]
        title = f"tests/m365 on SQLite with a {LAG_SECONDS} s replication lag"
        results.append((title, run(title, lagged, lag_env)))

        if alongside is not None:
            results.append(("tests on PostgreSQL", alongside.finish()))
        elif postgres:
            results.append(("tests on PostgreSQL", run("tests on PostgreSQL", pytest, pg_env)))
        elif postgres_required():
            print("FAIL: CI=true and PostgreSQL is not reachable: CI must run the suite on PostgreSQL too.")
            results.append(("tests on PostgreSQL (not reachable)", False))
        else:
            print("Skipping the PostgreSQL run: set LOCKSTEP_TEST_POSTGRES_URL to a reachable server.")

    print("\n=== summary")
    for title, ok in results:
        print(f"{'PASS' if ok else 'FAIL'}  {title}")
    databases = [
        t.removeprefix("tests on ") for t, _ in results if t.startswith("tests on ") and "(" not in t
    ]
    print(f"Databases used: {', '.join(databases)}")
    return 0 if all(ok for _, ok in results) else 1


if __name__ == "__main__":
    sys.exit(main())

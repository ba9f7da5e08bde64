"""Every `lockstep` command as a person runs it: a real process, its output, exit status and effect.

Elsewhere: `run`, `demo` and `check`'s failures in test_cli.py; the `m365` commands in
tests/m365/test_cli_subprocess.py; a worker killed mid-task in tests/ops/test_worker_process.py.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lockstep.config import settings_markdown
from lockstep.m365.permissions import permissions_table

OPS_TESTS = str(Path(__file__).resolve().parent / "ops")
if OPS_TESTS not in sys.path:
    sys.path.insert(0, OPS_TESTS)

from ops_scratch import LOCKSTEP, Scratch, scratch_installation  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
GOOD_PASSWORD = "Tr1cky-Kangaroo-Lamp"
UNREACHABLE = "postgresql://nobody@127.0.0.1:1/nothing"


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Scratch]:
    with scratch_installation(tmp_path / "data") as installation:
        yield installation


@pytest.fixture
def migrated(scratch: Scratch) -> Scratch:
    done = scratch.lockstep("migrate")
    assert done.returncode == 0, done.stderr
    return scratch


def subcommands(help_text: str) -> set[str]:
    """The subcommand names argparse lists in `{a,b,c}` or under the COMMAND heading."""
    section = help_text.split("positional arguments:", 1)[1].split("options:", 1)[0]
    return set(re.findall(r"^    (\S+)", section, re.M))


def test_the_readme_documents_every_command_and_only_those(scratch: Scratch) -> None:
    top = scratch.lockstep("--help")
    assert top.returncode == 0, top.stderr
    table = (ROOT / "README.md").read_text().split("## Command line", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([^`]+)` \|", table, re.M))
    for group in ("m365", "sso"):  # a group's row lists its subcommands: `m365 verify / import / ...`
        row = next(name for name in documented if name.startswith(f"{group} "))
        documented.remove(row)
        documented.add(group)
        listed = scratch.lockstep(group, "--help")
        assert listed.returncode == 0, listed.stderr
        assert set(row.removeprefix(f"{group} ").split(" / ")) == subcommands(listed.stdout), group
    assert documented == subcommands(top.stdout)


def test_migrate_creates_the_tables_then_has_nothing_to_do(scratch: Scratch) -> None:
    first = scratch.lockstep("migrate")
    assert first.returncode == 0, first.stderr
    applied = re.fullmatch(r"Database is up to date \((\d+) migrations applied now\)\.\n", first.stdout)
    assert applied and int(applied[1]) > 10, first.stdout
    assert scratch.query("SELECT COUNT(*) FROM directory_administrator") == [(0,)]
    again = scratch.lockstep("migrate")
    assert again.returncode == 0
    assert again.stdout == "Database is up to date (0 migrations applied now).\n"


def test_migrate_names_an_unreachable_database(scratch: Scratch) -> None:
    scratch.env["LOCKSTEP_DATABASE_URL"] = UNREACHABLE
    done = scratch.lockstep("migrate")
    assert done.returncode == 1
    assert done.stderr.startswith("error: database: database unreachable: "), done.stderr
    assert done.stderr.rstrip().endswith("(check LOCKSTEP_DATABASE_URL).")
    assert "Traceback" not in done.stderr


def test_createadmin_creates_an_owner_and_names_each_bad_field(migrated: Scratch) -> None:
    created = migrated.lockstep(
        "createadmin", "--email", "Boss@Fabrikam.com", "--organization", "Fabrikam", "--password-stdin",
        input=GOOD_PASSWORD + "\n",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert (
        created.stdout == "Created organization 'Fabrikam'.\nCreated owner boss@fabrikam.com in 'Fabrikam'.\n"
    )
    assert migrated.query(
        "SELECT a.email, a.role, o.name FROM directory_administrator a "
        "JOIN directory_organization o ON o.id = a.organization_id"
    ) == [("boss@fabrikam.com", "owner", "Fabrikam")]

    refused = {
        "error: role: must be one of: owner, administrator, read_only (got 'king').": ["--role", "king"],
        "error: email: Must be an email address.": ["--email", "not-an-email"],
        "error: email: required; pass --email.": [],
    }
    for message, args in refused.items():
        options = ["--email", "ro@fabrikam.com", "--organization", "Other", *args]
        if not args:
            options = ["--organization", "Other"]
        done = migrated.lockstep("createadmin", *options, "--password-stdin", input=GOOD_PASSWORD + "\n")
        assert (done.returncode, done.stderr.strip()) == (1, message), done.stderr
    weak = migrated.lockstep(
        "createadmin",
        "--email",
        "a@fabrikam.com",
        "--organization",
        "Other",
        "--password-stdin",
        input="short\n",
    )
    assert weak.returncode == 1 and weak.stderr.startswith("error: password: "), weak.stderr
    # nothing half-written: no second administrator, no organization "Other"
    assert migrated.query("SELECT COUNT(*) FROM directory_administrator") == [(1,)]
    assert migrated.query("SELECT name FROM directory_organization") == [("Fabrikam",)]


def test_createadmin_on_an_unmigrated_database_says_to_migrate(scratch: Scratch) -> None:
    done = scratch.lockstep(
        "createadmin", "--email", "a@fabrikam.com", "--organization", "Fabrikam", "--password-stdin",
        input=GOOD_PASSWORD + "\n",
    )  # fmt: skip
    assert done.returncode == 1
    assert re.fullmatch(
        r"error: database: \d+ migrations are not applied; run `lockstep migrate`\.\n", done.stderr
    ), done.stderr


def test_the_two_tables_print_what_the_docs_embed(scratch: Scratch) -> None:
    settings_table = scratch.lockstep("settings-table")
    assert settings_table.returncode == 0
    assert settings_table.stdout == settings_markdown() + "\n"
    permissions = scratch.lockstep("permissions-table")
    assert permissions.returncode == 0
    assert permissions.stdout == permissions_table().rstrip("\n") + "\n"
    assert permissions.stdout.strip() in (ROOT / "docs" / "m365-setup.md").read_text()
    assert not list(scratch.data_dir.glob("*.sqlite3"))  # neither touches the database


def test_demo_names_a_bad_port_before_starting_anything(scratch: Scratch, tmp_path: Path) -> None:
    demo_dir = tmp_path / "demo"
    done = scratch.lockstep("demo", "--data-dir", str(demo_dir), "--m365sim-port", "0")
    assert done.returncode == 2
    assert "argument --m365sim-port: must be greater than zero" in done.stderr
    assert not demo_dir.exists()


def test_an_unknown_option_or_command_is_named(scratch: Scratch) -> None:
    option = scratch.lockstep("settings-table", "--wide")
    assert option.returncode == 2 and "unrecognized arguments: --wide" in option.stderr
    command = scratch.lockstep("serve")
    assert command.returncode == 2 and "argument COMMAND: invalid choice: 'serve'" in command.stderr


# --- check ---------------------------------------------------------------------------------------


def listing(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def test_check_on_an_empty_data_dir_creates_nothing_and_says_what_is_missing(
    scratch: Scratch, tmp_path: Path
) -> None:
    scratch.data_dir.mkdir()
    before = listing(tmp_path)
    done = scratch.lockstep("check")
    assert listing(tmp_path) == before  # no SQLite file, key, static folder or log
    assert done.returncode == 1
    if scratch.database_url is None:
        database = scratch.data_dir.resolve() / "lockstep.sqlite3"
        assert f"FAIL database: sqlite3: {database} does not exist yet\n     fix: run `lockstep migrate`" in (
            done.stdout
        )
        assert "FAIL migrations: not checked: the database does not exist yet" in done.stdout
    else:  # the PostgreSQL database exists (the scratch installation made it), empty
        assert "OK   database: postgresql reachable" in done.stdout
        assert re.search(
            r"^FAIL migrations: \d+ unapplied .*\n     fix: run `lockstep migrate`", done.stdout, re.M
        )
    assert f"OK   secret key: not generated yet: `lockstep run` writes {scratch.data_dir.resolve()}" in (
        done.stdout
    )
    assert done.stdout.rstrip().endswith("1 check failed." if scratch.database_url else "2 checks failed.")

    missing = tmp_path / "never-created"
    scratch.env["LOCKSTEP_DATA_DIR"] = str(missing)
    done = scratch.lockstep("check")
    assert done.returncode == 1 and not missing.exists()
    assert f"OK   data dir: {missing} does not exist yet; `lockstep run` creates it" in done.stdout


def test_check_reads_the_database_lockstep_run_would_use(migrated: Scratch, tmp_path: Path) -> None:
    if migrated.database_url is not None:
        pytest.skip("the SQLite file of LOCKSTEP_DATA_DIR is what this shows")
    other = tmp_path / "elsewhere.sqlite3"
    migrated.env["LOCKSTEP_DATABASE_URL"] = f"sqlite:///{other}"
    elsewhere = migrated.lockstep("check")
    assert f"FAIL database: sqlite3: {other} does not exist yet" in elsewhere.stdout
    assert not other.exists()
    del migrated.env["LOCKSTEP_DATABASE_URL"]
    here = migrated.lockstep("check")
    assert "OK   database: sqlite3 reachable" in here.stdout
    assert "OK   migrations: all applied" in here.stdout


# --- worker --------------------------------------------------------------------------------------


def test_worker_says_it_started_and_stops_cleanly_on_sigterm(migrated: Scratch) -> None:
    worker = subprocess.Popen(
        [LOCKSTEP, "worker", "--interval", "0.2", "--worker-id", "cli-test-1"],
        env=migrated.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout is not None
        line = worker.stdout.readline()
        assert line == "Worker cli-test-1 started (queues: *). Stop with Ctrl+C or SIGTERM.\n", line
        deadline = time.monotonic() + 15
        while not migrated.query("SELECT 1 FROM ops_workerheartbeat WHERE worker_id = 'cli-test-1'"):
            assert time.monotonic() < deadline, "no heartbeat"
            time.sleep(0.1)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=10) == 0
    finally:
        worker.kill()
        worker.communicate(timeout=5)
    assert migrated.query("SELECT 1 FROM ops_workerheartbeat") == []


def test_worker_names_a_bad_option(migrated: Scratch) -> None:
    done = migrated.lockstep("worker", "--max-tasks", "0")
    assert done.returncode == 2
    assert "argument --max-tasks: must be greater than zero" in done.stderr


def test_a_malformed_trusted_proxy_stops_the_start_naming_the_entry(scratch: Scratch) -> None:
    scratch.env["LOCKSTEP_TRUSTED_PROXIES"] = "10.0.0.0/8, proxy.local"
    done = scratch.lockstep("migrate")
    assert done.returncode == 1
    assert done.stderr.startswith("error: configuration: LOCKSTEP_TRUSTED_PROXIES: 'proxy.local' is not"), (
        done.stderr
    )
    scratch.env["LOCKSTEP_TRUSTED_PROXIES"] = "10.0.0.0/8, fd00::/8, 192.0.2.7"
    assert scratch.lockstep("migrate").returncode == 0


def test_the_data_folder_database_wal_and_keys_are_readable_by_their_owner_only(
    tmp_path: Path, scratch: Scratch
) -> None:
    import stat

    data = tmp_path / "fresh" / "data"
    scratch.env["LOCKSTEP_DATA_DIR"] = str(data)
    scratch.env.pop("LOCKSTEP_DATABASE_URL", None)
    done = scratch.lockstep("migrate")
    assert done.returncode == 0, done.stderr
    scratch.lockstep("createadmin", "--email", "a@fabrikam.com", "--organization", "Fabrikam", "--password-stdin", input=GOOD_PASSWORD + "\n")  # fmt: skip
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in data.iterdir() if p.name != "static"}
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert {"lockstep.sqlite3", "secret_key", "encryption_keys"} <= set(modes)
    assert modes == {name: 0o600 for name in modes}, modes  # the -wal and -shm files too, when present

"""The `lockstep` command: settings table, check, createadmin, and run/demo as real processes."""

from __future__ import annotations

import importlib.util
import io
import json
import re
import shlex
import signal
import smtplib
import socket
import sqlite3
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.hashers import check_password

from lockstep.cli import main
from lockstep.config import SETTINGS, settings_markdown
from lockstep.directory.models import Administrator, AdminRole, Organization

OPS_TESTS = str(Path(__file__).resolve().parent / "ops")
if OPS_TESTS not in sys.path:
    sys.path.insert(0, OPS_TESTS)

from ops_scratch import LOCKSTEP, Scratch, free_port, scratch_installation  # noqa: E402

GOOD_PASSWORD = "Tr1cky-Kangaroo-Lamp"


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Scratch]:
    with scratch_installation(tmp_path / "data") as installation:
        yield installation


# --- settings-table, python -m lockstep -------------------------------------------------------------


def test_settings_table_lists_every_setting(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["settings-table"]) == 0
    table = capsys.readouterr().out
    assert table == settings_markdown() + "\n"  # the same table the README embeds
    for setting in SETTINGS:
        assert f"| `{setting.name}` | `{setting.default}` |" in table


def test_python_dash_m_lockstep_is_the_same_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lockstep", "--help"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0
    for command in ("run", "migrate", "createadmin", "worker", "check", "settings-table", "demo"):
        assert command in done.stdout


# --- check -------------------------------------------------------------------------------------------


def test_check_passes_on_a_migrated_installation(scratch: Scratch) -> None:
    assert scratch.lockstep("migrate").returncode == 0
    done = scratch.lockstep("check")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for name in (
        "database",
        "migrations",
        "secret key",
        "encryption keys",
        "allowed hosts",
        "data dir",
        "smtp host",
    ):
        assert any(line.startswith(f"OK   {name}:") for line in lines), (name, done.stdout)
    assert lines[-1] == "All checks passed."


def test_check_fails_with_a_fix_for_each_problem(scratch: Scratch) -> None:
    scratch.env.update(
        LOCKSTEP_SECRET_KEY="changeme",
        LOCKSTEP_ENCRYPTION_KEYS="c2hvcnQ=,not base64!",
        LOCKSTEP_BASE_URL="https://lockstep.example.org",
        LOCKSTEP_EMAIL_HOST="no-such-host.invalid",
        LOCKSTEP_TRUSTED_CA_FILE=str(scratch.data_dir / "missing-ca.pem"),
    )
    if scratch.database_url is None:  # an empty database, not migrated either
        scratch.data_dir.mkdir()
        sqlite3.connect(scratch.data_dir / "lockstep.sqlite3").close()
    done = scratch.lockstep("check")
    assert done.returncode == 1
    text = done.stdout
    assert re.search(r"^FAIL migrations: \d+ unapplied .*\n     fix: run `lockstep migrate`", text, re.M), (
        text
    )
    assert re.search(
        r"^FAIL secret key: LOCKSTEP_SECRET_KEY is a well-known placeholder\n     fix: ", text, re.M
    )
    assert "FAIL encryption keys: key 1 decodes to 5 bytes, not 32; key 2 not valid base64" in text
    assert "FAIL allowed hosts: lockstep.example.org (from LOCKSTEP_BASE_URL) is not in" in text
    assert "fix: add 'lockstep.example.org' to LOCKSTEP_ALLOWED_HOSTS" in text
    assert "FAIL smtp host: 'no-such-host.invalid' does not resolve" in text
    assert f"FAIL trusted CA file: {scratch.data_dir / 'missing-ca.pem'} cannot be read" in text
    assert text.rstrip().endswith("6 checks failed.")


def test_check_fails_when_the_database_is_unreachable(scratch: Scratch) -> None:
    scratch.env["LOCKSTEP_DATABASE_URL"] = "postgresql://nobody@127.0.0.1:1/nothing"
    done = scratch.lockstep("check")
    assert done.returncode == 1
    assert "FAIL database: postgresql: database unreachable" in done.stdout
    assert "fix: set LOCKSTEP_DATABASE_URL" in done.stdout


def test_a_setting_that_does_not_parse_is_named(scratch: Scratch) -> None:
    scratch.env["LOCKSTEP_DEBUG"] = "maybe"
    done = scratch.lockstep("check")
    assert done.returncode == 1
    assert done.stderr.strip() == "error: configuration: LOCKSTEP_DEBUG must be true or false, not 'maybe'"


def test_run_names_a_bad_thread_count(scratch: Scratch) -> None:
    scratch.env["LOCKSTEP_WEB_THREADS"] = "zero"
    done = scratch.lockstep("run", "--listen", "127.0.0.1:1")
    assert done.returncode == 1
    assert "error: LOCKSTEP_WEB_THREADS: must be a whole number of at least 1." in done.stderr


def test_run_refuses_an_address_in_use_and_creates_no_admin(scratch: Scratch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = scratch.lockstep("run", "--listen", f"127.0.0.1:{port}")
    assert done.returncode == 1
    assert f"error: listen: cannot listen on '127.0.0.1:{port}': Address already in use" in done.stderr
    assert scratch.query("SELECT COUNT(*) FROM directory_administrator") == [(0,)]  # no password lost


def test_run_names_a_bad_admin_email(scratch: Scratch) -> None:
    done = scratch.lockstep("run", "--listen", f"127.0.0.1:{free_port()}", "--admin-email", "not-an-email")
    assert done.returncode == 1
    assert "error: --admin-email: Must be an email address." in done.stderr


def test_run_no_migrate_refuses_an_unmigrated_database(scratch: Scratch) -> None:
    done = scratch.lockstep("run", "--no-migrate", "--listen", f"127.0.0.1:{free_port()}")
    assert done.returncode == 1
    assert "migrations are not applied; run `lockstep migrate`" in done.stderr


def test_worker_refuses_an_unmigrated_database(scratch: Scratch) -> None:
    done = scratch.lockstep("worker", "--batch")
    assert done.returncode == 1
    assert "migrations are not applied; run `lockstep migrate`" in done.stderr


# --- createadmin ---------------------------------------------------------------------------------------


def createadmin(monkeypatch: pytest.MonkeyPatch, password: str, *args: str) -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(password + "\n"))
    return main(["createadmin", "--password-stdin", *args])


def test_createadmin_creates_the_organization_and_owner(
    db: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        createadmin(monkeypatch, GOOD_PASSWORD, "--email", "Boss@Contoso.com", "--organization", "Contoso")
        == 0
    )
    out = capsys.readouterr().out
    assert "Created organization 'Contoso'." in out
    assert "Created owner boss@contoso.com in 'Contoso'." in out
    admin = Administrator.objects.get(email="boss@contoso.com")
    assert admin.role == AdminRole.OWNER and admin.organization.name == "Contoso"
    assert admin.check_password(GOOD_PASSWORD)

    assert (
        createadmin(
            monkeypatch,
            GOOD_PASSWORD,
            "--email",
            "ro@contoso.com",
            "--organization",
            "contoso",
            "--role",
            "read_only",
        )
        == 0
    )
    assert Organization.objects.count() == 1  # found by slug, not created twice


@pytest.mark.parametrize(
    ("password", "args", "expected"),
    [
        ("short", ["--email", "a@contoso.com"], r"^error: password: .+"),
        (GOOD_PASSWORD, ["--email", "not-an-email"], r"^error: email: Must be an email address\.$"),
        (
            GOOD_PASSWORD,
            ["--email", "a@contoso.com", "--role", "king"],
            r"^error: role: must be one of: owner, administrator, read_only \(got 'king'\)\.$",
        ),
        ("", ["--email", "a@contoso.com"], r"^error: password: nothing was read from standard input"),
    ],
)
def test_createadmin_names_the_field_and_rule(
    db: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    password: str,
    args: list[str],
    expected: str,
) -> None:
    assert createadmin(monkeypatch, password, "--organization", "Contoso", *args) == 1
    err = capsys.readouterr().err
    assert re.search(expected, err, re.M), err
    assert not Administrator.objects.exists()
    assert not Organization.objects.exists()  # nothing half-written


def test_createadmin_refuses_a_duplicate_email_in_the_same_organization_only(
    db: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        createadmin(monkeypatch, GOOD_PASSWORD, "--email", "a@contoso.com", "--organization", "Contoso") == 0
    )
    assert (
        createadmin(monkeypatch, GOOD_PASSWORD, "--email", "A@contoso.com", "--organization", "Contoso") == 1
    )
    assert (
        "error: email: This organization already has an administrator with the email 'a@contoso.com'."
        in capsys.readouterr().err
    )
    assert Administrator.objects.filter(email="a@contoso.com").count() == 1
    # another organization may have its own administrator with that address (the same person)
    assert createadmin(monkeypatch, GOOD_PASSWORD, "--email", "A@contoso.com", "--organization", "Other") == 0
    assert Administrator.objects.filter(email="a@contoso.com").count() == 2


def test_createadmin_without_a_terminal_names_the_missing_flag(
    db: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["createadmin", "--organization", "Contoso"]) == 1
    assert "error: email: required; pass --email." in capsys.readouterr().err


# --- run and demo, as real servers ------------------------------------------------------------------------


def get(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


class Server:
    def __init__(self, scratch: Scratch, *args: str) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [LOCKSTEP, *args, "--listen", f"127.0.0.1:{self.port}"],
            env=scratch.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []

    def wait_for_line(self, prefix: str, timeout: float = 30) -> str:
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line and self.process.poll() is not None:
                break
            self.lines.append(line)
            if line.startswith(prefix):
                return line
        raise AssertionError(f"no line starting {prefix!r}; got {self.lines}; stderr {self.stop()[1]}")

    def stop(self) -> tuple[int, str]:
        """SIGTERM, and the exit status and stderr."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        finally:
            self.process.kill()
        rest_out, err = self.process.communicate(timeout=5)
        self.lines.extend(rest_out.splitlines(keepends=True))
        return self.process.returncode, err


RUNNING = re.compile(
    r"^Lockstep is running at (http://127\.0\.0\.1:\d+/) — log in at \S+ as (\S+) with password (\S+)$"
)


def test_run_migrates_serves_and_stops_cleanly_on_sigterm(scratch: Scratch) -> None:
    server = Server(scratch, "run", "--admin-email", "first@contoso.com", "--organization", "Contoso")
    try:
        line = server.wait_for_line("Lockstep is running at")
        match = RUNNING.match(line.strip())
        assert match, line
        base, email, password = match.groups()
        assert base == f"http://127.0.0.1:{server.port}/" and email == "first@contoso.com"
        assert get(base + "healthz") == (200, {"status": "ok"})
        assert get(base + "readyz") == (
            200,
            {"status": "ready", "checks": {"database": "ok", "migrations": "ok"}},
        )
        started = time.monotonic()
        status, stderr = server.stop()
        assert status == 0, stderr
        assert time.monotonic() - started < 5
    finally:
        server.process.kill()

    output = "".join(server.lines)
    assert output.count(password) == 1  # printed once, to the terminal only
    assert password not in stderr  # never in the logs
    for path in scratch.data_dir.rglob("*"):
        if path.is_file():
            assert password.encode() not in path.read_bytes(), path
    ((org_name, email_db, must_change, hashed, mfa_required),) = scratch.query(
        "SELECT o.name, a.email, a.must_change_password, a.password, o.require_admin_mfa "
        "FROM directory_administrator a JOIN directory_organization o ON o.id = a.organization_id"
    )
    assert (org_name, email_db, bool(must_change)) == ("Contoso", "first@contoso.com", True)
    assert bool(mfa_required)  # a new organization requires MFA for administrators
    assert check_password(password, hashed) and hashed.startswith("argon2")


def test_demo_creates_the_demo_owner_once_then_explains_how_to_get_in(scratch: Scratch) -> None:
    data_dir = scratch.env.pop("LOCKSTEP_DATA_DIR")  # demo picks its own folder, ./var/demo by default
    first = Server(scratch, "demo", "--data-dir", data_dir, "--no-m365sim")
    try:
        line = first.wait_for_line("Lockstep is running at")
        assert RUNNING.match(line.strip()), line
        assert f"Demo data folder: {Path(data_dir).resolve()}\n" in first.lines
        assert first.stop()[0] == 0
    finally:
        first.process.kill()
    ((demo_name, demo_mfa),) = scratch.query("SELECT name, require_admin_mfa FROM directory_organization")
    assert demo_name == "Demo Organization" and not demo_mfa  # the local demo leaves it off

    again = Server(scratch, "demo", "--data-dir", data_dir, "--no-m365sim")
    try:
        line = again.wait_for_line("Lockstep is running at")
        assert "with your password" in line and "admin@example.com" in line
        assert (
            again.wait_for_line("The administrator already exists")
            .strip()
            .endswith("use `lockstep createadmin`.")
        )
        assert again.stop()[0] == 0
    finally:
        again.process.kill()
    assert len(scratch.query("SELECT id FROM directory_administrator")) == 1


@pytest.mark.skipif(importlib.util.find_spec("m365sim.cli") is None, reason="m365sim is not installed")
def test_demo_starts_m365sim_and_stops_it_too(scratch: Scratch) -> None:
    data_dir = Path(scratch.env.pop("LOCKSTEP_DATA_DIR"))
    sim_port = free_port()
    mail_port = free_port()
    demo = Server(
        scratch,
        "demo",
        *("--data-dir", str(data_dir), "--m365sim-port", str(sim_port), "--mail-port", str(mail_port)),
    )
    try:
        demo.wait_for_line("Lockstep is running at")
        portal = demo.wait_for_line("Your users sign in to the User Portal at").strip()
        assert re.fullmatch(
            r"Your users sign in to the User Portal at http://127\.0\.0\.1:\d+/portal/", portal
        )
        shown = "".join(demo.lines)
        # the demo mailbox keeps what is sent to it, so a newcomer can open activation emails
        mail_dir = data_dir.resolve() / "mail"
        assert f"Emails the demo sends are saved in {mail_dir} (open the .eml files)." in shown
        with smtplib.SMTP("127.0.0.1", mail_port, timeout=10) as smtp:
            smtp.sendmail("lockstep@localhost", ["megan@contoso.com"], b"Subject: hello\r\n\r\nbody\r\n")
        (saved,) = list(mail_dir.glob("*.eml"))
        assert "megan@contoso.com" in saved.name and b"Subject: hello" in saved.read_bytes()
        assert "m365sim: tenant " in shown and "(Contoso, seed demo)" in shown
        ca_file = data_dir.resolve() / "m365sim" / "ca.pem"
        assert f"CA certificate : {ca_file}" in shown
        # the printed export line points another shell's `lockstep m365` at this demo
        exports = next(line.strip() for line in demo.lines if line.strip().startswith("export "))
        assert f"LOCKSTEP_TRUSTED_CA_FILE={ca_file}" in exports
        # on a port of its own the demo's links and SAML URLs name that port, in the CLI too
        assert f"LOCKSTEP_BASE_URL=http://127.0.0.1:{demo.port}" in exports
        cli_env = dict(scratch.env)
        cli_env.update(pair.split("=", 1) for pair in shlex.split(exports.removeprefix("export ")))
        status = subprocess.run(
            [LOCKSTEP, "m365", "status"], env=cli_env, capture_output=True, text=True, timeout=60
        )
        assert status.returncode == 0, status.stderr
        assert "Contoso" in status.stdout
        sso = subprocess.run(
            [LOCKSTEP, "sso", "status", "Contoso (m365sim demo tenant)"],
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert sso.returncode == 0, sso.stderr
        assert f"SSO URL: http://127.0.0.1:{demo.port}/saml/demo-organization/fabrikam.com/sso" in sso.stdout
        # README tour step 9: `lockstep check` with the same line inspects the demo's database
        check = subprocess.run([LOCKSTEP, "check"], env=cli_env, capture_output=True, text=True, timeout=60)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "OK   migrations: all applied" in check.stdout
        assert f"OK   data dir: {data_dir.resolve()} writable" in check.stdout
        assert f"OK   trusted CA file: {ca_file} (1 certificate)" in check.stdout
        context = ssl.create_default_context(cafile=str(ca_file))
        with urllib.request.urlopen(
            f"https://127.0.0.1:{sim_port}/_sim/info", context=context, timeout=5
        ) as answer:
            assert answer.status == 200
        assert demo.stop()[0] == 0
    finally:
        demo.process.kill()
    with socket.socket() as probe:  # the simulator went away with the demo
        assert probe.connect_ex(("127.0.0.1", sim_port)) != 0

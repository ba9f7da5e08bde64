"""`lockstep m365 ...` as a person runs it: a real process against a real database and m365sim.

The in-process tests (test_cli.py) run inside pytest-django, where Django is already set up; these
start the installed `lockstep` command, as an administrator's shell does.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lockstep.m365.sync_pass import REMOTE_PURGED_WORDS
from lockstep.testing.m365 import directory_fields
from m365sim.testing import SimServer

OPS_TESTS = str(Path(__file__).resolve().parents[1] / "ops")
if OPS_TESTS not in sys.path:
    sys.path.insert(0, OPS_TESTS)

from ops_scratch import LOCKSTEP, Scratch, free_port, scratch_installation  # noqa: E402

ADD_DIRECTORY = """
import json
from lockstep.directory.actors import Actor
from lockstep.directory.models import Organization
from lockstep.m365.services import directories
organization = Organization.objects.create(name="Contoso", slug="contoso")
actor = Actor.system(organization.pk, "test")
directories.add_directory(actor=actor, fields=json.loads({fields!r}))
"""


@pytest.fixture
def installation(tmp_path: Path, sim: SimServer) -> Iterator[Scratch]:
    with scratch_installation(tmp_path / "data") as scratch:
        scratch.env["LOCKSTEP_TRUSTED_CA_FILE"] = sim.ca_file
        migrated = scratch.lockstep("migrate")
        assert migrated.returncode == 0, migrated.stderr
        fields = json.dumps(directory_fields(sim))
        added = scratch.python(ADD_DIRECTORY.format(fields=fields))
        assert added.returncode == 0, added.stderr
        yield scratch


def test_every_m365_command_runs_as_a_real_process(installation: Scratch) -> None:
    verify = installation.lockstep("m365", "verify", "Contoso 365")
    assert verify.returncode == 0, verify.stderr
    assert "ImproperlyConfigured" not in verify.stderr
    assert "contoso.com" in verify.stdout

    status = installation.lockstep("m365", "status")
    assert status.returncode == 0, status.stderr
    assert "Contoso 365" in status.stdout

    plan = installation.lockstep("m365", "plan", "Contoso 365")
    assert plan.returncode == 0, plan.stderr

    preview = installation.lockstep("m365", "import", "Contoso 365", timeout=120)
    assert preview.returncode == 0, preview.stderr
    assert re.search(r"^Listed \d+ accounts of Contoso 365", preview.stdout, re.M), preview.stdout
    assert "Nothing imported" in preview.stdout

    imported = installation.lockstep(
        "m365", "import", "Contoso 365", "--filter", "megan.siciliani@", timeout=120
    )
    assert imported.returncode == 0, imported.stderr
    assert installation.query("SELECT email FROM directory_user") == [("megan.siciliani@contoso.com",)]


def test_an_unknown_directory_is_named_not_a_traceback(installation: Scratch) -> None:
    for command in ("verify", "import", "status", "plan"):
        done = installation.lockstep("m365", command, "No Such Directory")
        assert done.returncode == 1, command
        assert "Traceback" not in done.stderr
        assert done.stderr == (
            "error: no directory 'No Such Directory' in this organization (give its id or name).\n"
        ), command


def test_bad_m365_input_names_the_field(installation: Scratch) -> None:
    limit = installation.lockstep("m365", "plan", "Contoso 365", "--limit", "0")
    assert (limit.returncode, limit.stderr) == (1, "error: --limit must be at least 1.\n")
    organization = installation.lockstep("m365", "status", "--organization", "Northwind")
    assert (organization.returncode, organization.stderr) == (
        1,
        "error: no organization named 'Northwind'.\n",
    )
    state = installation.lockstep("m365", "import", "Contoso 365", "--state", "deleted")
    assert state.returncode == 2 and "argument --state: invalid choice: 'deleted'" in state.stderr
    both = installation.lockstep("m365", "import", "Contoso 365", "--all", "--filter", "x")
    assert both.returncode == 2 and "argument --filter: not allowed with argument --all" in both.stderr
    assert installation.query("SELECT COUNT(*) FROM directory_user") == [(0,)]


BIND_AND_SYNC = """
from datetime import timedelta
from django.utils import timezone
from lockstep.directory.actors import Actor
from lockstep.directory.models import Organization
from lockstep.directory.services import users
from lockstep.m365.models import Directory, UserBinding
from lockstep.m365.services import bindings
from lockstep.testing.m365 import sync_until_settled
organization = Organization.objects.get(slug="contoso")
actor = Actor.system(organization.pk, "test")
user = users.create_user(actor=actor, fields={"username": "nina", "email": "nina@contoso.com"})
bindings.bind_user(actor=actor, user_id=user.pk, directory_id=Directory.objects.get().pk)
sync_until_settled()
binding = UserBinding.objects.get()
assert binding.status == "synced", (binding.status, binding.last_error)
# Lockstep then stays stopped for an hour: past Microsoft 365's replication grace
UserBinding.objects.update(remote_created_at=timezone.now() - timedelta(hours=1))
"""


@pytest.mark.parametrize("command", ["worker", "run"])
def test_lockstep_notices_at_start_that_m365sim_lost_the_account(
    installation: Scratch, sim: SimServer, command: str
) -> None:
    bound = installation.python(BIND_AND_SYNC)
    assert bound.returncode == 0, bound.stderr
    sim.reset("demo")  # m365sim restarted without its saved state: the account Lockstep created is gone

    options = ["--interval", "0.2"] if command == "worker" else ["--listen", f"127.0.0.1:{free_port()}"]
    worker = subprocess.Popen(
        [LOCKSTEP, command, *options],
        env=installation.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while installation.query("SELECT status FROM m365_userbinding") != [("error",)]:
            assert time.monotonic() < deadline, "the worker did not notice"
            time.sleep(0.2)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=10) == 0
    finally:
        worker.kill()
        output = worker.communicate(timeout=5)[0]
    assert "1 bound users and 0 bound groups no longer exist in Microsoft 365" in output
    ((error, code),) = installation.query("SELECT last_error, last_error_code FROM m365_userbinding")
    assert (error, code) == (REMOTE_PURGED_WORDS, "purged_in_m365")

    status = installation.lockstep("m365", "status", "Contoso 365")
    assert status.returncode == 0, status.stderr  # amber: needs attention, not down
    assert "Deleted permanently in Microsoft 365" in status.stdout
    assert "state: Needs attention: 1 user or group could not be synced" in status.stdout
    with sim.client() as http:  # never re-created on its own
        assert http.get("/users/nina@contoso.com").status_code == 404


MARK_UNREACHABLE = """
from django.utils import timezone
from lockstep.m365.models import Directory
Directory.objects.update(unreachable_since=timezone.now(), unreachable_reason="Connection refused.")
"""


def test_status_fails_while_microsoft_365_cannot_be_reached(installation: Scratch) -> None:
    """`lockstep m365 status` says what the dashboard says, and exits 1 while a directory is red."""
    healthy = installation.lockstep("m365", "status")
    assert healthy.returncode == 0, healthy.stderr
    marked = installation.python(MARK_UNREACHABLE)
    assert marked.returncode == 0, marked.stderr
    down = installation.lockstep("m365", "status")
    assert down.returncode == 1, down.stdout + down.stderr
    assert "state: Cannot reach Microsoft 365: Connection refused." in down.stdout

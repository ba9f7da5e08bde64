"""`lockstep m365 ...` as a person runs it: a real process against a real database and m365sim.

The in-process tests (test_cli.py) run inside pytest-django, where Django is already set up; these
start the installed `lockstep` command, as an administrator's shell does.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lockstep.testing.m365 import directory_fields
from m365sim.testing import SimServer

OPS_TESTS = str(Path(__file__).resolve().parents[1] / "ops")
if OPS_TESTS not in sys.path:
    sys.path.insert(0, OPS_TESTS)

from ops_scratch import Scratch, scratch_installation  # noqa: E402

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
    done = installation.lockstep("m365", "plan", "No Such Directory")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "No Such Directory" in (done.stderr + done.stdout)

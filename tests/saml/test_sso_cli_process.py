"""`lockstep sso ...` as an administrator runs it: the installed command in a real process,
against a scratch database and m365sim (a previous CLI passed in-process tests and crashed for
every user: Django was not set up outside pytest)."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lockstep.testing.m365 import directory_fields
from lockstep.testing.sso_world import only_lockstep_accounts

OPS_TESTS = str(Path(__file__).resolve().parents[1] / "ops")
if OPS_TESTS not in sys.path:
    sys.path.insert(0, OPS_TESTS)

from ops_scratch import Scratch, scratch_installation  # noqa: E402

DIRECTORY = "Contoso 365"
ADD_DIRECTORY = """
import json
from lockstep.directory.actors import Actor
from lockstep.directory.models import Organization
from lockstep.m365.services import directories
organization = Organization.objects.create(name="Contoso", slug="contoso")
actor = Actor.system(organization.pk, "test")
directories.add_directory(actor=actor, fields=json.loads({fields!r}))
"""
BIND_NINA = """
from lockstep.directory.actors import Actor
from lockstep.directory.models import Organization
from lockstep.m365.models import Directory
from lockstep.testing.sso_world import bound_active_user
organization = Organization.objects.get(slug="contoso")
bound_active_user(Actor.system(organization.pk, "test"), Directory.objects.get(), "nina")
"""


@pytest.fixture
def installation(tmp_path: Path, sim: Any) -> Iterator[Scratch]:
    with scratch_installation(tmp_path / "data") as scratch:
        scratch.env["LOCKSTEP_TRUSTED_CA_FILE"] = sim.ca_file
        migrated = scratch.lockstep("migrate")
        assert migrated.returncode == 0, migrated.stderr
        added = scratch.python(ADD_DIRECTORY.format(fields=json.dumps(directory_fields(sim))))
        assert added.returncode == 0, added.stderr
        yield scratch


def run(installation: Scratch, *args: str, code: int = 0) -> str:
    done = installation.lockstep("sso", *args, timeout=120)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == code, (args, done.returncode, done.stdout, done.stderr)
    return done.stdout + done.stderr


def test_reading_commands_and_refusals_name_what_blocks(installation: Scratch) -> None:
    status = run(installation, "status", DIRECTORY)
    assert re.search(r"^  fabrikam\.com: Microsoft 365: Managed, Lockstep: not federated$", status, re.M), (
        status
    )
    assert "/saml/contoso/fabrikam.com/metadata" in status
    assert re.search(r"^  contoso\.onmicrosoft\.com: .*initial", status, re.M), status

    blocked = run(installation, "readiness", DIRECTORY, "fabrikam.com", code=1)
    assert "unmanaged_users: " in blocked and "no_test_sign_in: " in blocked
    assert re.search(r"^    \S+@fabrikam\.com$", blocked, re.M), blocked  # the users it lists

    refused = run(installation, "federate", DIRECTORY, "fabrikam.com", code=1)
    assert "error: domain: fabrikam.com cannot be federated yet." in refused, refused
    assert "unmanaged_users: " in refused
    assert "rolled_back" not in run(installation, "status", DIRECTORY)

    unconfirmed = run(installation, "roll-back", DIRECTORY, "fabrikam.com", code=1)
    assert "will need a Microsoft 365 password" in unconfirmed and "--yes" in unconfirmed
    failed = run(installation, "test", DIRECTORY, "contoso.com", code=1)
    assert "Test sign-in for contoso.com FAILED" in failed
    bad = run(installation, "readiness", DIRECTORY, "not a domain", code=1)
    assert bad == "error: domain: Give a domain name such as contoso.com.\n", bad
    unknown = run(installation, "status", "No Such Directory", code=1)
    assert unknown == "error: no directory 'No Such Directory' in this organization (give its id or name).\n"
    neither = installation.lockstep("sso", "rotate")
    assert (
        neither.returncode == 2 and "one of the arguments --publish --promote is required" in neither.stderr
    )


def test_federate_roll_back_and_rotate_from_the_command_line(installation: Scratch, sim: Any) -> None:
    only_lockstep_accounts(sim)
    bound = installation.python(BIND_NINA, timeout=120)
    assert bound.returncode == 0, bound.stderr
    assert "queued" in run(installation, "set-immutable-ids", DIRECTORY, "fabrikam.com")
    assert "passed (as nina@fabrikam.com)" in run(installation, "test", DIRECTORY, "fabrikam.com")
    assert run(installation, "readiness", DIRECTORY, "fabrikam.com") == "fabrikam.com: ready to federate.\n"

    assert "fabrikam.com federated." in run(installation, "federate", DIRECTORY, "fabrikam.com")
    status = run(installation, "status", DIRECTORY)
    assert re.search(
        r"^  fabrikam\.com: Microsoft 365: Federated, Lockstep: federated, in progress", status, re.M
    )

    signed = run(installation, "signed-requests", DIRECTORY, "fabrikam.com", "--required")
    assert "fabrikam.com: Microsoft 365 signs its sign-in requests" in signed, signed
    config = sim.sim.tenant.domains["fabrikam.com"].federation
    assert config["isSignedAuthenticationRequestRequired"] is True
    neither = run(installation, "signed-requests", DIRECTORY, "fabrikam.com", code=2)
    assert "--required" in neither and "--not-required" in neither, neither
    assert "unsigned" in run(installation, "signed-requests", DIRECTORY, "fabrikam.com", "--not-required")
    assert sim.sim.tenant.domains["fabrikam.com"].federation["isSignedAuthenticationRequestRequired"] is False

    published = run(installation, "rotate", "--publish")
    fingerprint = re.search(r"^Next certificate ([0-9a-f]{64}) published", published, re.M)
    assert fingerprint, published
    keys = run(installation, "keys")
    assert re.search(rf"^{fingerprint[1]}  next .*fabrikam\.com", keys, re.M), keys
    early = run(installation, "rotate", "--promote", code=1)  # Microsoft 365 may not have it yet
    assert early.startswith("error: "), early
    installation.env["LOCKSTEP_FEDERATION_PROPAGATION_MINUTES"] = "0"
    assert f"Certificate {fingerprint[1]} promoted" in run(installation, "rotate", "--promote")

    rolled = run(installation, "roll-back", DIRECTORY, "fabrikam.com", "--yes")
    assert "fabrikam.com rolled back to managed." in rolled
    assert "Lockstep: rolled_back" in run(installation, "status", DIRECTORY)
    actions = installation.query("SELECT action FROM directory_auditevent WHERE action LIKE %s", ("saml.%",))
    assert {"saml.federate", "saml.roll_back", "saml.signed_requests"} <= {row[0] for row in actions}, actions

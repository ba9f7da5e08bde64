"""`lockstep m365 verify | import | status | plan` against m365sim (in-process, as `lockstep.cli.main`)."""

from __future__ import annotations

import pytest

from lockstep.cli import main
from lockstep.directory.actors import Actor
from lockstep.directory.models import User
from lockstep.directory.services import organizations, users
from lockstep.m365.models import Directory, ImportBatch, UserBinding
from lockstep.m365.services import bindings
from m365sim.testing import SimServer


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["m365", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_verify_by_name_and_by_id(directory: Directory, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "verify", "contoso 365")
    assert code == 0
    assert "token: obtained" in out and "permissions: all granted" in out
    assert "domain contoso.com: verified, managed, default" in out
    assert "domain northwind.example: UNVERIFIED, managed" in out
    assert "Health: Healthy" in out
    assert run(capsys, "verify", str(directory.pk))[0] == 0


def test_verify_reports_missing_consent_and_fails(
    directory: Directory, sim: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    sim.set_consent(sim.client_id, False)
    code, out, _ = run(capsys, "verify", "Contoso 365")
    assert code == 1
    assert "missing permission: User.ReadWrite.All" in out and "Health: Broken" in out


def test_unknown_directory_and_several_organizations(
    directory: Directory, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "status", "nope")
    assert code == 1 and "no directory 'nope'" in err
    organizations.create_organization(name="Fabrikam Inc")
    code, _, err = run(capsys, "status")
    assert code == 1 and "--organization" in err
    code, out, _ = run(capsys, "status", "--organization", "Contoso Ltd")
    assert code == 0 and "Contoso 365" in out
    code, out, _ = run(capsys, "status", "--organization", "fabrikam-inc")
    assert code == 0 and "No directories in Fabrikam Inc." in out


def test_import_previews_without_a_scope_then_imports_with_filter(
    directory: Directory, actor: Actor, sim: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    users.create_user(actor=actor, fields={"username": "adele", "email": "adele.vance@contoso.com"})
    code, out, _ = run(capsys, "import", "Contoso 365")
    assert code == 0
    assert "Listed 49 accounts of Contoso 365" in out
    assert "Nothing imported: pass --all, or --filter TEXT" in out
    assert not ImportBatch.objects.exists()

    code, out, _ = run(capsys, "import", "Contoso 365", "--filter", "adele.vance", "--state", "active")
    assert code == 0, out
    assert "1 existing users bound" in out and "can be undone for 48 hours" in out
    binding = UserBinding.objects.get(user__email="adele.vance@contoso.com")
    assert binding.adopted and binding.remote_id

    code, out, _ = run(capsys, "import", "Contoso 365", "--filter", "alex.braun@", "--state", "active")
    assert code == 0 and "1 users created" in out
    assert User.objects.get(email="alex.braun@contoso.com").state == "active"


def test_import_all_flags_admins_and_skips_them_without_confirmation(
    directory: Directory, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "import", "Contoso 365", "--all")
    assert code == 0
    assert "Holds an Entra admin role" in out
    created = User.objects.count()
    assert created > 0
    admins = [u.email for u in User.objects.all() if u.email.startswith("admin@")]
    assert admins == []
    code, out, _ = run(
        capsys,
        "import",
        "Contoso 365",
        "--all",
        "--include-unlicensed",
        "--include-disabled",
        "--confirm-admins",
    )
    assert code == 0 and User.objects.count() > created


def test_status_and_plan(directory: Directory, actor: Actor, capsys: pytest.CaptureFixture[str]) -> None:
    user = users.create_user(
        actor=actor,
        fields={"username": "pam", "email": "pam@contoso.com", "first_name": "Pam"},
        initial_password="Typed-By-Admin-42x",
    )
    bindings.bind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    code, out, _ = run(capsys, "status", "Contoso 365")
    assert code == 0
    assert "Contoso 365 (id" in out and "Healthy" in out
    assert "queue depth: 1; oldest pending:" in out and "Graph budget in use:" in out
    code, out, _ = run(capsys, "plan", "Contoso 365")
    assert code == 0
    assert "1 pending Microsoft 365 write." in out
    assert "user pam: POST /users" in out and "passwordProfile (not shown)" in out
    assert "Typed-By-Admin-42x" not in out

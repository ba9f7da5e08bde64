"""The permission catalogue: one source for the set-up guide, Verify and m365sim's demo app."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lockstep.m365 import permissions, reconcile
from lockstep.m365.permissions import CATALOGUE, REQUIRED_PERMISSIONS, REQUIRED_SET, permissions_table
from m365sim import seeds

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "m365-setup.md"
SOURCE = ROOT / "src" / "lockstep"


def test_the_set_up_guide_shows_the_generated_table() -> None:
    guide = GUIDE.read_text()
    start = guide.index(permissions.TABLE_START)
    end = guide.index(permissions.TABLE_END) + len(permissions.TABLE_END)
    assert guide[start:end] + "\n" == permissions_table()


def test_the_set_up_guide_asks_for_exactly_the_required_set() -> None:
    section = GUIDE.read_text().split("## 3. Application permissions", 1)[1].split(permissions.TABLE_START)[0]
    asked = re.findall(r"^\| `([A-Za-z.\-]+)` \|", section, flags=re.MULTILINE)
    assert sorted(asked) == sorted(REQUIRED_SET)


def test_required_permissions_equal_the_catalogue_and_m365sims_demo_app() -> None:
    assert set(REQUIRED_PERMISSIONS) == {c.lockstep_uses for c in CATALOGUE if c.lockstep_uses}
    assert sorted(seeds.LOCKSTEP_PERMISSIONS) == sorted(REQUIRED_PERMISSIONS)
    assert set(REQUIRED_SET) == {
        "User.ReadWrite.All",
        "Group.ReadWrite.All",
        "Domain.Read.All",
        "RoleManagement.Read.Directory",
        "Domain-InternalFederation.ReadWrite.All",
    }


@pytest.mark.parametrize("broad", ["Organization.Read.All", "Application.Read.All", "Directory.Read.All"])
def test_lockstep_needs_no_broad_read_permission(broad: str) -> None:
    assert broad not in REQUIRED_PERMISSIONS
    assert all(c.lockstep_uses != broad for c in CATALOGUE)


@pytest.mark.parametrize("call", CATALOGUE, ids=lambda c: f"{c.method} {c.path}")
def test_each_call_is_covered_by_a_documented_permission(call: permissions.GraphCall) -> None:
    if call.path == "/$batch":
        assert call.documented == () and call.lockstep_uses == ""
        return
    assert call.lockstep_uses in call.documented
    assert call.documented[0] == call.least_privileged


@pytest.mark.parametrize("permission", REQUIRED_SET)
def test_no_permission_of_the_set_is_redundant(permission: str) -> None:
    """Some call is allowed by this permission and by no other permission of the set."""
    others = set(REQUIRED_SET) - {permission}
    assert any(not others & set(c.documented) for c in permissions.calls_needing(permission))


def test_a_broader_grant_satisfies_a_narrower_one_only_where_microsoft_documents_it() -> None:
    assert "Directory.ReadWrite.All" in REQUIRED_PERMISSIONS["User.ReadWrite.All"]
    assert "Directory.ReadWrite.All" in REQUIRED_PERMISSIONS["Group.ReadWrite.All"]
    # federationConfiguration's documented list has no Directory.* permission
    assert "Directory.Read.All" not in REQUIRED_PERMISSIONS["Domain.Read.All"]
    # nor does roleAssignments' list have Directory.ReadWrite.All (only Directory.Read.All)
    assert permissions.missing_from(["Directory.ReadWrite.All"]) == [
        "Domain.Read.All",
        "Domain-InternalFederation.ReadWrite.All",
        "RoleManagement.Read.Directory",
    ]
    # federation writes: only the narrow permission and Domain.ReadWrite.All (never Directory.*)
    assert REQUIRED_PERMISSIONS["Domain-InternalFederation.ReadWrite.All"] == (
        "Domain-InternalFederation.ReadWrite.All",
        "Domain.ReadWrite.All",
    )


def test_every_planned_write_is_in_the_catalogue() -> None:
    catalogued = {(c.method, re.sub(r" \(.*\)$", "", c.path)) for c in CATALOGUE}
    planned = {
        ("POST", "/users"),
        ("PATCH", "/users/{id}"),
        ("POST", "/users/{id}/revokeSignInSessions"),
        ("POST", "/groups"),
        ("PATCH", "/groups/{id}"),
        ("POST", "/groups/{id}/members/$ref"),
        ("DELETE", "/groups/{id}/members/{id}/$ref"),
    }
    assert planned <= catalogued
    # and the planner makes no other kind of write
    assert set(reconcile.OperationKind.__args__) == {  # type: ignore[attr-defined]
        "create_user",
        "update_user",
        "set_password",
        "revoke_sessions",
        "create_group",
        "update_group",
        "add_member",
        "add_members",
        "remove_member",
    }


def test_lockstep_never_calls_graph_outside_the_catalogue() -> None:
    """The calls that need a permission outside the set are not made anywhere in Lockstep."""
    offenders = []
    for path in SOURCE.rglob("*.py"):
        if path.name == "client.py":
            continue  # the client library keeps the methods; Lockstep does not call them
        text = path.read_text()
        for needle in (
            "get_organization(",
            "get_service_principal_by_app_id(",
            '"/organization"',
            "/servicePrincipals",
        ):
            if (
                needle in text
                and "lockstep/api/" not in str(path)
                and "services/organizations" not in str(path)
            ):
                if needle == "get_organization(" and "organizations.get_organization(" in text:
                    continue
                offenders.append(f"{path.relative_to(ROOT)}: {needle}")
    assert offenders == []

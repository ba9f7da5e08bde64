"""/api/v1/directories/{id}/sso and /api/v1/sso/keys over HTTP, against m365sim.

API keys are never owners, so federate, roll back and the key rotation answer 403 to every key;
an owner's signed-in Admin Portal session does them (the docs page sends its CSRF token).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from lockstep.directory.actors import Actor
from lockstep.directory.models import Administrator
from lockstep.directory.services import api_keys
from lockstep.m365.models import Directory
from lockstep.m365.services import directories
from lockstep.testing.m365 import directory_fields
from lockstep.testing.sessions import signed_in_client
from lockstep.testing.sso_world import READY_DOMAIN, bound_active_user, only_lockstep_accounts

from .conftest import JsonClient


@pytest.fixture
def directory(sim: Any, actor: Actor) -> Iterator[Directory]:
    created, _ = directories.add_directory(actor=actor, fields=directory_fields(sim))
    yield created


@pytest.fixture
def owner_api(owner: Administrator) -> JsonClient:
    """An owner's signed-in Admin Portal session (the test client skips the CSRF check)."""
    return JsonClient(signed_in_client(owner))


def sso(directory: Directory, rest: str = "") -> str:
    return f"directories/{directory.pk}/sso{rest}"


def test_status_lists_each_domain_with_its_urls(client_a: JsonClient, directory: Directory) -> None:
    answer = client_a.get(sso(directory))
    assert answer.status_code == 200, answer.data
    by_name = {row["domain"]: row for row in answer.data}
    assert {"contoso.com", "fabrikam.com", "contoso.onmicrosoft.com"} <= set(by_name)
    assert by_name["contoso.onmicrosoft.com"]["is_initial"] is True
    fabrikam = by_name["fabrikam.com"]
    assert (fabrikam["microsoft_state"], fabrikam["lockstep_state"], fabrikam["in_progress"]) == (
        "Managed",
        "",
        False,
    )
    assert fabrikam["metadata_url"].endswith("/fabrikam.com/metadata")
    assert fabrikam["sso_url"].endswith("/fabrikam.com/sso")


def test_readiness_lists_each_blocker_with_its_users(client_a: JsonClient, directory: Directory) -> None:
    answer = client_a.get(sso(directory, "/fabrikam.com/readiness"))
    assert answer.status_code == 200, answer.data
    assert answer.data["ready"] is False
    codes = {b["code"]: b for b in answer.data["blockers"]}
    assert {"unmanaged_users", "no_test_sign_in"} <= set(codes)
    unmanaged = codes["unmanaged_users"]
    assert unmanaged["users"] and all(u.endswith("@fabrikam.com") for u in unmanaged["users"])
    assert unmanaged["count"] == len(unmanaged["users"])


def test_a_bad_domain_is_422_naming_the_field(client_a: JsonClient, directory: Directory) -> None:
    for bad in ("not a domain", "UPPER..com", "x"):
        answer = client_a.get(sso(directory, f"/{bad}/readiness"))
        assert answer.status_code == 422, (bad, answer.data)
        assert list(answer.data["error"]["fields"]) == ["domain"]


def test_federating_while_blocked_is_409_listing_every_blocker(
    owner_api: JsonClient, directory: Directory
) -> None:
    refused = owner_api.post(sso(directory, "/fabrikam.com/federate"))
    assert refused.status_code == 409, refused.data
    listed = refused.data["error"]["fields"]["blockers"]
    assert any(line.startswith("unmanaged_users: ") for line in listed), listed
    assert any(line.startswith("no_test_sign_in: ") for line in listed), listed
    status = {row["domain"]: row for row in owner_api.get(sso(directory)).data}
    assert status["fabrikam.com"]["lockstep_state"] == ""


def test_owner_only_actions_refuse_every_key_and_read_only_writes(
    client_a: JsonClient, actor: Actor, directory: Directory
) -> None:
    for path in (
        sso(directory, "/fabrikam.com/federate"),
        sso(directory, "/fabrikam.com/roll-back"),
        "sso/keys/next",
        "sso/keys/promote",
    ):
        answer = client_a.post(path)  # an administrator's key: not an owner
        assert answer.status_code == 403, (path, answer.data)
        assert answer.data["error"]["code"] == "permission_denied"
    _key, secret = api_keys.create_api_key(actor=actor, name="reader", role="read_only")
    reader = JsonClient(Client(headers={"Authorization": f"Bearer {secret}"}))
    for rest in ("/fabrikam.com/immutable-ids", "/fabrikam.com/test-sign-in"):
        answer = reader.post(sso(directory, rest))
        assert answer.status_code == 403, (rest, answer.data)
    assert reader.get(sso(directory)).status_code == 200


def test_another_organizations_directory_is_404(client_b: JsonClient, directory: Directory) -> None:
    for answer in (
        client_b.get(sso(directory)),
        client_b.get(sso(directory, "/fabrikam.com/readiness")),
        client_b.post(sso(directory, "/fabrikam.com/test-sign-in")),
    ):
        assert answer.status_code == 404, answer.data


def test_federate_then_roll_back_over_http(
    sim: Any, actor: Actor, owner_api: JsonClient, client_a: JsonClient, directory: Directory
) -> None:
    only_lockstep_accounts(sim)
    bound_active_user(actor, directory, "nina")
    queued = client_a.post(sso(directory, f"/{READY_DOMAIN}/immutable-ids"))
    assert queued.status_code == 200 and queued.data["queued"] in (0, 1), queued.data
    tested = client_a.post(sso(directory, f"/{READY_DOMAIN}/test-sign-in"))
    assert tested.status_code == 200, tested.data
    assert (tested.data["passed"], tested.data["user"]) == (True, "nina@fabrikam.com"), tested.data
    ready = client_a.get(sso(directory, f"/{READY_DOMAIN}/readiness"))
    assert ready.data["ready"] is True, ready.data

    federated = owner_api.post(sso(directory, f"/{READY_DOMAIN}/federate"))
    assert federated.status_code == 200, federated.data
    assert federated.data["state"] == "federated"
    row = {r["domain"]: r for r in client_a.get(sso(directory)).data}[READY_DOMAIN]
    assert (row["microsoft_state"], row["lockstep_state"], row["in_progress"]) == (
        "Federated",
        "federated",
        True,
    )

    assert federated.data["signed_requests"] is False
    signed = owner_api.post(sso(directory, f"/{READY_DOMAIN}/signed-requests"), {"required": True})
    assert signed.status_code == 200, signed.data
    assert (signed.data["state"], signed.data["signed_requests"]) == ("federated", True)
    assert sim.sim.tenant.domains[READY_DOMAIN].federation["isSignedAuthenticationRequestRequired"] is True
    assert {r["domain"]: r for r in client_a.get(sso(directory)).data}[READY_DOMAIN]["signed_requests"]
    for bad in ({"required": "yes"}, {}, {"required": True, "other": 1}):
        refused = owner_api.post(sso(directory, f"/{READY_DOMAIN}/signed-requests"), bad)
        assert refused.status_code == 422, (bad, refused.data)
    not_owner = client_a.post(sso(directory, f"/{READY_DOMAIN}/signed-requests"), {"required": False})
    assert not_owner.status_code == 403, not_owner.data
    assert sim.sim.tenant.domains[READY_DOMAIN].federation["isSignedAuthenticationRequestRequired"] is True

    rolled = owner_api.post(sso(directory, f"/{READY_DOMAIN}/roll-back"))
    assert rolled.status_code == 200, rolled.data
    assert rolled.data["state"] == "rolled_back"
    row = {r["domain"]: r for r in client_a.get(sso(directory)).data}[READY_DOMAIN]
    assert (row["microsoft_state"], row["lockstep_state"]) == ("Managed", "rolled_back")


def test_key_rotation_over_http(owner_api: JsonClient, client_a: JsonClient, directory: Directory) -> None:
    published = owner_api.post("sso/keys/next")
    assert published.status_code == 200, published.data
    assert published.data["status"] == "next"
    listed = {k["fingerprint"]: k["status"] for k in client_a.get("sso/keys").data}
    assert listed[published.data["fingerprint"]] == "next"
    assert "active" in listed.values()
    # (no federated domain here: nothing to wait for; the wait is in test_sso_cli_process.py)
    promoted = owner_api.post("sso/keys/promote")
    assert promoted.status_code == 200, promoted.data
    assert (promoted.data["fingerprint"], promoted.data["status"]) == (
        published.data["fingerprint"],
        "active",
    )
    again = owner_api.post("sso/keys/promote")
    assert again.status_code == 409, again.data

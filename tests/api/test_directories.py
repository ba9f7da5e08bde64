"""/api/v1 Microsoft 365 routes against m365sim over HTTPS: directories, bindings, held writes,
settings, plan, export, import and groups."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from lockstep.directory.actors import Actor
from lockstep.directory.models import User
from lockstep.directory.services import groups, users
from lockstep.m365 import sync_loop
from lockstep.m365.models import Directory, HeldWrite, ImportBatch, ImportScan, SyncStatus, UserBinding
from lockstep.m365.services import imports
from lockstep.testing.m365 import directory_fields
from m365sim.testing import SimServer

from .conftest import JsonClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(api: Client) -> JsonClient:
    return JsonClient(api)


@pytest.fixture
def directory(client: JsonClient, sim: SimServer) -> dict[str, Any]:
    response = client.post("directories", directory_fields(sim))
    assert response.status_code == 201, response.data
    return dict(response.data["directory"])


def sync() -> None:
    for _ in range(5):
        if not sync_loop.run_once(ports=sync_loop.PortCache()):
            return


def person(actor: Actor, username: str, domain: str = "contoso.com") -> User:
    return users.create_user(
        actor=actor,
        fields={"username": username, "email": f"{username}@{domain}", "first_name": username.title()},
    )


# --- directories ----------------------------------------------------------------------------------------


def test_add_with_secret_verifies_and_never_returns_the_secret(client: JsonClient, sim: SimServer) -> None:
    response = client.post("directories", directory_fields(sim))
    assert response.status_code == 201
    assert sim.client_secret not in response.content.decode()
    created = response.data["directory"]
    assert created["health"] == "ok" and created["verification"]["token_ok"] is True
    assert created["verification"]["missing_permissions"] == []
    assert "User Administrator" in created["verification"]["roles"]
    domains = {d["name"]: d for d in created["domains"]}
    assert domains["contoso.com"]["is_default"] and domains["contoso.com"]["is_verified"]
    assert not domains["northwind.example"]["is_verified"]
    assert response.data["certificate_pem"] == ""
    assert response.data["consent_url"].startswith(f"{sim.login_base_url}/{sim.tenant_id}/adminconsent?")
    listed = client.get("directories")
    assert [d["id"] for d in listed.data["items"]] == [created["id"]]
    one = client.get(f"directories/{created['id']}")
    assert one.status_code == 200 and sim.client_secret not in one.content.decode()


def test_add_with_generated_certificate_returns_it_once(client: JsonClient, sim: SimServer) -> None:
    body = directory_fields(sim, credential_kind="certificate")
    body.pop("client_secret")
    response = client.post("directories", body)
    assert response.status_code == 201
    assert response.data["certificate_pem"].startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE KEY" not in response.content.decode()
    again = client.get(f"directories/{response.data['directory']['id']}")
    assert "BEGIN CERTIFICATE" not in again.content.decode()
    assert again.data["health"] == "red" and again.data["has_certificate"] is True
    assert len(again.data["certificate_thumbprint"]) == 40


def test_a_certificate_for_a_long_non_ascii_name_is_generated(client: JsonClient, sim: SimServer) -> None:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    name = (
        "Überseeische Zweigniederlassung Østfold-Ålesund Åkersberga"  # 57 characters, 62 bytes + "Lockstep "
    )
    body = {**directory_fields(sim, credential_kind="certificate", name=name)}
    body.pop("client_secret")
    response = client.post("directories", body)
    assert response.status_code == 201, response.content
    cert = x509.load_pem_x509_certificate(response.data["certificate_pem"].encode())
    [cn] = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert len(str(cn.value).encode()) <= 64 and str(cn.value).startswith("Lockstep Überseeische")


def test_the_common_name_is_cut_by_bytes_never_inside_a_character() -> None:
    from lockstep.m365.credentials import common_name

    assert common_name("a" * 64) == "a" * 64  # the limit itself
    assert common_name("a" * 65) == "a" * 64
    assert common_name("a" * 63 + "é") == "a" * 63  # é is two bytes: it would be the 65th
    assert common_name("   ") == "Lockstep"


def test_bad_input_names_each_field(client: JsonClient, sim: SimServer) -> None:
    response = client.post(
        "directories", directory_fields(sim, tenant_id="", cloud="custom", login_base_url="http://x")
    )
    assert response.status_code == 422
    assert response.data["error"]["fields"]["tenant_id"] == ["This field is required."]
    assert "login_base_url" in response.data["error"]["fields"]
    unknown = client.post("directories", {**directory_fields(sim), "organization_id": 5})
    assert unknown.status_code == 422 and unknown.data["error"]["fields"] == {
        "organization_id": ["Unknown field."]
    }
    assert not Directory.objects.exists()


def test_godaddy_tenant_and_duplicate_domain_are_refused(client: JsonClient, sim: SimServer) -> None:
    assert client.post("directories", directory_fields(sim)).status_code == 201
    twice = client.post("directories", directory_fields(sim, name="Again"))
    assert (
        twice.status_code == 409 and "already served by another directory" in twice.data["error"]["message"]
    )
    sim.reset("godaddy")
    refused = client.post("directories", directory_fields(sim, name="Bakery"))
    assert refused.status_code == 409
    assert "operated by GoDaddy" in refused.data["error"]["fields"]["tenant_id"][0]


def test_verify_health_consent_and_settings(
    client: JsonClient, directory: dict[str, Any], sim: SimServer
) -> None:
    pk = directory["id"]
    sim.set_consent(sim.client_id, False)
    verified = client.post(f"directories/{pk}/verify")
    assert verified.status_code == 200 and verified.data["health"] == "red"
    assert "User.ReadWrite.All" in verified.data["verification"]["missing_permissions"]
    health = client.get(f"directories/{pk}/health")
    assert health.status_code == 200 and health.data["health"] == "red"
    assert health.data["queue_depth"] == 0 and health.data["oldest_pending_age_seconds"] == 0
    assert set(health.data["budget_in_use"]) == {"resource_units", "writes"}
    link = client.get(f"directories/{pk}/consent-link?redirect_uri=https://lockstep.example/done")
    assert "redirect_uri=https%3A%2F%2Flockstep.example%2Fdone" in link.data["url"]
    updated = client.patch(
        f"directories/{pk}/settings", {"managed_attributes": ["displayName"], "brake_count": 3}
    )
    assert updated.status_code == 200
    assert updated.data["managed_attributes"] == ["displayName"] and updated.data["brake_count"] == 3
    assert updated.data["brake_percent"] == 5 and updated.data["brake_window_minutes"] == 10
    window = client.patch(f"directories/{pk}/settings", {"brake_window_minutes": 15})
    assert window.status_code == 200 and window.data["brake_window_minutes"] == 15
    assert window.data["brake_count"] == 3  # the fields not sent keep their values
    no_window = client.patch(f"directories/{pk}/settings", {"brake_window_minutes": 0})
    assert no_window.status_code == 422 and "window_minutes" in no_window.data["error"]["fields"]
    bad = client.patch(
        f"directories/{pk}/settings", {"brake_percent": 101, "managed_attributes": ["password"]}
    )
    assert bad.status_code == 422 and "percent" in bad.data["error"]["fields"]


# --- bindings -------------------------------------------------------------------------------------------


def test_bind_sync_plan_export_unbind(
    client: JsonClient, directory: dict[str, Any], actor: Actor, sim: SimServer
) -> None:
    pk = directory["id"]
    user = person(actor, "nestor")
    outsider = person(actor, "outsider", "northwind.example")
    refused = client.post(f"users/{outsider.pk}/bindings", {"directory_id": pk})
    assert refused.status_code == 409 and "northwind.example" in refused.data["error"]["message"]
    bound = client.post(f"users/{user.pk}/bindings", {"directory_id": pk})
    assert bound.status_code == 201 and bound.data["status"] == "pending"
    plan = client.get(f"directories/{pk}/plan")
    assert plan.data["total"] == 1 and plan.data["writes"][0]["operation"] == "create_user"
    assert "passwordProfile (not shown)" in plan.data["writes"][0]["description"]
    assert client.get(f"directories/{pk}/health").data["queue_depth"] == 1
    sync()
    status = client.get(f"users/{user.pk}/bindings/{pk}")
    assert status.data["remote_upn"] == "nestor@contoso.com" and status.data["remote_id"]
    # Staged, no password: created with an unknown random password until the first portal login.
    assert status.data["status"] == "waiting_login"
    assert "first User Portal login" in status.data["status_words"]
    assert [b["directory_name"] for b in client.get(f"users/{user.pk}/bindings").data] == ["Contoso 365"]
    export = client.client.get(f"/api/v1/directories/{pk}/export")
    assert export["Content-Type"].startswith("text/csv")
    assert "user,nestor,nestor@contoso.com" in export.content.decode()
    statuses = client.get(f"directories/{pk}/bindings")
    assert [(b["kind"], b["name"], b["status"]) for b in statuses.data] == [
        ("user", "nestor", "waiting_login")
    ]
    assert client.get(f"directories/{pk}/bindings?problems_only=true").data == []
    assert client.delete(f"users/{user.pk}/bindings/{pk}").status_code == 204
    sync()
    assert sim.sim.tenant.find_user("nestor@contoso.com")["accountEnabled"] is False


def test_delete_account_needs_confirmation(
    client: JsonClient, directory: dict[str, Any], actor: Actor, sim: SimServer
) -> None:
    pk = directory["id"]
    user = person(actor, "stella")
    client.post(f"users/{user.pk}/bindings", {"directory_id": pk})
    sync()
    refused = client.post(f"users/{user.pk}/bindings/{pk}/delete-account", {"confirm": False})
    assert refused.status_code == 422 and "30 days" in refused.data["error"]["fields"]["confirm"][0]
    deleted = client.post(f"users/{user.pk}/bindings/{pk}/delete-account", {"confirm": True})
    assert deleted.status_code == 200 and "recycle bin" in deleted.data["message"]
    assert sim.sim.tenant.find_user("stella@contoso.com") is None
    assert client.get(f"users/{user.pk}/bindings/{pk}").status_code == 404
    nothing = client.post(f"users/{user.pk}/bindings/{pk}/restore")
    assert nothing.status_code == 404


def test_held_writes(client: JsonClient, directory: dict[str, Any], actor: Actor) -> None:
    pk = directory["id"]
    held = []
    for name in ("h.one", "h.two"):
        binding = UserBinding.objects.create(
            directory_id=pk, user=person(actor, name), remote_id=f"r-{name}", status=SyncStatus.HELD
        )
        held.append(HeldWrite.objects.create(directory_id=pk, binding=binding, operation="disable"))
    listed = client.get(f"directories/{pk}/held-writes")
    assert [h["username"] for h in listed.data] == ["h.one", "h.two"]
    assert client.post(f"directories/{pk}/held-writes/approve", {"held_ids": [held[0].pk]}).data == {
        "decided": 1
    }
    assert client.post(f"directories/{pk}/held-writes/reject", {"held_ids": [held[1].pk]}).data == {
        "decided": 1
    }
    again = client.post(f"directories/{pk}/held-writes/reject", {"held_ids": [held[1].pk]})
    assert again.status_code == 404
    assert client.get(f"directories/{pk}/held-writes").data == []


def test_group_binding(client: JsonClient, directory: dict[str, Any], actor: Actor) -> None:
    group = groups.create_group(actor=actor, fields={"name": "Pilots"})
    bound = client.post(f"groups/{group.pk}/bindings", {"directory_id": directory["id"]})
    assert bound.status_code == 201
    sync()
    assert client.get(f"groups/{group.pk}/bindings").data[0]["status"] == "synced"
    twice = client.post(f"groups/{group.pk}/bindings", {"directory_id": directory["id"]})
    assert twice.status_code == 409


# --- import ------------------------------------------------------------------------------------------


def test_import_flow(client: JsonClient, directory: dict[str, Any], actor: Actor, sim: SimServer) -> None:
    pk = directory["id"]
    person(actor, "adele.vance")
    assert client.get(f"directories/{pk}/scans/latest").status_code == 404
    assert client.get(f"directories/{pk}/candidates").data == {
        "scan_id": None,
        "total": 0,
        "items": [],
        "next_cursor": None,
    }
    started = client.post(f"directories/{pk}/scans")
    assert started.status_code == 202 and started.data["state"] == "queued"
    busy = client.post(f"directories/{pk}/scans")
    assert busy.status_code == 409
    imports.run_scan(scan_id=started.data["id"])  # what the worker does
    latest = client.get(f"directories/{pk}/scans/latest")
    assert latest.data["state"] == "done" and latest.data["users_seen"] == 49
    first = client.get(f"directories/{pk}/candidates?limit=20")
    assert first.data["total"] == 49 and len(first.data["items"]) == 20
    second = client.get(f"directories/{pk}/candidates?limit=20&cursor={first.data['next_cursor']}")
    assert not {c["id"] for c in first.data["items"]} & {c["id"] for c in second.data["items"]}
    matched = client.get(f"directories/{pk}/candidates?status=matched")
    assert [c["upn"] for c in matched.data["items"]] == ["adele.vance@contoso.com"]
    admins = client.get(f"directories/{pk}/candidates?admin=true")
    assert admins.data["total"] >= 1 and all(c["admin"] for c in admins.data["items"])
    bad = client.get(f"directories/{pk}/candidates?status=weird")
    assert bad.status_code == 422

    alex = client.get(f"directories/{pk}/candidates?search=alex.braun@").data["items"][0]
    adele = matched.data["items"][0]
    plan = client.get(f"import-candidates/{alex['id']}/plan")
    assert plan.data["action"] == "create" and any(
        c["property"] == "onPremisesImmutableId" for c in plan.data["changes"]
    )
    body = {"candidate_ids": [alex["id"], adele["id"]], "state": "active"}
    preview = client.post(f"directories/{pk}/imports/preview", body)
    assert (preview.data["would_create"], preview.data["would_bind"]) == (1, 1)
    assert all("password" not in str(w["body"]) for w in preview.data["writes"])
    both = client.post(f"directories/{pk}/imports/preview", {**body, "filter": {"search": "x"}})
    assert both.status_code == 422
    batch = client.post(f"directories/{pk}/imports", body)
    assert batch.status_code == 202 and batch.data["state"] == "running" and batch.data["requested"] == 2
    imports.run_import(batch_id=batch.data["id"])
    done = client.get(f"imports/{batch.data['id']}")
    assert (
        done.data["state"] == "done" and done.data["created_users"] == 1 and done.data["bound_existing"] == 1
    )
    items = client.get(f"imports/{batch.data['id']}/items")
    assert sorted(i["outcome"] for i in items.data["items"]) == ["bound", "created"]
    assert [b["id"] for b in client.get(f"directories/{pk}/imports").data["items"]] == [batch.data["id"]]
    assert User.objects.get(email="alex.braun@contoso.com").state == "active"
    undone = client.post(f"imports/{batch.data['id']}/undo")
    assert undone.status_code == 200 and undone.data["state"] == "undone"
    assert not User.objects.filter(email="alex.braun@contoso.com").exists()
    assert client.post(f"imports/{batch.data['id']}/undo").status_code == 409
    usage = client.get("usage-report")
    assert usage.data["removed_by_undo"] == 1 and usage.data["directories"][0]["removed_by_undo"] == 1
    assert ImportScan.objects.count() == 1 and ImportBatch.objects.count() == 1


def test_remote_groups(client: JsonClient, directory: dict[str, Any], sim: SimServer) -> None:
    pk = directory["id"]
    listed = client.get(f"directories/{pk}/remote-groups")
    kinds = {g["display_name"]: (g["kind"], g["importable"]) for g in listed.data}
    assert kinds["Engineering"] == ("security", True)
    assert kinds["All Company"] == ("unified", False)
    assert kinds["Sales Distribution List"] == ("distribution", False)
    ids = {g["display_name"]: g["remote_id"] for g in listed.data}
    outcome = client.post(
        f"directories/{pk}/remote-groups/import", {"remote_ids": [ids["Engineering"], ids["All Company"]]}
    )
    assert [o["outcome"] for o in outcome.data] == ["imported", "refused"]
    assert "read-only" in outcome.data[1]["reason"]


def test_deactivate(client: JsonClient, directory: dict[str, Any], actor: Actor, sim: SimServer) -> None:
    pk = directory["id"]
    user = person(actor, "kept")
    client.post(f"users/{user.pk}/bindings", {"directory_id": pk})
    sync()
    wrong = client.post(f"directories/{pk}/deactivate", {"confirmation": "contoso"})
    assert (
        wrong.status_code == 422
        and "Reactivating starts from nothing" in wrong.data["error"]["fields"]["confirmation"][0]
    )
    done = client.post(f"directories/{pk}/deactivate", {"confirmation": "Contoso 365"})
    assert done.status_code == 200 and done.data["user_bindings"] == 1
    assert client.get(f"directories/{pk}").status_code == 404
    assert sim.sim.tenant.find_user("kept@contoso.com")["accountEnabled"] is True


def test_a_microsoft_365_refusal_is_a_409_in_plain_words(
    client: JsonClient, directory: dict[str, Any], sim: SimServer
) -> None:
    fault = sim.sim.faults.add("consent_revoked")
    try:
        refused = client.get(f"directories/{directory['id']}/remote-groups")
    finally:
        sim.sim.faults.remove(fault.id)
    assert refused.status_code == 409, refused.data
    error = refused.data["error"]
    assert error["code"] == "conflict" and error["fields"] == {"directory_id": [error["message"]]}
    assert "permission" in error["message"].lower() or "consent" in error["message"].lower()
    assert "AccessDenied" not in error["message"]  # plain words, not the Graph client's type


@pytest.mark.parametrize(
    ("tenant_id", "accepted"),
    [
        ("7c6f3b2a-4d5e-4f60-8a1b-2c3d4e5f6a7b", True),
        ("contoso.onmicrosoft.com", True),
        ("contoso", False),  # one label is no domain name
        ("7c6f3b2a-4d5e-4f60-8a1b-2c3d4e5f6a7", False),  # a GUID one digit short
        ("contoso.com/../evil", False),
        ("x" * 250 + ".com", False),  # beyond 253 characters
    ],
)
def test_a_tenant_id_is_a_guid_or_a_domain_name(
    client: JsonClient, sim: SimServer, tenant_id: str, accepted: bool
) -> None:
    response = client.post("directories", directory_fields(sim, name="Real", tenant_id=tenant_id))
    fields = (response.data.get("error") or {}).get("fields", {}) if response.status_code >= 400 else {}
    assert ("tenant_id" not in fields) is accepted, response.data
    if not accepted:
        assert response.status_code == 422
        assert fields["tenant_id"] == ["Must be the tenant's id (a GUID) or one of its domain names."]
        assert not Directory.objects.filter(name="Real").exists()


def test_custom_endpoints_need_the_deployment_to_allow_them(
    client: JsonClient, sim: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCKSTEP_ALLOW_CUSTOM_ENDPOINTS", "false")
    response = client.post("directories", directory_fields(sim))
    assert response.status_code == 422
    assert "LOCKSTEP_ALLOW_CUSTOM_ENDPOINTS" in response.data["error"]["fields"]["cloud"][0]
    assert not Directory.objects.exists()
    monkeypatch.setenv("LOCKSTEP_ALLOW_CUSTOM_ENDPOINTS", "true")
    assert client.post("directories", directory_fields(sim)).status_code == 201

"""The Microsoft 365 pages of the Admin Portal against m365sim over HTTPS (Django test client)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from lockstep.directory.actors import Actor
from lockstep.directory.models import Group, User
from lockstep.directory.services import groups, users
from lockstep.m365.models import (
    Directory,
    GroupBinding,
    HeldWrite,
    ImportBatch,
    ImportCandidate,
    ImportScan,
    SyncStatus,
    UserBinding,
)
from lockstep.m365.services import accounts, imports
from lockstep.testing.m365 import sync_until_settled
from m365sim.testing import SimServer

from ..conftest import directory_fields


def html(response: Any) -> str:
    return response.content.decode()


def text(response: Any) -> str:
    """The page's visible text, tags removed and whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html(response)).split())


def sync() -> None:
    sync_until_settled()


def new_user(actor: Actor, username: str, domain: str = "contoso.com") -> User:
    return users.create_user(
        actor=actor,
        fields={
            "username": username,
            "email": f"{username}@{domain}",
            "first_name": username.title(),
            "last_name": "Tester",
        },
    )


def post_directory(client: Client, sim: SimServer, **overrides: Any) -> Any:
    fields = {**directory_fields(sim), "godaddy_override": "", **overrides}
    return client.post(reverse("directories:new"), {k: v for k, v in fields.items() if v != ""})


# --- add, verify, detail -------------------------------------------------------------------------------


def test_add_directory_with_secret_verifies_and_shows_domains(admin_client: Client, sim: SimServer) -> None:
    assert "No Microsoft 365 directories" in text(admin_client.get(reverse("directories:list")))
    response = post_directory(admin_client, sim)
    directory = Directory.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "directories:detail", args=[directory.pk]
    )
    page = admin_client.get(response["Location"])
    body = text(page)
    assert "Token obtained." in body and "All application permissions granted." in body
    assert "User Administrator" in body
    assert re.search(r"contoso\.com verified managed default", body)
    assert "northwind.example unverified" in body
    assert "contoso.onmicrosoft.com verified managed initial" in body
    assert f"{sim.login_base_url}/{sim.tenant_id}/adminconsent?client_id={sim.client_id}" in html(page)
    assert sim.client_secret not in html(page)
    listing = text(admin_client.get(reverse("directories:list")))
    assert "Contoso 365" in listing and "Healthy" in listing
    assert "Users counted this month:" in listing


def test_generated_certificate_is_shown_once(admin_client: Client, sim: SimServer) -> None:
    response = post_directory(admin_client, sim, credential_kind="certificate", client_secret="")
    assert response.status_code == 201
    pem = re.search(r"-----BEGIN CERTIFICATE-----[^<]+-----END CERTIFICATE-----", html(response))
    assert pem is not None
    assert "PRIVATE KEY" not in html(response)
    assert "adminconsent" in html(response) and "Verify now" in html(response)
    directory = Directory.objects.get()
    detail = html(admin_client.get(reverse("directories:detail", args=[directory.pk])))
    assert "BEGIN CERTIFICATE" not in detail
    assert "Broken" in detail  # the certificate is not uploaded yet: no token
    assert re.search(r"certificate, thumbprint <code>[0-9A-F]{40}</code>", detail)


def test_bad_input_shows_errors_beside_the_fields(admin_client: Client, sim: SimServer) -> None:
    response = post_directory(admin_client, sim, tenant_id="", cloud="custom", login_base_url="http://x")
    assert response.status_code == 200
    page = html(response)
    assert re.search(r'id="id_tenant_id_error"[^>]*><li>This field is required', page)
    assert re.search(r'id="id_login_base_url_error"[^>]*><li>Required for custom endpoints', page)
    assert not Directory.objects.exists()
    secretless = post_directory(admin_client, sim, client_secret="")
    assert re.search(
        r'id="id_client_secret_error"[^>]*><li>Required when the credential is a client secret',
        html(secretless),
    )


def test_wrong_secret_turns_the_directory_red_with_the_reason(admin_client: Client, sim: SimServer) -> None:
    post_directory(admin_client, sim, client_secret="wrong-secret")
    directory = Directory.objects.get()
    body = text(admin_client.get(reverse("directories:detail", args=[directory.pk])))
    assert "Broken" in body and "No token:" in body


def test_godaddy_tenant_is_refused_with_the_reason(admin_client: Client, sim: SimServer) -> None:
    sim.reset("godaddy")
    response = post_directory(admin_client, sim)
    assert response.status_code == 200
    assert re.search(r'id="id_tenant_id_error"[^>]*><li>This tenant is operated by GoDaddy', html(response))
    assert not Directory.objects.exists()


def test_verify_now(admin_client: Client, directory: Directory, sim: SimServer) -> None:
    sim.set_consent(sim.client_id, False)
    response = admin_client.post(reverse("directories:verify", args=[directory.pk]), follow=True)
    body = text(response)
    assert "Admin consent has not been granted" in body
    assert "Missing application permission: User.ReadWrite.All" in body
    directory.refresh_from_db()
    assert directory.health == "red"
    assert "Verify now" in body


# --- users and groups ---------------------------------------------------------------------------------


def test_bind_from_the_user_page_then_synced(
    admin_client: Client, directory: Directory, actor: Actor, sim: SimServer
) -> None:
    staged = new_user(actor, "stan")
    admin_client.post(reverse("directories:user_bind", args=[staged.pk]), {"directory_id": directory.pk})
    user = users.create_user(
        actor=actor,
        fields={"username": "nestor", "email": "nestor@contoso.com", "first_name": "Nestor"},
        state="active",
        initial_password="Typed-By-Admin-42x",
    )
    page = admin_client.get(reverse("directories:user", args=[user.pk]))
    assert "Not bound" in text(page)
    response = admin_client.post(
        reverse("directories:user_bind", args=[user.pk]), {"directory_id": directory.pk}
    )
    assert response.status_code == 302
    sync()
    body = text(admin_client.get(reverse("directories:user", args=[user.pk])))
    assert "Synced" in body and "nestor@contoso.com" in body
    assert sim.sim.tenant.find_user("nestor@contoso.com") is not None
    body = text(admin_client.get(reverse("directories:user", args=[staged.pk])))
    assert "Waiting for first portal login" in body


def test_bind_outside_the_verified_domains_shows_the_reason_beside_the_field(
    admin_client: Client, directory: Directory, actor: Actor
) -> None:
    user = new_user(actor, "outsider", domain="northwind.example")
    response = admin_client.post(
        reverse("directories:user_bind", args=[user.pk]), {"directory_id": directory.pk}
    )
    assert response.status_code == 409
    assert re.search(
        r'id="id_directory_id_error"[^>]*><li>The company email&#x27;s domain northwind.example is not a verified domain',
        html(response),
    )
    assert not UserBinding.objects.exists()


def test_unbind_and_delete_account(
    admin_client: Client, directory: Directory, actor: Actor, sim: SimServer
) -> None:
    user = new_user(actor, "stella")
    admin_client.post(reverse("directories:user_bind", args=[user.pk]), {"directory_id": directory.pk})
    sync()
    url = reverse("directories:user_delete_account", args=[user.pk, directory.pk])
    page = text(admin_client.get(url))
    assert "recycle bin" in page and "30 days" in page
    refused = admin_client.post(url, {})
    assert refused.status_code == 422 and "must be confirmed explicitly" in html(refused)
    done = admin_client.post(url, {"confirm": "on"}, follow=True)
    assert "stays in the recycle bin" in text(done)
    assert not UserBinding.objects.filter(user=user).exists()
    assert sim.sim.tenant.find_user("stella@contoso.com") is None

    other = new_user(actor, "otto")
    admin_client.post(reverse("directories:user_bind", args=[other.pk]), {"directory_id": directory.pk})
    response = admin_client.post(
        reverse("directories:user_unbind", args=[other.pk, directory.pk]), follow=True
    )
    assert "Unbinding" in text(response)


def test_restore_is_offered_instead_of_a_duplicate(
    admin_client: Client, directory: Directory, actor: Actor, sim: SimServer
) -> None:
    user = new_user(actor, "rita")
    bind = reverse("directories:user_bind", args=[user.pk])
    admin_client.post(bind, {"directory_id": directory.pk})
    sync()
    first_id = UserBinding.objects.get(user=user).remote_id
    admin_client.post(
        reverse("directories:user_delete_account", args=[user.pk, directory.pk]), {"confirm": "on"}
    )
    admin_client.post(bind, {"directory_id": directory.pk})
    sync()
    binding = UserBinding.objects.get(user=user)
    assert binding.status == SyncStatus.RESTORE_OFFERED
    page = html(admin_client.get(reverse("directories:user", args=[user.pk])))
    assert "Restore the deleted account" in page
    response = admin_client.post(reverse("directories:binding_restore", args=[binding.pk]), follow=True)
    assert "restored and adopted" in text(response)
    sync()
    binding.refresh_from_db()
    assert binding.remote_id == first_id
    assert sim.sim.tenant.find_user("rita@contoso.com")["id"] == first_id


def test_admin_consent_outcome_is_shown(admin_client: Client, directory: Directory) -> None:
    url = reverse("directories:detail", args=[directory.pk])
    state = f"lockstep-directory-{directory.pk}"
    granted = text(admin_client.get(url, {"admin_consent": "True", "state": state, "tenant": "t"}))
    assert "Admin consent granted" in granted
    refused = text(
        admin_client.get(url, {"error": "access_denied", "error_description": "Declined", "state": state})
    )
    assert "Admin consent was not granted: Declined" in refused


def test_group_bind(admin_client: Client, directory: Directory, actor: Actor, sim: SimServer) -> None:
    group = groups.create_group(actor=actor, fields={"name": "Pilots"})
    response = admin_client.post(
        reverse("directories:group_bind", args=[group.pk]), {"directory_id": directory.pk}
    )
    assert response.status_code == 302
    sync()
    assert GroupBinding.objects.get(group=group).status == SyncStatus.SYNCED
    assert "Synced" in text(admin_client.get(reverse("directories:group", args=[group.pk])))
    again = admin_client.post(
        reverse("directories:group_bind", args=[group.pk]), {"directory_id": directory.pk}
    )
    assert again.status_code == 409 and "already bound" in html(again)


# --- import wizard ----------------------------------------------------------------------------------


def test_import_wizard(admin_client: Client, directory: Directory, actor: Actor, sim: SimServer) -> None:
    existing = new_user(actor, "adele.vance")
    page = admin_client.get(reverse("directories:import", args=[directory.pk]))
    assert "No listing yet" in text(page)
    admin_client.post(reverse("directories:import_scan", args=[directory.pk]))
    scan = ImportScan.objects.get()
    polling = html(admin_client.get(reverse("directories:import_progress", args=[directory.pk])))
    assert 'hx-trigger="every 2s"' in polling and "<progress" in polling
    imports.run_scan(scan_id=scan.pk)  # what the worker does
    done = html(admin_client.get(reverse("directories:import_progress", args=[directory.pk])))
    assert "hx-trigger" not in done and "Listed 49 accounts" in done
    # The poll that sees the scan over brings the whole import page in: candidates without a reload.
    polled = admin_client.get(
        reverse("directories:import_progress", args=[directory.pk]),
        headers={"HX-Request": "true", "HX-Target": "scan-progress"},
    )
    assert polled["HX-Retarget"] == polled["HX-Reselect"] == "#import-page"
    assert 'id="import-page"' in html(polled) and "49 accounts match" in text(polled)
    assert 'id="scan-progress" class="progress-box done"' in html(polled)

    page = admin_client.get(reverse("directories:import", args=[directory.pk]), {"q": "adele"})
    body = text(page)
    assert "adele.vance@contoso.com" in body and "matched" in body and "alex.braun" not in body
    admins_only = text(admin_client.get(reverse("directories:import", args=[directory.pk]), {"admin": "yes"}))
    assert "admin role" in admins_only
    fragment = admin_client.get(
        reverse("directories:import", args=[directory.pk]),
        {"q": "alex"},
        headers={"HX-Request": "true", "HX-Target": "candidate-results"},
    )
    assert "<html" not in html(fragment) and "alex.braun@contoso.com" in html(fragment)

    adele = ImportCandidate.objects.get(upn="adele.vance@contoso.com")
    alex = ImportCandidate.objects.get(upn="alex.braun@contoso.com")
    plan = text(admin_client.get(reverse("directories:candidate", args=[directory.pk, alex.pk])))
    assert "Creates a Lockstep user" in plan and "onPremisesImmutableId" in plan
    assert "Update the account" in plan and "Technical details PATCH /users/" in plan

    form = {"scope": "selected", "candidate_ids": [adele.pk, alex.pk], "state": "staged"}
    preview = admin_client.post(reverse("directories:import_preview", args=[directory.pk]), form)
    body = text(preview)
    assert "Lockstep users created 1" in body and "Existing users bound 1" in body
    assert "password" not in body.lower().replace("no passwords", "")
    assert "alex.braun@contoso.com: Update the account" in body and "Technical details PATCH /users/" in body
    started = admin_client.post(reverse("directories:import_start", args=[directory.pk]), form)
    batch = ImportBatch.objects.get()
    assert started["Location"] == reverse("directories:batch", args=[directory.pk, batch.pk])
    running = html(admin_client.get(reverse("directories:batch_progress", args=[directory.pk, batch.pk])))
    assert 'hx-trigger="every 2s"' in running
    imports.run_import(batch_id=batch.pk)
    # The poll that sees the import over brings its results and Undo in, without the polling.
    polled = admin_client.get(
        reverse("directories:batch_progress", args=[directory.pk, batch.pk]),
        headers={"HX-Request": "true", "HX-Target": "batch-progress"},
    )
    assert polled["HX-Retarget"] == "#batch-page" and "hx-trigger" not in html(polled)
    assert "Undo this import" in text(polled) and "alex.braun@contoso.com" in text(polled)
    page = text(admin_client.get(started["Location"]))
    assert "Import done" in page and "1 users created" in page and "Undo this import" in page
    assert UserBinding.objects.filter(user=existing, adopted=True).exists()

    admin_client.post(reverse("directories:batch_undo", args=[directory.pk, batch.pk]))
    batch.refresh_from_db()
    assert batch.state == "undone"
    assert not User.objects.filter(email="alex.braun@contoso.com").exists()
    assert sim.sim.tenant.find_user("alex.braun@contoso.com") is not None  # Microsoft 365 untouched


def test_import_refusals_are_shown(admin_client: Client, directory: Directory) -> None:
    response = admin_client.post(
        reverse("directories:import_preview", args=[directory.pk]), {"scope": "selected", "state": "staged"}
    )
    assert response.status_code == 422
    assert "there is no finished scan" in html(response)


def test_undo_is_offered_for_48_hours_only(admin_client: Client, directory: Directory) -> None:
    batch = ImportBatch.objects.create(directory=directory, state="done")
    url = reverse("directories:batch", args=[directory.pk, batch.pk])
    assert "Undo this import" in html(admin_client.get(url))
    ImportBatch.objects.filter(pk=batch.pk).update(created_at=timezone.now() - timedelta(hours=49))
    assert "Undo this import" not in html(admin_client.get(url))
    refused = admin_client.post(reverse("directories:batch_undo", args=[directory.pk, batch.pk]), follow=True)
    assert "can be undone for 48 hours only" in text(refused)


def test_groups_tab_lists_kinds_and_imports_security_groups(
    admin_client: Client, directory: Directory, sim: SimServer
) -> None:
    body = text(admin_client.get(reverse("directories:groups", args=[directory.pk])))
    assert re.search(r"Engineering .{0,80}Security group importable", body)
    assert re.search(r"All Company .{0,80}Microsoft 365 group read-only", body)
    assert re.search(r"Sales Distribution List .{0,80}Distribution list read-only", body)
    engineering = next(g for g in sim.sim.tenant.groups.values() if g["displayName"] == "Engineering")
    response = admin_client.post(
        reverse("directories:groups_import", args=[directory.pk]),
        {"remote_ids": [engineering["id"]]},
        follow=True,
    )
    assert "Engineering imported" in text(response)
    assert Group.objects.filter(name="Engineering").exists()


# --- brake, settings, plan, export, deactivate --------------------------------------------------------


def test_held_writes_approve_and_reject(admin_client: Client, directory: Directory, actor: Actor) -> None:
    one, two = new_user(actor, "held.one"), new_user(actor, "held.two")
    holds = []
    for user in (one, two):
        binding = UserBinding.objects.create(
            directory=directory, user=user, remote_id=f"r-{user.pk}", status=SyncStatus.HELD
        )
        holds.append(HeldWrite.objects.create(directory=directory, binding=binding, operation="disable"))
    page = text(admin_client.get(reverse("directories:held", args=[directory.pk])))
    assert "held.one" in page and "held.two" in page and "Approve selected" in page
    assert (
        "Block sign-in and end all sessions Account: enabled → blocked Technical details PATCH /users/r-"
        in page
    )
    url = reverse("directories:held_decide", args=[directory.pk])
    admin_client.post(url, {"held_ids": [holds[0].pk], "decision": "approve"})
    admin_client.post(url, {"held_ids": [holds[1].pk], "decision": "reject"})
    assert [h.decision for h in HeldWrite.objects.order_by("pk")] == ["approved", "rejected"]
    assert "Nothing is held" in text(admin_client.get(reverse("directories:held", args=[directory.pk])))


def test_managed_attributes_change_is_previewed(
    admin_client: Client, directory: Directory, actor: Actor
) -> None:
    user = users.create_user(
        actor=actor, fields={"username": "joan", "email": "joan@contoso.com", "first_name": "Joan"}
    )
    admin_client.post(reverse("directories:user_bind", args=[user.pk]), {"directory_id": directory.pk})
    sync()
    accounts.set_managed_attributes(actor=actor, directory_id=directory.pk, attributes=["displayName"])
    users.update_user(actor=actor, user_id=user.pk, changes={"job_title": "Pilot"})
    sync()  # jobTitle is not managed now: Microsoft 365 keeps its own value
    response = admin_client.post(
        reverse("directories:managed", args=[directory.pk]),
        {"managed_attributes": ["displayName", "jobTitle"], "preview": "1"},
    )
    page = html(response)
    assert "Writes this change causes" in page and "jobTitle" in page and "Pilot" in page
    assert "joan: Update the account" in text(response) and "Job title: set to Pilot" in page
    directory.refresh_from_db()
    assert directory.managed_attributes == ["displayName"]  # a preview saves nothing


def test_settings_managed_attributes_and_brake(admin_client: Client, directory: Directory) -> None:
    url = reverse("directories:settings", args=[directory.pk])
    settings_page = html(admin_client.get(url))
    assert "Save thresholds" in settings_page
    assert re.search(r'name="window_minutes"[^>]*value="10"', settings_page)  # the default window
    admin_client.post(
        reverse("directories:managed", args=[directory.pk]),
        {"managed_attributes": ["displayName", "jobTitle"]},
    )
    directory.refresh_from_db()
    assert directory.managed_attributes == ["displayName", "jobTitle"]
    empty = admin_client.post(reverse("directories:managed", args=[directory.pk]), {})
    assert empty.status_code == 422 and "Choose at least one attribute" in html(empty)
    bad = admin_client.post(
        reverse("directories:brake", args=[directory.pk]), {"count": "5", "percent": "150"}
    )
    assert bad.status_code == 422 and re.search(r'id="id_percent_error"[^>]*><li>', html(bad))
    no_window = admin_client.post(
        reverse("directories:brake", args=[directory.pk]),
        {"count": "3", "percent": "2", "window_minutes": "0"},
    )
    assert no_window.status_code == 422 and re.search(
        r'id="id_window_minutes_error"[^>]*><li>', html(no_window)
    )
    admin_client.post(
        reverse("directories:brake", args=[directory.pk]),
        {"count": "3", "percent": "2", "window_minutes": "30"},
    )
    directory.refresh_from_db()
    assert (directory.brake_count, directory.brake_percent, directory.brake_window_minutes) == (3, 2, 30)


def test_plan_shows_pending_writes_without_passwords(
    admin_client: Client, directory: Directory, actor: Actor
) -> None:
    user = users.create_user(
        actor=actor,
        fields={"username": "pam", "email": "pam@contoso.com", "first_name": "Pam"},
        initial_password="Typed-By-Admin-42x",
    )
    admin_client.post(reverse("directories:user_bind", args=[user.pk]), {"directory_id": directory.pk})
    page = html(admin_client.get(reverse("directories:plan", args=[directory.pk])))
    assert "Create the account" in page and "Sign-in name: set to pam@contoso.com" in page
    assert "Password: set (not shown)" in page and "First name: set to Pam" in page
    assert "<summary>Technical details</summary>" in page and "POST /users" in page
    assert "Typed-By-Admin-42x" not in page and "&quot;password&quot;: &quot;(not shown)&quot;" in page


def test_export_csv(admin_client: Client, directory: Directory, actor: Actor) -> None:
    user = new_user(actor, "csv.person")
    admin_client.post(reverse("directories:user_bind", args=[user.pk]), {"directory_id": directory.pk})
    response = admin_client.get(reverse("directories:export", args=[directory.pk]))
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("kind,name,email,remote_id")
    assert lines[1].startswith("user,csv.person,csv.person@contoso.com")


def test_deactivate_needs_the_typed_name_and_leaves_microsoft_365_alone(
    admin_client: Client, directory: Directory, actor: Actor, sim: SimServer
) -> None:
    user = new_user(actor, "kept")
    admin_client.post(reverse("directories:user_bind", args=[user.pk]), {"directory_id": directory.pk})
    sync()
    url = reverse("directories:deactivate", args=[directory.pk])
    page = text(admin_client.get(url))
    assert "permanently deletes everything Lockstep holds" in page
    assert "Reactivating later starts from nothing" in page
    assert "download the bindings" in page
    wrong = admin_client.post(url, {"confirmation": "contoso"})
    assert wrong.status_code == 422
    assert re.search(
        r'id="id_confirmation_error"[^>]*><li>Type the directory&#x27;s name exactly', html(wrong)
    )
    assert Directory.objects.filter(pk=directory.pk).exists()
    done = admin_client.post(url, {"confirmation": "Contoso 365"}, follow=True)
    assert "Contoso 365 deactivated" in text(done)
    assert not Directory.objects.exists() and not UserBinding.objects.exists()
    assert sim.sim.tenant.find_user("kept@contoso.com")["accountEnabled"] is True


# --- roles ------------------------------------------------------------------------------------------


def test_read_only_admin_sees_pages_without_forms_and_gets_403_on_writes(
    read_only_client: Client, directory: Directory, actor: Actor
) -> None:
    user = new_user(actor, "ro.person")
    for url in (
        reverse("directories:list"),
        reverse("directories:detail", args=[directory.pk]),
        reverse("directories:settings", args=[directory.pk]),
        reverse("directories:import", args=[directory.pk]),
        reverse("directories:user", args=[user.pk]),
    ):
        response = read_only_client.get(url)
        assert response.status_code == 200, url
        actions = re.findall(r'<form\b[^>]*method="post"[^>]*action="([^"]*)"', html(response))
        assert set(actions) <= {reverse("console:logout")}, (url, actions)
    assert read_only_client.get(reverse("directories:new")).status_code == 403
    response = read_only_client.post(
        reverse("directories:user_bind", args=[user.pk]), {"directory_id": directory.pk}
    )
    assert response.status_code == 403 and b"read-only" in response.content
    assert not UserBinding.objects.exists()


def test_anonymous_is_sent_to_login(client: Client) -> None:
    response = client.get(reverse("directories:list"))
    assert response.status_code == 302 and reverse("console:login") in response["Location"]


def test_forms_need_the_csrf_token(owner: Any, directory: Directory, actor: Actor) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    session = client.session
    session["mfa_passed"] = True
    session.save()
    user = new_user(actor, "csrf.person")
    refused = client.post(reverse("directories:user_bind", args=[user.pk]), {"directory_id": directory.pk})
    assert refused.status_code == 403 and not UserBinding.objects.exists()
    page = client.get(reverse("directories:user", args=[user.pk]))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html(page))
    assert token is not None
    accepted = client.post(
        reverse("directories:user_bind", args=[user.pk]),
        {"directory_id": directory.pk, "csrfmiddlewaretoken": token.group(1)},
    )
    assert accepted.status_code == 302 and UserBinding.objects.filter(user=user).exists()


def test_a_synced_account_is_flagged_with_its_reason_and_cannot_be_selected(
    admin_client: Client, directory: Directory, actor: Actor, sim: SimServer
) -> None:
    """graph-facts §12.3: an account synced from on-premises AD is never selected for import."""
    imports.scan_candidates(actor=actor, directory_id=directory.pk, wait=True)
    synced = ImportCandidate.objects.get(upn="lee.gu45@contoso.com")
    other = ImportCandidate.objects.get(upn="adele.vance@contoso.com")
    page = html(admin_client.get(reverse("directories:import", args=[directory.pk]), {"q": "lee.gu45"}))
    assert "synced from AD" in page and "Entra Connect is its source of authority" in page
    assert f'value="{synced.pk}"' not in page  # no checkbox
    page = html(admin_client.get(reverse("directories:import", args=[directory.pk]), {"q": "adele.vance"}))
    assert f'value="{other.pk}"' in page and "synced from AD" not in page

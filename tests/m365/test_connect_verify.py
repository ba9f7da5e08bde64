"""Connect and verify a directory against m365sim over HTTPS (SPEC 2.1)."""

from __future__ import annotations

from typing import Any

import pytest

from lockstep.directory import crypto
from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict, ValidationFailed
from lockstep.directory.models import AuditEvent
from lockstep.m365.models import Directory, Health
from lockstep.m365.services import directories
from m365sim.control import add_certificate
from m365sim.testing import SimServer

from .conftest import directory_fields


def test_verify_reports_permissions_roles_and_domains(directory: Directory) -> None:
    report = directory.verification
    assert directory.health == Health.OK, directory.health_reason
    assert report["token_ok"] and report["missing_permissions"] == [] and report["missing_roles"] == []
    assert "User Administrator" in report["roles"]
    assert report["default_domain"] == "contoso.com"
    verified = set(directory.domains.filter(is_verified=True).values_list("name", flat=True))
    assert verified == {"contoso.com", "fabrikam.com", "contoso.onmicrosoft.com"}
    assert directory.domains.filter(name="northwind.example", is_verified=False).exists()


def test_secret_is_encrypted_at_rest_and_never_audited(directory: Directory, sim: SimServer) -> None:
    assert sim.client_secret not in directory.client_secret_encrypted
    assert crypto.decrypt(directory.client_secret_encrypted, context=f"directory:{directory.pk}:secret") == (
        sim.client_secret
    )
    for event in AuditEvent.objects.all():
        assert sim.client_secret not in str(event.after) + str(event.before)


def test_wrong_secret_turns_health_red_with_the_reason(sim: SimServer, actor: Actor) -> None:
    created, _ = directories.add_directory(actor=actor, fields=directory_fields(sim, client_secret="wrong"))
    assert created.health == Health.RED
    assert "secret" in created.health_reason.lower() or "credential" in created.health_reason.lower()


def test_unknown_tenant_is_reported(sim: SimServer, actor: Actor) -> None:
    created, _ = directories.add_directory(
        actor=actor, fields=directory_fields(sim, tenant_id="00000000-0000-0000-0000-000000000000")
    )
    assert created.health == Health.RED and created.health_reason


def test_revoked_consent_names_missing_permissions(sim: SimServer, actor: Actor) -> None:
    sim.sim.faults.add("consent_revoked")
    created, _ = directories.add_directory(actor=actor, fields=directory_fields(sim))
    assert created.health == Health.RED
    assert "consent" in created.health_reason.lower()
    assert "User.ReadWrite.All" in created.verification["missing_permissions"]


def test_second_directory_for_a_served_domain_is_refused(
    directory: Directory, sim: SimServer, other_org: Any
) -> None:
    outsider = Actor.system(other_org.pk)
    with pytest.raises(Conflict) as refused:
        directories.add_directory(actor=outsider, fields=directory_fields(sim, name="Copy"))
    assert "contoso.com" in refused.value.message
    assert not Directory.objects.filter(organization=other_org).exists()


def test_godaddy_tenant_is_refused_unless_overridden(sim: SimServer, actor: Actor) -> None:
    sim.reset("godaddy")
    fields = directory_fields(sim, tenant_id=sim.tenant_id)
    with pytest.raises(Conflict) as refused:
        directories.add_directory(actor=actor, fields=fields)
    assert "GoDaddy" in refused.value.message
    assert not Directory.objects.exists()
    created, _ = directories.add_directory(actor=actor, fields={**fields, "godaddy_override": True})
    assert created.verification["is_godaddy"]


def test_bad_input_names_each_field(actor: Actor) -> None:
    with pytest.raises(ValidationFailed) as failed:
        directories.add_directory(actor=actor, fields={"name": "", "cloud": "mars", "colour": "red"})
    assert {"name", "tenant_id", "client_id", "client_secret", "cloud", "colour"} <= set(failed.value.errors)


def test_generated_certificate_authenticates(sim: SimServer, actor: Actor) -> None:
    created, cert_pem = directories.add_directory(
        actor=actor,
        fields=directory_fields(sim, credential_kind="certificate", client_secret=""),
        verify_now=False,
    )
    assert cert_pem.startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE KEY" not in created.private_key_encrypted
    add_certificate(sim.sim.tenant, sim.client_id, cert_pem)  # the admin uploads it to the app
    report = directories.run_verification(created)
    assert report.token_ok, report.problems


def test_consent_link(directory: Directory, sim: SimServer) -> None:
    url = directories.consent_url(directory, "https://lockstep.example/consent", "xyz")
    assert url.startswith(f"{sim.login_base_url}/{sim.tenant_id}/adminconsent?client_id={sim.client_id}")

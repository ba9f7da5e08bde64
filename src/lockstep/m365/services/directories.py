"""Directories: add, verify, consent link, health (SPEC 2.1)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from lockstep.config import env_bool
from lockstep.directory import audit, crypto
from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict, ValidationFailed, collect
from lockstep.m365 import password_hold, verification_runs, wakeup
from lockstep.m365.credentials import connection_for, generate_certificate, secret_context
from lockstep.m365.graph.clouds import CLOUDS
from lockstep.m365.models import Cloud, CredentialKind, Directory, DirectoryDomain, Health, UserBinding
from lockstep.m365.services.bindings import get_directory
from lockstep.m365.services.errors import microsoft_refusals
from lockstep.m365.verification import VerificationReport


def list_directories(*, actor: Actor) -> QuerySet[Directory]:
    return Directory.objects.filter(organization_id=actor.organization_id).order_by("name")


GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# a DNS name of at least two labels (contoso.com, contoso.onmicrosoft.com), 253 characters at most
DOMAIN_NAME = re.compile(r"(?=.{4,253}\Z)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")


def _clean(fields: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}
    known = {
        "name",
        "tenant_id",
        "client_id",
        "credential_kind",
        "client_secret",
        "cloud",
        "login_base_url",
        "graph_base_url",
        "godaddy_override",
    }
    for field in fields:
        if field not in known:
            collect(errors, field, "Unknown field.")
    cleaned = {k: (v.strip() if isinstance(v, str) else v) for k, v in fields.items() if k in known}
    for field in ("name", "tenant_id", "client_id"):
        if not cleaned.get(field):
            collect(errors, field, "This field is required.")
    tenant = cleaned.get("tenant_id")
    if tenant and not (isinstance(tenant, str) and (GUID.fullmatch(tenant) or DOMAIN_NAME.fullmatch(tenant))):
        collect(errors, "tenant_id", "Must be the tenant's id (a GUID) or one of its domain names.")
    if len(cleaned.get("name", "")) > 100:
        collect(errors, "name", "Must be at most 100 characters.")
    kind = cleaned.setdefault("credential_kind", CredentialKind.SECRET)
    if kind not in CredentialKind.values:
        collect(errors, "credential_kind", "Must be secret or certificate.")
    if kind == CredentialKind.SECRET and not cleaned.get("client_secret"):
        collect(errors, "client_secret", "Required when the credential is a client secret.")
    cloud = cleaned.setdefault("cloud", Cloud.GLOBAL)
    if cloud not in Cloud.values:
        collect(errors, "cloud", f"Must be one of: {', '.join(Cloud.values)}.")
    if cloud == Cloud.CUSTOM and not env_bool("LOCKSTEP_ALLOW_CUSTOM_ENDPOINTS"):
        collect(
            errors,
            "cloud",
            "Custom endpoints are turned off on this deployment (LOCKSTEP_ALLOW_CUSTOM_ENDPOINTS): "
            "choose Microsoft's global, US government or China cloud.",
        )
    elif cloud == Cloud.CUSTOM:
        for field in ("login_base_url", "graph_base_url"):
            if not str(cleaned.get(field, "")).startswith("https://"):
                collect(errors, field, "Required for custom endpoints and must start with https://.")
    return cleaned, errors


def add_directory(*, actor: Actor, fields: dict[str, Any], verify_now: bool = True) -> tuple[Directory, str]:
    """Add a directory; returns it and, for a generated certificate, the certificate PEM to upload.

    The client secret is encrypted at once and never shown again. With `verify_now`, a
    GoDaddy-operated tenant or a domain another directory already serves refuses the add.
    """
    directory, certificate_pem = _create(actor=actor, fields=fields)
    if verify_now:
        # Outside the transaction: no database lock is held while Microsoft 365 answers.
        with microsoft_refusals("directory_id"):
            report = run_verification(
                directory, wait=settings.M365_VERIFY_WAIT_SECONDS, late=_pause_if_unservable
            )
        if report is not None:  # else it finishes in the background (verification_runs)
            try:
                refuse_if_unservable(directory, report)
            except Conflict:
                directory.delete()
                raise
    return directory, certificate_pem


def _pause_if_unservable(directory: Directory, report: VerificationReport) -> None:
    """A new directory whose verification ended after its add was answered: what the add would
    have refused (GoDaddy, a domain another directory serves) turns its sync off instead."""
    try:
        refuse_if_unservable(directory, report)
    except Conflict as refused:
        Directory.objects.filter(pk=directory.pk).update(
            sync_enabled=False, health=Health.RED, health_reason=refused.message
        )


@transaction.atomic
def _create(*, actor: Actor, fields: dict[str, Any]) -> tuple[Directory, str]:
    actor.require_write()
    cleaned, errors = _clean(fields)
    if errors:
        raise ValidationFailed(errors)
    if Directory.objects.filter(organization_id=actor.organization_id, name__iexact=cleaned["name"]).exists():
        raise Conflict("name", f"A directory named {cleaned['name']!r} already exists.")
    secret = cleaned.pop("client_secret", "")
    directory = Directory.objects.create(organization_id=actor.organization_id, **cleaned)
    certificate_pem = ""
    if directory.credential_kind == CredentialKind.SECRET:
        directory.client_secret_encrypted = crypto.encrypt(
            secret, context=secret_context(directory, "secret")
        )
    else:
        certificate_pem, key_pem = generate_certificate(f"Lockstep {directory.name}")
        directory.certificate_pem = certificate_pem
        directory.private_key_encrypted = crypto.encrypt(key_pem, context=secret_context(directory, "key"))
    directory.save()
    audit.record(
        actor=actor,
        action="directory.add",
        target_type="directory",
        target_id=directory.pk,
        target_label=directory.name,
        after={k: v for k, v in cleaned.items() if k != "client_secret"},
    )
    return directory, certificate_pem


def refuse_if_unservable(directory: Directory, report: VerificationReport) -> None:
    if report.is_godaddy and not directory.godaddy_override:
        raise Conflict(
            "tenant_id",
            "This tenant is operated by GoDaddy (" + "; ".join(report.godaddy_signals) + "): its identities "
            "cannot be changed by a third party. Defederate it from GoDaddy first, or set the explicit "
            "GoDaddy override if you are sure.",
        )
    overlap = overlapping_domains(directory)
    if overlap:
        raise Conflict(
            "tenant_id",
            "These domains are already served by another directory in this deployment: "
            + ", ".join(sorted(overlap))
            + ". Deactivate that directory first.",
        )


def overlapping_domains(directory: Directory) -> set[str]:
    mine = set(directory.domains.filter(is_verified=True, is_initial=False).values_list("name", flat=True))
    others = DirectoryDomain.objects.filter(name__in=mine, is_verified=True).exclude(directory=directory)
    return set(others.values_list("name", flat=True))


CONSENT_KEY = "consent_granted_at"


def record_consent(directory: Directory) -> None:
    """Microsoft sent the admin back from the consent page: remember when (graph-facts §12.3)."""
    data = dict(directory.verification or {})
    data[CONSENT_KEY] = timezone.now().isoformat()
    Directory.objects.filter(pk=directory.pk).update(verification=data)
    directory.verification = data


def consent_granted_at(directory: Directory) -> datetime | None:
    value = (directory.verification or {}).get(CONSENT_KEY)
    try:
        return datetime.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


def health_of(report: VerificationReport) -> tuple[str, str]:
    """Red only when nothing can work; a missing permission or role degrades what needs it."""
    if not report.token_ok or report.access_denied:
        return Health.RED, "; ".join(report.problems)
    if not report.granted_permissions and not report.pending:
        return Health.RED, "; ".join(report.problems)
    if report.problems or report.pending:
        return Health.DEGRADED, "; ".join(report.problems + report.pending)
    return Health.OK, ""


def run_verification(
    directory: Directory,
    *,
    wait: float | None = None,
    late: verification_runs.Store | None = None,
    stored: verification_runs.Store | None = None,
) -> VerificationReport | None:
    """Verify against Microsoft 365 and store the result, the domains and the health.

    Returns the report, or None when Microsoft did not answer within `wait` seconds (None: no
    limit): the run then finishes in the background (`verification_runs`), stores its result,
    calls `stored` and `late`. `stored` is called whenever the result is stored.
    """
    consent_at = consent_granted_at(directory)
    roles_were_missing = bool((directory.verification or {}).get("missing_roles"))
    inputs = verification_runs.Inputs(connection_for(directory), directory.client_id, consent_at)

    def store(target: Directory, report: VerificationReport) -> None:
        _store_report(target, report, roles_were_missing=roles_were_missing, consent_at=consent_at)
        if stored is not None:
            stored(target, report)

    def store_late(target: Directory, report: VerificationReport) -> None:
        store(target, report)
        if late is not None:
            late(target, report)

    return verification_runs.run(directory, inputs, store, late=store_late, wait=wait)


def _store_report(
    directory: Directory, report: VerificationReport, *, roles_were_missing: bool, consent_at: datetime | None
) -> None:
    with transaction.atomic():
        if roles_were_missing and report.token_ok and not report.access_denied and not report.missing_roles:
            release_held_passwords(directory)
        if report.domains_read and report.domains:
            directory.domains.all().delete()
            DirectoryDomain.objects.bulk_create(
                [
                    DirectoryDomain(
                        directory=directory,
                        name=d.name,
                        is_verified=d.is_verified,
                        is_default=d.is_default,
                        is_initial=d.is_initial,
                        authentication_type=d.authentication_type,
                    )
                    for d in report.domains
                ]
            )
        directory.verification = report.as_dict()
        if consent_at is not None:
            directory.verification[CONSENT_KEY] = consent_at.isoformat()
        directory.verified_at = timezone.now()
        directory.health, directory.health_reason = health_of(report)
        directory.save(update_fields=["verification", "verified_at", "health", "health_reason"])


def release_held_passwords(directory: Directory) -> int:
    """The role allowing password changes is back: plan the passwords held meanwhile again.

    A held password leaves its binding synced with `password_pending` set, so nothing else
    would send it before an unrelated change or the pending password's expiry.
    """
    now = timezone.now()
    live = UserBinding.objects.filter(directory=directory, unbound=False)
    count = live.filter(password_pending=True).update(
        desired_version=F("desired_version") + 1, changed_at=now
    )
    # A UPN move out of a federated domain, parked because it needs a password: due now.
    count += live.filter(last_error_code=password_hold.MOVE_HELD_CODE).update(
        desired_version=F("desired_version") + 1, changed_at=now, retry_at=None
    )
    if count:
        transaction.on_commit(wakeup.notify)
    return count


def verify_directory(
    *, actor: Actor, directory_id: int, wait: float | None = None
) -> VerificationReport | None:
    """Verify now; the report, or None when it is still running after `wait` seconds (it then
    finishes in the background; None: wait until it ends). Raises `TooBusy` past the
    organization's limit of running verifications."""
    actor.require_write()
    directory = get_directory(actor=actor, directory_id=directory_id)

    def audited(target: Directory, report: VerificationReport) -> None:
        audit.record(
            actor=actor,
            action="directory.verify",
            target_type="directory",
            target_id=target.pk,
            target_label=target.name,
            after={"health": target.health, "problems": report.problems},
        )

    with microsoft_refusals("directory_id"):
        return run_verification(directory, wait=wait, stored=audited)


def consent_url(directory: Directory, redirect_uri: str, state: str) -> str:
    """The admin-consent link for the app (graph-facts §9.3)."""
    if directory.cloud == Cloud.CUSTOM:
        base = directory.login_base_url.rstrip("/")
    else:
        base = CLOUDS[directory.cloud].login_base
    query = urlencode({"client_id": directory.client_id, "state": state, "redirect_uri": redirect_uri})
    return f"{base}/{directory.tenant_id}/adminconsent?{query}"

"""Verify a directory: token, permissions, directory roles, domains, GoDaddy and overlaps.

The checks read Microsoft 365 and return a plain `VerificationReport`; `services.directories`
stores it (its result stays visible) and decides what to refuse.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from lockstep.m365.graph import odata
from lockstep.m365.graph.client import GraphClient
from lockstep.m365.graph.errors import FatalForDirectory, GraphError
from lockstep.m365.permissions import FEATURES_NEEDING, REQUIRED_PERMISSIONS, disabled_features, missing_from

__all__ = ["REQUIRED_PERMISSIONS", "VerificationReport", "verify"]

# Consent and role assignments take minutes to reach tokens (graph-facts §9, §12.3): within
# this long after the admin-consent callback, a token without permissions means "granted,
# not yet in the token", not "not granted".
CONSENT_PROPAGATION = timedelta(minutes=15)
PENDING_WORDS = "granted, may take a few minutes to reach Microsoft's tokens: verify again shortly"

# graph-facts §9.1
ROLE_NAMES = {
    "62e90394-69f5-4237-9190-012177145e10": "Global Administrator",
    "e8611ab8-c189-46e8-94e1-60213ab1f814": "Privileged Role Administrator",
    "fdd7a751-b60b-444a-984c-02652fe8fa1c": "Groups Administrator",
    "fe930be7-5e62-47db-91af-98c3a49a38b1": "User Administrator",
    "7be44c8a-adaf-4e2a-84d6-ab2649e08a13": "Privileged Authentication Administrator",
    "729827e3-9c14-49f7-bb1b-9608f156bbb8": "Helpdesk Administrator",
    "966707d0-3269-4727-9be2-8c3a10f19b9d": "Password Administrator",
    "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2": "Hybrid Identity Administrator",
    "9360feb5-f418-4baa-8175-e2a00bac4301": "Directory Writers",
}
USER_ADMINISTRATOR = "fe930be7-5e62-47db-91af-98c3a49a38b1"
ROLES_COVERING_PASSWORDS = {
    USER_ADMINISTRATOR,
    "62e90394-69f5-4237-9190-012177145e10",
    "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
}

GODADDY_HOSTS = ("godaddy.com", "secureserver.net")
GODADDY_INITIAL = re.compile(r"^netorg\d+\.onmicrosoft\.com$")


@dataclass
class DomainFacts:
    name: str
    is_verified: bool
    is_default: bool
    is_initial: bool
    authentication_type: str
    federation_hosts: list[str] = field(default_factory=list)


@dataclass
class VerificationReport:
    token_ok: bool = False
    token_error: str = ""
    granted_permissions: list[str] = field(default_factory=list)
    missing_permissions: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    missing_roles: list[str] = field(default_factory=list)
    domains: list[DomainFacts] = field(default_factory=list)
    godaddy_signals: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    access_denied: bool = False
    # granted but not yet in the token (graph-facts §12.3): said, never counted as a failure
    pending: list[str] = field(default_factory=list)
    # what the missing permissions and roles disable, in plain words
    disabled_features: list[str] = field(default_factory=list)
    domains_read: bool = False
    roles_checked: bool = False

    @property
    def default_domain(self) -> str:
        return next((d.name for d in self.domains if d.is_default), "")

    @property
    def federated_domains(self) -> list[str]:
        return [d.name for d in self.domains if d.authentication_type == "Federated"]

    @property
    def is_godaddy(self) -> bool:
        # A federated custom domain pointing at GoDaddy's identity service is decisive;
        # the NETORG initial domain alone is only a weak signal (graph-facts §7.2).
        return any(s.startswith("federated") for s in self.godaddy_signals)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["default_domain"] = self.default_domain
        data["federated_domains"] = self.federated_domains
        data["is_godaddy"] = self.is_godaddy
        return data


def token_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT access token, read without verification (it came from the issuer)."""
    try:
        payload = token.split(".")[1]
        return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))
    except (IndexError, ValueError):
        return {}


def _host(url: str | None) -> str:
    return (urlsplit(url).hostname or "").lower() if url else ""


def verify(
    client: GraphClient,
    client_id: str,
    *,
    consent_granted_at: datetime | None = None,
    now: datetime | None = None,
) -> VerificationReport:
    """Check the token, each permission, the app's role and the domains; nothing outside the set.

    `consent_granted_at`: when Microsoft last sent the admin back from the consent page.
    """
    report = VerificationReport()
    client.tokens.invalidate()  # a fresh token: consent granted or revoked since shows at once
    try:
        claims = token_claims(client.tokens.token())
    except GraphError as error:
        report.token_error = error.plain_words
        report.problems.append(f"No token: {error.plain_words}")
        return report
    report.token_ok = True
    granted = sorted(str(r) for r in claims.get("roles", []))
    report.granted_permissions = granted
    missing = missing_from(granted)
    consent_recent = (
        consent_granted_at is not None and (now or _utcnow()) - consent_granted_at < CONSENT_PROPAGATION
    )
    if not granted and consent_recent:
        report.pending.append(f"Admin consent {PENDING_WORDS}.")
        report.missing_permissions = missing
        report.disabled_features = disabled_features(missing)
        return report
    report.missing_permissions = missing
    if not granted:
        report.problems.append("Admin consent has not been granted (the token carries no permissions).")
    else:
        for permission in missing:
            report.problems.append(
                f"Missing application permission {permission}: "
                + ", ".join(FEATURES_NEEDING[permission])
                + " will not work until it is granted."
            )
    if granted:
        _check_roles(client, claims, report, can_list="RoleManagement.Read.Directory" not in missing)
        if "Domain.Read.All" not in missing:
            try:
                _read_domains(client, report)
                report.domains_read = True
            except GraphError as error:
                report.access_denied = report.access_denied or isinstance(error, FatalForDirectory)
                report.problems.append(f"Could not read the domains: {error.plain_words}")
        else:
            report.problems.append(
                "Without Domain.Read.All the tenant's domains cannot be read: users cannot be bound "
                "(their email domain must be a verified domain of the tenant), and the domain-overlap "
                "check and GoDaddy detection cannot run."
            )
    report.disabled_features = disabled_features(missing)
    if report.missing_roles:
        report.disabled_features.append("setting passwords (held until the role is assigned)")
    return report


def _utcnow() -> datetime:
    from django.utils import timezone

    return timezone.now()


def _check_roles(
    client: GraphClient, claims: dict[str, Any], report: VerificationReport, *, can_list: bool
) -> None:
    """The app's directory roles: its role assignments (by the token's `oid`), else the token's `wids`."""
    in_token = {str(w) for w in claims.get("wids", [])}
    principal = str(claims.get("oid", ""))
    if can_list and principal:
        try:
            assigned = {
                str(a.get("roleDefinitionId"))
                for a in client.iterate(
                    "/roleManagement/directory/roleAssignments",
                    params={"$filter": odata.eq("principalId", principal)},
                )
            }
        except GraphError as error:
            report.access_denied = report.access_denied or isinstance(error, FatalForDirectory)
            report.problems.append(f"Could not read the app's directory roles: {error.plain_words}")
            return
        report.roles_checked = True
        report.roles = sorted(ROLE_NAMES.get(r, r) for r in assigned)
        covering = assigned & ROLES_COVERING_PASSWORDS
        if not covering:
            report.missing_roles.append("User Administrator")
            report.problems.append(
                "The app lacks the User Administrator role: passwords are held until it is assigned "
                "(accounts still sync)."
            )
        elif not covering & in_token:
            names = ", ".join(sorted(ROLE_NAMES[r] for r in covering))
            report.pending.append(
                f"Directory role {names} {PENDING_WORDS}; passwords may be refused until then."
            )
        return
    # No RoleManagement.Read.Directory: the token's `wids` is the only (possibly stale) evidence.
    report.roles = sorted(ROLE_NAMES[r] for r in in_token if r in ROLE_NAMES)
    if not in_token & ROLES_COVERING_PASSWORDS:
        report.missing_roles.append("User Administrator")
        report.problems.append(
            "The token shows no User Administrator role and, without RoleManagement.Read.Directory, "
            "the role assignments cannot be checked: passwords are held until the role is assigned."
        )


def _read_domains(client: GraphClient, report: VerificationReport) -> None:
    for domain in client.list_domains():
        facts = DomainFacts(
            name=str(domain.get("id", "")).lower(),
            is_verified=bool(domain.get("isVerified")),
            is_default=bool(domain.get("isDefault")),
            is_initial=bool(domain.get("isInitial")),
            authentication_type=str(domain.get("authenticationType", "Managed")),
        )
        if facts.authentication_type == "Federated":
            try:
                configs = client.list_federation_configurations(facts.name)
            except GraphError as error:
                report.problems.append(f"Could not read the federation of {facts.name}: {error.plain_words}")
                configs = []
            for config in configs:
                for key in (
                    "issuerUri",
                    "passiveSignInUri",
                    "activeSignInUri",
                    "signOutUri",
                    "metadataExchangeUri",
                ):
                    host = _host(config.get(key))  # type: ignore[arg-type]
                    if host and host not in facts.federation_hosts:
                        facts.federation_hosts.append(host)
            if any(h == g or h.endswith("." + g) for h in facts.federation_hosts for g in GODADDY_HOSTS):
                report.godaddy_signals.append(f"federated to GoDaddy: {facts.name}")
        if facts.is_initial and GODADDY_INITIAL.match(facts.name):
            report.godaddy_signals.append(f"initial domain {facts.name} looks like a GoDaddy tenant")
        report.domains.append(facts)

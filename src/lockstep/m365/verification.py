"""Verify a directory: token, permissions, directory roles, domains, GoDaddy and overlaps.

The checks read Microsoft 365 and return a plain `VerificationReport`; `services.directories`
stores it (its result stays visible) and decides what to refuse.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from lockstep.m365.graph.client import GraphClient
from lockstep.m365.graph.errors import FatalForDirectory, GraphError

# Application permissions Lockstep asks for; a broader one satisfies a narrower one.
REQUIRED_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "User.ReadWrite.All": ("User.ReadWrite.All", "Directory.ReadWrite.All"),
    "Group.ReadWrite.All": ("Group.ReadWrite.All", "Directory.ReadWrite.All"),
    "GroupMember.ReadWrite.All": (
        "GroupMember.ReadWrite.All",
        "Group.ReadWrite.All",
        "Directory.ReadWrite.All",
    ),
    "User-PasswordProfile.ReadWrite.All": ("User-PasswordProfile.ReadWrite.All", "Directory.ReadWrite.All"),
    "Domain.Read.All": (
        "Domain.Read.All",
        "Domain.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    ),
    "RoleManagement.Read.Directory": (
        "RoleManagement.Read.Directory",
        "RoleManagement.ReadWrite.Directory",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    ),
}

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


def verify(client: GraphClient, client_id: str) -> VerificationReport:
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
    for needed, satisfied_by in REQUIRED_PERMISSIONS.items():
        if not set(satisfied_by) & set(granted):
            report.missing_permissions.append(needed)
    if report.missing_permissions:
        if not granted:
            report.problems.append("Admin consent has not been granted (the token carries no permissions).")
        else:
            report.problems.append(
                "Missing application permissions: " + ", ".join(report.missing_permissions)
            )
    try:
        principal = client.get_service_principal_by_app_id(client_id)
        role_ids = set()
        if principal is not None:
            role_ids = {
                str(a.get("roleDefinitionId")) for a in client.list_role_assignments(str(principal["id"]))
            }
        report.roles = sorted(ROLE_NAMES.get(r, r) for r in role_ids)
        if not role_ids & ROLES_COVERING_PASSWORDS:
            report.missing_roles.append("User Administrator")
            report.problems.append(
                "The app's service principal lacks the User Administrator role, needed to set passwords."
            )
        _read_domains(client, report)
    except GraphError as error:
        report.access_denied = isinstance(error, FatalForDirectory)
        report.problems.append(error.plain_words)
    return report


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

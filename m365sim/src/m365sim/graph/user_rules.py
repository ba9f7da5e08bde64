"""Validation rules for user writes: UPN, mailNickname, password policy, immutable id,
uniqueness, and the mail -> proxyAddresses rule (graph-facts §1.1-1.4)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from m365sim import passwords
from m365sim.countries import ISO_3166_ALPHA2
from m365sim.errors import bad_request, conflict
from m365sim.state import Tenant

if TYPE_CHECKING:
    from m365sim.simulator import Simulator

UPN_LOCAL = re.compile(r"^[A-Za-z0-9'.\-_!#^~]+$")

NICK_BAD = set('@()\\[]";:<>, ')

SYNCED_READ_ONLY = (
    "Unable to update the specified properties for on-premises mastered Directory Sync objects "
    "or objects currently undergoing migration."
)
# What a cloud write may still change on a user synced from on-premises AD (Entra Connect does
# not sync these): the usage location (licensing), password policies and the SharePoint-held
# profile properties (graph-facts §12.3; microsoft-graph-docs issue 18038).
CLOUD_WRITABLE_WHEN_SYNCED = frozenset(
    {
        "usageLocation",
        "passwordPolicies",
        "customSecurityAttributes",
        "aboutMe",
        "birthday",
        "interests",
        "mySite",
        "pastProjects",
        "responsibilities",
        "schools",
        "skills",
    }
)

WEAK = "The specified password does not comply with password complexity requirements. Please provide a different password."


def validate_upn(t: Tenant, upn: Any) -> str:
    if not isinstance(upn, str) or upn.count("@") != 1:
        raise bad_request("Invalid value specified for property 'userPrincipalName' of resource 'User'.")
    local, domain = upn.split("@")
    if (
        not local
        or len(upn) > 113
        or len(local) > 64
        or len(domain) > 48
        or not UPN_LOCAL.match(local)
        or local.endswith(".")
        or local.startswith(".")
    ):
        raise bad_request("Invalid value specified for property 'userPrincipalName' of resource 'User'.")
    d = t.domain_of(upn)
    if d is None or not d.isVerified:
        raise bad_request(
            "The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization."
        )
    return upn


def validate_nick(nick: Any) -> str:
    if (
        not isinstance(nick, str)
        or not nick
        or len(nick) > 64
        or any(c in NICK_BAD or ord(c) > 127 for c in nick)
    ):
        raise bad_request("Invalid value specified for property 'mailNickname' of resource 'User'.")
    return nick


def is_federated(t: Tenant, upn: str) -> bool:
    d = t.domain_of(upn)
    return d is not None and d.authenticationType == "Federated"


def check_password(
    sim: Simulator, t: Tenant, user: dict[str, Any], password: Any, policies: str | None
) -> None:
    if not isinstance(password, str) or not password:
        raise bad_request("A password must be specified to create a new user.")
    strong = "disablestrongpassword" not in (policies or "").lower()
    names = [user.get("givenName") or "", user.get("surname") or "", t.display_name]
    username = user["userPrincipalName"].split("@")[0]
    reason = passwords.check(password, strong, sim.settings.banned_passwords, names, username)
    if reason == "username":
        raise bad_request(
            "The specified password does not comply with password complexity requirements. Password cannot contain username."
        )
    if reason:
        raise bad_request(WEAK)


def check_immutable(t: Tenant, value: Any, uid: str | None) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not value or "$" in value or "_" in value or len(value) > 256:
        raise bad_request("Invalid value specified for property 'onPremisesImmutableId' of resource 'User'.")
    owner = t.by_immutable.get(value)
    if owner is not None and owner != uid:
        raise conflict("immutableId")


def check_mail_free(sim: Simulator, t: Tenant, mail: str, uid: str | None) -> None:
    key = mail.lower()
    for idx in (t.by_proxy, t.by_mail):
        owner = idx.get(key)
        if owner is not None and owner != uid:
            raise conflict("proxyAddresses")
    if sim.settings.soft_deleted_blocks_conflicts:
        for oid, o in t.deleted.items():
            if oid != uid and any(p.split(":", 1)[-1].lower() == key for p in o.get("proxyAddresses") or []):
                raise conflict("proxyAddresses")


def check_upn_free(sim: Simulator, t: Tenant, upn: str, uid: str | None) -> None:
    owner = t.by_upn.get(upn.lower())
    if owner is not None and owner != uid:
        raise conflict("userPrincipalName")
    if sim.settings.soft_deleted_blocks_conflicts:
        for oid, o in t.deleted.items():
            original = (o.get("_restore") or {}).get("userPrincipalName") or o.get("userPrincipalName")
            if oid != uid and (original or "").lower() == upn.lower():
                raise conflict("userPrincipalName")


def set_mail(u: dict[str, Any], mail: str, t: Tenant | None = None) -> None:
    """mail defines the primary SMTP proxy address; others stay as secondaries (§1.4).

    For a licensed (Exchange) user, addresses outside the tenant's verified domains are dropped.
    """
    old = [p for p in u.get("proxyAddresses") or [] if p.split(":", 1)[-1].lower() != mail.lower()]
    u["mail"] = mail
    proxies = [f"SMTP:{mail}"] + [("smtp:" + p.split(":", 1)[1]) if p.startswith("SMTP:") else p for p in old]
    if t is not None and u.get("assignedLicenses"):
        verified = {d.id.lower() for d in t.verified_domains()}
        proxies = [p for p in proxies if p.rsplit("@", 1)[-1].lower() in verified]
    u["proxyAddresses"] = proxies


def validate_simple_props(body: dict[str, Any]) -> None:
    pol = body.get("passwordPolicies")
    if pol is not None:
        parts = [p.strip() for p in pol.split(",")] if isinstance(pol, str) else [None]
        if any(p not in ("DisableStrongPassword", "DisablePasswordExpiration", "None") for p in parts):
            raise bad_request("Invalid value specified for property 'passwordPolicies' of resource 'User'.")
    for prop, n in (
        ("companyName", 64),
        ("employeeId", 16),
        ("displayName", 256),
        ("givenName", 64),
        ("surname", 64),
        ("jobTitle", 128),
        ("department", 64),
    ):
        if (
            prop in body
            and body[prop] is not None
            and (not isinstance(body[prop], str) or len(body[prop]) > n)
        ):
            raise bad_request(f"Invalid value specified for property '{prop}' of resource 'User'.")
    if "businessPhones" in body and (
        not isinstance(body["businessPhones"], list) or len(body["businessPhones"]) > 1
    ):
        raise bad_request("Invalid value specified for property 'businessPhones' of resource 'User'.")
    if "otherMails" in body:
        om = body["otherMails"]
        if (
            not isinstance(om, list)
            or len(om) > 250
            or any(not isinstance(m, str) or len(m) > 250 or not m.isascii() for m in om)
        ):
            raise bad_request("Invalid value specified for property 'otherMails' of resource 'User'.")
    if (
        "mail" in body
        and body["mail"] is not None
        and (not isinstance(body["mail"], str) or not body["mail"].isascii() or "@" not in body["mail"])
    ):
        raise bad_request("Invalid value specified for property 'mail' of resource 'User'.")


def check_usage_location(sim: Simulator, body: dict[str, Any]) -> None:
    """usageLocation: an ISO 3166-1 alpha-2 code (upper case), graph-facts §12.3."""
    if "usageLocation" not in body:
        return
    value = body["usageLocation"]
    if not isinstance(value, str) or value not in ISO_3166_ALPHA2:
        raise bad_request(sim.settings.invalid_usage_location_message)


def check_synced(user: dict[str, Any], body: dict[str, Any]) -> None:
    """A user synced from on-premises AD: its synced properties are mastered there (§12.3)."""
    if user.get("onPremisesSyncEnabled") and set(body) - CLOUD_WRITABLE_WHEN_SYNCED:
        raise bad_request(SYNCED_READ_ONLY)


def check_federated_move(sim: Simulator, t: Tenant, user: dict[str, Any], body: dict[str, Any]) -> None:
    """A UPN moving into a federated domain needs an immutable id; moving out, a new password (§12.3)."""
    if "userPrincipalName" not in body:
        return
    was = is_federated(t, user["userPrincipalName"])
    will = is_federated(t, body["userPrincipalName"])
    has_anchor = bool(body.get("onPremisesImmutableId") or user.get("onPremisesImmutableId"))
    if will and not was and sim.settings.federated_upn_move_in_requires_immutable_id and not has_anchor:
        raise bad_request(sim.settings.federated_upn_move_in_message)
    if was and not will and sim.settings.federated_upn_move_out_requires_password:
        profile = body.get("passwordProfile")
        if not isinstance(profile, dict) or not profile.get("password"):
            raise bad_request(sim.settings.federated_upn_move_out_message)

"""How a Lockstep user or group looks in Microsoft 365 (the desired state)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from lockstep.directory.models import Group, User, UserState
from lockstep.m365.reconcile import DesiredGroup, DesiredUser

ACCOUNT_SELECT = (
    "id",
    "userPrincipalName",
    "mail",
    "proxyAddresses",
    "displayName",
    "givenName",
    "surname",
    "jobTitle",
    "department",
    "businessPhones",
    "mobilePhone",
    "employeeId",
    "usageLocation",
    "accountEnabled",
    "onPremisesImmutableId",
    "onPremisesSyncEnabled",
)
"""The `$select` Lockstep reads an account with: identity, addresses, every mapped attribute and
whether Entra Connect syncs it from on-premises AD (then it is never adopted)."""

SYNCED_FROM_ON_PREMISES = (
    "Synchronised from on-premises Active Directory: Entra Connect is its source of authority, and "
    "Microsoft 365 refuses cloud changes to its synced properties, so Lockstep never takes it over. "
    "Manage it in Active Directory, or stop syncing it there (it becomes a cloud account) first."
)


def synced_from_on_premises(account: Mapping[str, Any]) -> bool:
    """Whether Entra Connect syncs this account from on-premises AD (graph-facts §12.3)."""
    return account.get("onPremisesSyncEnabled") is True


_NICKNAME_UNSAFE = re.compile(r"[^A-Za-z0-9.\-_'!#^~]")


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].lower()


def mail_nickname(value: str) -> str:
    """A mailNickname Graph accepts: ASCII without @ () \\ [] " ; : <> , or space; at most 64."""
    cleaned = _NICKNAME_UNSAFE.sub("", value.split("@", 1)[0])
    return (cleaned or "user")[:64]


def desired_user(user: User) -> DesiredUser:
    attributes = {
        "displayName": user.display_name,
        "givenName": user.first_name,
        "surname": user.last_name,
        "jobTitle": user.job_title,
        "department": user.department,
        "businessPhones": [user.business_phone] if user.business_phone else [],
        "mobilePhone": user.mobile_phone,
        "employeeId": user.employee_id,
        "usageLocation": user.usage_location,
    }
    return DesiredUser(
        user_principal_name=user.email,
        mail_nickname=mail_nickname(user.email),
        immutable_id=user.immutable_id,
        account_enabled=user.state != UserState.SUSPENDED,
        attributes=attributes,
    )


def desired_group(group: Group, member_remote_ids: frozenset[str]) -> DesiredGroup:
    return DesiredGroup(
        display_name=group.name,
        mail_nickname=mail_nickname(re.sub(r"\s+", "-", group.name.lower())) + f"-{group.pk}",
        description=group.description or None,
        member_remote_ids=member_remote_ids,
    )

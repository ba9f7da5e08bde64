"""Typed shapes of the Graph bodies Lockstep sends and reads (users, groups, domains, ...)."""

from __future__ import annotations

from typing import Any, TypedDict

USER_SELECT = (
    "id",
    "userPrincipalName",
    "displayName",
    "givenName",
    "surname",
    "mail",
    "mailNickname",
    "accountEnabled",
    "usageLocation",
    "onPremisesImmutableId",
    "proxyAddresses",
    "otherMails",
    "jobTitle",
    "department",
    "employeeId",
    "mobilePhone",
    "businessPhones",
    "officeLocation",
    "preferredLanguage",
    "companyName",
    "assignedLicenses",
    "userType",
    "createdDateTime",
)
"""Properties Lockstep reads for users (many are returned only on `$select`)."""

GROUP_SELECT = (
    "id",
    "displayName",
    "description",
    "mailNickname",
    "mail",
    "mailEnabled",
    "securityEnabled",
    "groupTypes",
    "membershipRule",
    "isAssignableToRole",
    "onPremisesSyncEnabled",
    "createdDateTime",
)


class PasswordProfile(TypedDict, total=False):
    password: str
    forceChangePasswordNextSignIn: bool
    forceChangePasswordNextSignInWithMfa: bool


class UserCreate(TypedDict, total=False):
    """Body of `POST /users`: the first five keys are required by Graph."""

    accountEnabled: bool
    displayName: str
    mailNickname: str
    userPrincipalName: str
    passwordProfile: PasswordProfile
    givenName: str
    surname: str
    mail: str
    usageLocation: str
    onPremisesImmutableId: str
    jobTitle: str
    department: str
    employeeId: str
    mobilePhone: str
    businessPhones: list[str]
    officeLocation: str
    preferredLanguage: str
    companyName: str
    otherMails: list[str]
    passwordPolicies: str


class UserUpdate(TypedDict, total=False):
    """Body of `PATCH /users/{id}`; only the keys present are changed (None clears)."""

    accountEnabled: bool
    displayName: str
    givenName: str | None
    surname: str | None
    mail: str
    mailNickname: str
    userPrincipalName: str
    passwordProfile: PasswordProfile
    usageLocation: str
    onPremisesImmutableId: str | None
    jobTitle: str | None
    department: str | None
    employeeId: str | None
    mobilePhone: str | None
    businessPhones: list[str]
    officeLocation: str | None
    preferredLanguage: str | None
    companyName: str | None
    otherMails: list[str]
    passwordPolicies: str | None


class User(TypedDict, total=False):
    """A user as Graph returns it (which keys appear depends on `$select`)."""

    id: str
    userPrincipalName: str
    displayName: str
    givenName: str | None
    surname: str | None
    mail: str | None
    mailNickname: str
    accountEnabled: bool
    usageLocation: str | None
    onPremisesImmutableId: str | None
    proxyAddresses: list[str]
    otherMails: list[str]
    assignedLicenses: list[dict[str, Any]]
    userType: str
    createdDateTime: str
    deletedDateTime: str | None


class GroupCreate(TypedDict, total=False):
    """Body of `POST /groups` (a security group: mailEnabled false, securityEnabled true)."""

    displayName: str
    mailNickname: str
    mailEnabled: bool
    securityEnabled: bool
    groupTypes: list[str]
    description: str
    isAssignableToRole: bool


class GroupUpdate(TypedDict, total=False):
    displayName: str
    description: str | None
    mailNickname: str


class Group(TypedDict, total=False):
    id: str
    displayName: str
    description: str | None
    mailNickname: str
    mail: str | None
    mailEnabled: bool
    securityEnabled: bool
    groupTypes: list[str]
    membershipRule: str | None


class Domain(TypedDict, total=False):
    id: str
    authenticationType: str
    isDefault: bool
    isInitial: bool
    isRoot: bool
    isVerified: bool
    isAdminManaged: bool
    supportedServices: list[str]
    passwordValidityPeriodInDays: int | None
    passwordNotificationWindowInDays: int | None


class InternalDomainFederation(TypedDict, total=False):
    id: str
    displayName: str
    issuerUri: str
    metadataExchangeUri: str | None
    passiveSignInUri: str
    activeSignInUri: str | None
    signOutUri: str
    signingCertificate: str
    nextSigningCertificate: str | None
    preferredAuthenticationProtocol: str
    promptLoginBehavior: str
    isSignedAuthenticationRequestRequired: bool
    federatedIdpMfaBehavior: str


def security_group(display_name: str, mail_nickname: str, *, description: str | None = None) -> GroupCreate:
    """The body that creates a plain security group."""
    body: GroupCreate = {
        "displayName": display_name,
        "mailNickname": mail_nickname,
        "mailEnabled": False,
        "securityEnabled": True,
        "groupTypes": [],
    }
    if description:
        body["description"] = description
    return body


def group_kind(group: dict[str, Any]) -> str:
    """`security`, `microsoft365`, `mail_security`, `distribution` or `dynamic` (graph-facts §2.1)."""
    types = [str(t) for t in group.get("groupTypes") or []]
    if "DynamicMembership" in types:
        return "dynamic"
    if "Unified" in types:
        return "microsoft365"
    mail, security = bool(group.get("mailEnabled")), bool(group.get("securityEnabled"))
    if security and not mail:
        return "security"
    if security and mail:
        return "mail_security"
    return "distribution"

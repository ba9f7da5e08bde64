"""The records a tenant holds besides users and groups (`state.Tenant`): domains, app
registrations with their secrets and certificates, SKUs, the change log, the request log, the
simulator's settings, and the directory role ids (graph-facts §9.1)."""

from __future__ import annotations

import dataclasses
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

# Directory role template ids (graph-facts §9.1)
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
PRIVILEGED_ROLE_ADMIN = "e8611ab8-c189-46e8-94e1-60213ab1f814"
GROUPS_ADMIN = "fdd7a751-b60b-444a-984c-02652fe8fa1c"
USER_ADMIN = "fe930be7-5e62-47db-91af-98c3a49a38b1"
PRIVILEGED_AUTH_ADMIN = "7be44c8a-adaf-4e2a-84d6-ab2649e08a13"
HELPDESK_ADMIN = "729827e3-9c14-49f7-bb1b-9608f156bbb8"
PASSWORD_ADMIN = "966707d0-3269-4727-9be2-8c3a10f19b9d"
LICENSE_ADMIN = "4d6ac14f-3453-41d0-bef9-a3e0c569773a"
DOMAIN_NAME_ADMIN = "8329153b-31d0-4727-b945-745eb3bc5f31"
EXTERNAL_IDP_ADMIN = "be2f45a1-457d-42af-a067-6ec1fa63bc45"
HYBRID_IDENTITY_ADMIN = "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2"
GLOBAL_READER = "f2ef992c-3afb-46b9-b7cf-a126ee74c451"
DIRECTORY_WRITERS = "9360feb5-f418-4baa-8175-e2a00bac4301"
WIDS_CONSTANT = "0997a1d0-0d1d-4acb-b408-d5ca73121e90"  # always in app-only tokens' wids

ROLE_NAMES: dict[str, str] = {
    GLOBAL_ADMIN: "Global Administrator",
    PRIVILEGED_ROLE_ADMIN: "Privileged Role Administrator",
    GROUPS_ADMIN: "Groups Administrator",
    USER_ADMIN: "User Administrator",
    PRIVILEGED_AUTH_ADMIN: "Privileged Authentication Administrator",
    HELPDESK_ADMIN: "Helpdesk Administrator",
    PASSWORD_ADMIN: "Password Administrator",
    LICENSE_ADMIN: "License Administrator",
    DOMAIN_NAME_ADMIN: "Domain Name Administrator",
    EXTERNAL_IDP_ADMIN: "External Identity Provider Administrator",
    HYBRID_IDENTITY_ADMIN: "Hybrid Identity Administrator",
    GLOBAL_READER: "Global Reader",
    DIRECTORY_WRITERS: "Directory Writers",
}


def new_id() -> str:
    return str(uuid.uuid4())


def now() -> float:
    return time.time()


def iso(ts: float | None = None) -> str:
    """Graph timestamp: ``2024-08-20T04:25:57Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now() if ts is None else ts))


@dataclass
class Settings:
    """Switches for behaviours graph-facts marks UNCERTAIN (documented in README.md)."""

    password_profile_requires_user_admin_role: bool = True  # §1.3
    federated_password_message: str = "Password reset is not supported for users in a federated domain."
    federated_immutable_id_message: str = (
        "Property onPremisesImmutableId cannot be updated for a user in a federated domain."
    )
    federated_create_message: str = "SourceAnchor is a required property for creation of a federated user."
    soft_deleted_blocks_conflicts: bool = False  # §1.6: soft-deleted UPN/proxy block new users?
    populate_mail_on_license: bool = False  # §1.4
    group_mail_nickname_unique_for_security: bool = False  # §2.2: only Unified nicknames unique
    remove_non_member_status: int = 404  # §2.3: 404 or 400
    federate_default_domain_allowed: bool = False  # §8.1
    shuffle_batch_responses: bool = True  # §3
    banned_passwords: list[str] = field(
        default_factory=lambda: ["password", "contoso", "welcome", "letmein", "qwerty", "summer", "winter"]
    )
    soft_delete_days: int = 30
    delta_token_days: int = 7
    token_lifetime_s: int = 3599
    graph_audience: str = "https://graph.microsoft.com"
    throttling_enabled: bool = True
    # graph-facts §12.3 (each UNCERTAIN: the strict variant is the default)
    federated_upn_move_in_requires_immutable_id: bool = True
    federated_upn_move_in_message: str = (
        "Property onPremisesImmutableId is required to move a user into a federated domain."
    )
    federated_upn_move_out_requires_password: bool = True
    federated_upn_move_out_message: str = (
        "A new password (passwordProfile) is required to move a user out of a federated domain."
    )
    invalid_usage_location_message: str = (
        "Invalid value specified for property 'usageLocation' of resource 'User'."
    )
    count_byte_order_mark: bool = True  # GET .../$count answers with a UTF-8 BOM before the number
    batch_mixed_dependencies_message: str = (
        "Invalid batch payload format. A batch must be either fully sequential (every request "
        "depends on the one before it) or fully parallel (no dependsOn)."
    )
    # §12.3: role assignments take minutes to reach tokens; a role assigned less than this many
    # seconds ago is missing from new tokens' `wids` (0: at once, which keeps tests fast)
    token_claims_lag_s: float = 0.0
    replication_lag_seconds: float = (
        0.0  # §12.2: every create/restore/membership change lags (replication.py)
    )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def update(self, values: dict[str, Any]) -> None:
        for k, v in values.items():
            if not hasattr(self, k):
                raise KeyError(k)
            if k == "replication_lag_seconds" and (
                isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 3600
            ):
                raise ValueError("replication_lag_seconds must be a number of seconds from 0 to 3600")
            setattr(self, k, v)


@dataclass
class Domain:
    id: str  # fully qualified name, as given
    authenticationType: str = "Managed"
    isVerified: bool = True
    isDefault: bool = False
    isInitial: bool = False
    isAdminManaged: bool = True
    isRoot: bool = True
    supportedServices: list[str] = field(default_factory=lambda: ["Email", "OfficeCommunicationsOnline"])
    passwordValidityPeriodInDays: int = 2147483647
    passwordNotificationWindowInDays: int = 14
    federation: dict[str, Any] | None = None  # internalDomainFederation (Graph property names)

    def graph(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("federation")
        d.update(availabilityStatus=None, manufacturer=None, model=None, state=None)
        return d


@dataclass
class Secret:
    keyId: str
    secretText: str
    endDateTime: float  # epoch seconds
    displayName: str = "secret"


@dataclass
class Certificate:
    keyId: str
    thumbprint: str  # base64url SHA-1 of the DER (what msal puts in x5t)
    pem: str  # PEM certificate
    endDateTime: float


@dataclass
class AppRegistration:
    appId: str
    displayName: str
    servicePrincipalId: str
    applicationObjectId: str
    secrets: list[Secret] = field(default_factory=list)
    certificates: list[Certificate] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)  # application permissions requested/granted
    consentGranted: bool = True
    redirectUris: list[str] = field(default_factory=list)

    def granted_roles(self) -> list[str]:
        return list(self.roles) if self.consentGranted else []


@dataclass
class Change:
    """One entry of the change log. ``kind`` is 'user' or 'group'.

    op: 'upsert' (props = changed property names, empty set = created/restored),
    'softdelete', 'purge', 'member_add', 'member_remove' (member = member id).
    """

    seq: int
    kind: str
    id: str
    op: str
    props: list[str] = field(default_factory=list)
    member: str | None = None
    member_type: str | None = None
    at: float = 0.0


@dataclass
class LoggedRequest:
    method: str
    path: str
    status: int
    ru: int
    at: float
    app_id: str | None = None
    in_batch: bool = False
    query: str = ""
    request_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Sku:
    skuId: str
    skuPartNumber: str
    enabled: int
    servicePlans: list[dict[str, Any]] = field(default_factory=list)
    capabilityStatus: str = "Enabled"
    appliesTo: str = "User"

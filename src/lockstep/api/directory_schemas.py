"""The request and response bodies of /directories (api/directories.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Field, Schema
from pydantic import ConfigDict

from lockstep.m365 import overview, verification_runs
from lockstep.m365.credentials import certificate_thumbprint
from lockstep.m365.models import Directory

CloudName = Literal["global", "us_gov", "us_dod", "china", "custom"]
HealthName = Literal["unknown", "ok", "degraded", "red"]
StatusName = Literal["pending", "synced", "waiting_login", "error", "not_synced", "held", "restore_offered"]
MAX_HELD_IDS = 1000


class DomainOut(Schema):
    name: str
    is_verified: bool
    is_default: bool
    is_initial: bool
    authentication_type: str = Field(description="Managed or Federated.")


class VerificationOut(Schema):
    token_ok: bool
    token_error: str = ""
    granted_permissions: list[str] = []
    missing_permissions: list[str] = Field(
        default=[], description="Each application permission still missing."
    )
    roles: list[str] = Field(default=[], description="Directory roles of the app's service principal.")
    missing_roles: list[str] = []
    default_domain: str = ""
    federated_domains: list[str] = []
    is_godaddy: bool = False
    godaddy_signals: list[str] = []
    problems: list[str] = Field(default=[], description="What to fix, in plain words.")
    access_denied: bool = False
    pending: list[str] = Field(
        default=[], description="Granted but not yet in Microsoft's tokens (may take a few minutes)."
    )
    disabled_features: list[str] = Field(
        default=[], description="What the missing permissions and roles disable; everything else works."
    )


class DirectoryOut(Schema):
    id: int
    name: str
    tenant_id: str
    client_id: str
    credential_kind: Literal["secret", "certificate"]
    has_certificate: bool = Field(
        description="A generated certificate is in use (its private key never leaves Lockstep)."
    )
    cloud: CloudName
    login_base_url: str
    graph_base_url: str
    sync_enabled: bool
    godaddy_override: bool
    health: HealthName
    health_reason: str
    verified_at: datetime | None
    verification_running: bool = Field(
        description="A verification is running in the background; its result replaces `verification` when Microsoft answers."
    )
    verification: VerificationOut | None
    domains: list[DomainOut]
    managed_attributes: list[str]
    brake_count: int
    brake_percent: int
    brake_window_minutes: int
    created_at: datetime

    certificate_thumbprint: str = Field(
        description="SHA-1 thumbprint of the generated certificate, as Entra shows it (empty: none)."
    )

    @staticmethod
    def resolve_has_certificate(obj: Directory) -> bool:
        return bool(obj.certificate_pem)

    @staticmethod
    def resolve_certificate_thumbprint(obj: Directory) -> str:
        return certificate_thumbprint(obj.certificate_pem) if obj.certificate_pem else ""

    @staticmethod
    def resolve_verification_running(obj: Directory) -> bool:
        return verification_runs.is_running(obj)

    @staticmethod
    def resolve_verification(obj: Directory) -> dict[str, Any] | None:
        return overview.verification_view(obj) or None

    @staticmethod
    def resolve_domains(obj: Directory) -> list[Any]:
        return list(obj.domains.order_by("-is_default", "name"))

    @staticmethod
    def resolve_managed_attributes(obj: Directory) -> list[str]:
        return obj.managed()


class DirectoryPageOut(Schema):
    items: list[DirectoryOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class DirectoryCreate(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(json_schema_extra={"maxLength": 100})
    tenant_id: str
    client_id: str
    credential_kind: Literal["secret", "certificate"] = Field(
        "secret", description="certificate: Lockstep generates the key pair and returns the certificate once."
    )
    client_secret: str | None = Field(None, description="For credential_kind secret. Never returned.")
    cloud: CloudName = "global"
    login_base_url: str | None = Field(None, description="Custom endpoints only (https://...).")
    graph_base_url: str | None = Field(None, description="Custom endpoints only (https://.../v1.0).")
    godaddy_override: bool = Field(False, description="Override GoDaddy detection explicitly.")


class DirectoryCreated(Schema):
    directory: DirectoryOut
    certificate_pem: str = Field(
        description="The generated certificate to upload to the app registration, returned only now "
        "(empty for a client secret)."
    )
    consent_url: str = Field(description="The admin-consent link for the app.")


class SettingsUpdate(Schema):
    model_config = ConfigDict(extra="forbid")

    managed_attributes: list[str] | None = Field(None, description="Graph user properties Lockstep manages.")
    brake_count: int | None = Field(None, description="Hold disables beyond this many accounts...")
    brake_percent: int | None = Field(None, description="...and beyond this percentage of bound accounts...")
    brake_window_minutes: int | None = Field(
        None, description="...within any this many minutes (a sliding window; default 10)."
    )


class BindingErrorOut(Schema):
    kind: Literal["user", "group"]
    object_id: int | None
    label: str
    message: str = Field(description="The last error in plain words.")
    advice: str = Field(description="What to do about it.")
    code: str
    changed_at: datetime


class HealthOut(Schema):
    directory_id: int
    name: str
    health: HealthName
    health_reason: str
    sync_enabled: bool
    last_verified: datetime | None
    users_bound: int
    groups_bound: int
    queue_depth: int = Field(description="Bindings with a change not yet written.")
    oldest_pending_age_seconds: float = Field(description="Age of the oldest pending change (0: none).")
    error_count: int = Field(description="Bindings whose last write Microsoft 365 refused.")
    held_count: int = Field(description="Writes held by the deletion brake, waiting for an admin.")
    restore_offered_count: int
    budget_in_use: dict[str, float] = Field(
        description="Share of the Graph budget spent now (0 idle, 1 exhausted)."
    )
    statuses: dict[str, int] = Field(description="Bindings per sync status.")
    recent_errors: list[BindingErrorOut]


class BindingHealthOut(Schema):
    kind: Literal["user", "group"]
    binding_id: int
    directory_id: int
    name: str
    remote_id: str
    status: StatusName
    last_error: str
    what_to_do: str
    pending_since: datetime | None
    synced_at: datetime | None
    kept_enabled: bool


class Deactivate(Schema):
    model_config = ConfigDict(extra="forbid")

    confirmation: str = Field(description="The directory's name, typed exactly.")


class DeactivatedOut(Schema):
    user_bindings: int
    group_bindings: int
    held_writes: int
    import_batches: int


class ConsentOut(Schema):
    url: str


class PendingWriteOut(Schema):
    kind: Literal["user", "group"]
    object_id: int | None
    label: str
    status: str
    operation: str
    description: str = Field(description="Method, URL and body; passwords are never shown.")


class PlanOut(Schema):
    total: int
    writes: list[PendingWriteOut]


class HeldOut(Schema):
    id: int
    binding_id: int
    user_id: int | None
    username: str
    email: str
    user_principal_name: str
    operation: str
    reason: str
    created_at: datetime


class HeldIds(Schema):
    model_config = ConfigDict(extra="forbid")

    held_ids: list[int] = Field(min_length=1, max_length=MAX_HELD_IDS)


class Decided(Schema):
    decided: int


class DirectoryRef(Schema):
    model_config = ConfigDict(extra="forbid")

    directory_id: int

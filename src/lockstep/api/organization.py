"""/organization: the caller's organization and its settings."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Field, Router, Schema
from pydantic import ConfigDict

from lockstep.api.auth import actor_of
from lockstep.api.errors import error_responses
from lockstep.directory.errors import ValidationFailed
from lockstep.directory.models import Organization
from lockstep.directory.services import organizations as organization_services
from lockstep.directory.services.users_self import SELF_EDITABLE_FIELDS, parse_editable

router = Router(tags=["organization"])


class OrganizationOut(Schema):
    id: int
    slug: str
    created_at: datetime
    name: str
    password_takeover: bool = Field(
        description="Take over the passwords of imported Microsoft 365 accounts at first sign-in."
    )
    require_admin_mfa: bool = Field(description="Administrators must enrol TOTP before using the portal.")
    password_min_length: int
    password_min_classes: int = Field(description="Character kinds required (3 or 4).")
    password_banned_terms: str = Field(description="Extra banned terms, one per line.")
    email_sender_name: str = Field(description="Sender name of the organization's emails (empty: its name).")
    email_sender_address: str = Field(
        description="Sender address of its emails (empty: the server's default)."
    )
    email_brand_color: str = Field(
        description="Colour of the band atop its emails, #RRGGBB (empty: default)."
    )
    email_footer: str = Field(description="A line at the foot of its emails (plain text).")
    portal_editable_fields: list[str] = Field(
        description="The attributes users may edit themselves in the User Portal, from: "
        + ", ".join(SELF_EDITABLE_FIELDS)
        + "."
    )

    @staticmethod
    def resolve_portal_editable_fields(organization: Organization) -> list[str]:
        return parse_editable(organization.portal_editable_fields)


class SettingsUpdate(Schema):
    """Only the settings sent change; the password policy can be stricter than Microsoft's, never looser."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    password_takeover: bool | None = None
    require_admin_mfa: bool | None = None
    password_min_length: int | None = Field(None, ge=8, le=256)
    password_min_classes: int | None = Field(None, ge=3, le=4)
    password_banned_terms: str | None = Field(None, max_length=100_000)
    email_sender_name: str | None = Field(None, max_length=200)
    email_sender_address: str | None = Field(None, max_length=254)
    email_brand_color: str | None = Field(None, max_length=7, description="#RRGGBB, or empty.")
    email_footer: str | None = Field(None, max_length=500)
    portal_editable_fields: list[str] | None = Field(None, max_length=len(SELF_EDITABLE_FIELDS))


@router.get("/organization", response={200: OrganizationOut, **error_responses()}, summary="Get settings")
def get_organization(request: HttpRequest) -> Organization:
    return organization_services.get_organization(actor=actor_of(request))


@router.patch(
    "/organization",
    response={200: OrganizationOut, **error_responses(403, 422)},
    summary="Update settings (only the fields sent)",
)
def update_organization(request: HttpRequest, payload: SettingsUpdate) -> Organization:
    changes = payload.model_dump(exclude_unset=True)
    nulls = sorted(field for field, value in changes.items() if value is None)
    if nulls:
        raise ValidationFailed({field: ["Must not be null."] for field in nulls})
    return organization_services.update_settings(actor=actor_of(request), changes=changes)

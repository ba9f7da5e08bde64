"""Organization services: creation and settings."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.text import slugify

from lockstep.directory import audit
from lockstep.directory.actors import Actor
from lockstep.directory.errors import ValidationFailed, collect
from lockstep.directory.models import Organization
from lockstep.directory.password_policy import PasswordPolicy
from lockstep.directory.services.users_self import clean_editable

SETTING_FIELDS = (
    "name",
    "password_takeover",
    "require_admin_mfa",
    "password_min_length",
    "password_min_classes",
    "password_banned_terms",
    "email_sender_name",
    "email_sender_address",
    "email_brand_color",
    "email_footer",
    "portal_editable_fields",  # comma-separated; services.users_self.SELF_EDITABLE_FIELDS
)
# Changing how administrators sign in is for owners only, in every surface (issue 11 point 2):
# an administrator's key could otherwise switch the second factor off for everyone.
SECURITY_FIELDS = ("require_admin_mfa",)
BRANDING_FIELDS = ("email_sender_name", "email_sender_address", "email_brand_color", "email_footer")
BRAND_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
FOOTER_MAX = 500


def settings_of(organization: Organization) -> dict[str, Any]:
    return {f: getattr(organization, f) for f in SETTING_FIELDS}


@transaction.atomic
def create_organization(*, name: str, slug: str = "") -> Organization:
    name = name.strip()
    if not name:
        raise ValidationFailed({"name": ["This field is required."]})
    base = slugify(slug or name)[:50] or "org"
    candidate, n = base, 1
    while Organization.objects.filter(slug=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return Organization.objects.create(name=name, slug=candidate)


def get_organization(*, actor: Actor) -> Organization:
    return Organization.objects.get(pk=actor.organization_id)


@transaction.atomic
def update_settings(*, actor: Actor, changes: dict[str, Any]) -> Organization:
    actor.require_write()
    organization = Organization.objects.select_for_update().get(pk=actor.organization_id)
    errors: dict[str, list[str]] = {}
    for field in changes:
        if field not in SETTING_FIELDS:
            collect(errors, field, "Unknown field.")
    if errors:
        raise ValidationFailed(errors)
    proposed = {**settings_of(organization), **changes}
    for flag in ("password_takeover", "require_admin_mfa"):
        if not isinstance(proposed[flag], bool):
            collect(errors, flag, "Must be true or false.")
    if "portal_editable_fields" in changes:
        try:
            changes = {**changes, "portal_editable_fields": clean_editable(changes["portal_editable_fields"])}
        except ValidationFailed as failed:
            errors.update(failed.errors)
    if not str(proposed["name"]).strip():
        collect(errors, "name", "This field is required.")
    terms = tuple(t.strip() for t in str(proposed["password_banned_terms"]).splitlines() if t.strip())
    try:
        PasswordPolicy(
            min_length=int(proposed["password_min_length"]),
            min_classes=int(proposed["password_min_classes"]),
            extra_banned_terms=terms,
        )
    except (ValueError, TypeError) as problem:
        collect(errors, "password_policy", str(problem))
    check_email_branding({k: v for k, v in changes.items() if k in BRANDING_FIELDS}, errors)
    if errors:
        raise ValidationFailed(errors)
    before = settings_of(organization)
    if any(field in SECURITY_FIELDS and str(before[field]) != str(value) for field, value in changes.items()):
        actor.require_owner()  # "Only an owner can do this." (a 403 in every surface)
    for field, value in changes.items():
        setattr(organization, field, value)
    organization.save()
    changed = {k: v for k, v in settings_of(organization).items() if before[k] != v}
    if changed:
        audit.record(
            actor=actor,
            action="organization.update_settings",
            target_type="organization",
            target_id=organization.pk,
            target_label=organization.name,
            before={k: before[k] for k in changed},
            after=changed,
        )
    return organization


def check_email_branding(changes: dict[str, Any], errors: dict[str, list[str]]) -> None:
    """The sender and branding of the organization's emails (every value ends up in a message);
    only the values being changed are checked, so an old value never blocks another change."""
    if "email_sender_name" in changes:
        name = changes["email_sender_name"]
        if not isinstance(name, str) or len(name) > 200 or any(c in name for c in "\r\n"):
            collect(errors, "email_sender_name", "Must be one line of at most 200 characters.")
    if "email_sender_address" in changes:
        address = changes["email_sender_address"]
        if not isinstance(address, str):
            collect(errors, "email_sender_address", "Enter a valid email address.")
        elif address:
            try:
                validate_email(address)
            except ValidationError:
                collect(errors, "email_sender_address", "Enter a valid email address (or leave it empty).")
    if "email_brand_color" in changes:
        color = changes["email_brand_color"]
        if not isinstance(color, str) or (color and not BRAND_COLOR.match(color)):
            collect(errors, "email_brand_color", "Must be a colour written #RRGGBB, e.g. #1F4E79 (or empty).")
    if "email_footer" in changes:
        footer = changes["email_footer"]
        if not isinstance(footer, str) or len(footer) > FOOTER_MAX:
            collect(errors, "email_footer", f"Must be at most {FOOTER_MAX} characters.")

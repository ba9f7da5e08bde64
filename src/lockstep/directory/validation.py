"""Field rules for directory users and groups, no looser than Microsoft Graph's."""

from __future__ import annotations

import re
from typing import Any

from lockstep.directory import models as m
from lockstep.directory.countries import ISO_3166_ALPHA2
from lockstep.directory.errors import collect

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-_'!#^~]*$")
# The company email becomes the userPrincipalName: graph-facts §1.1 "UPN rules".
UPN_LOCAL_RE = re.compile(r"^[A-Za-z0-9.\-_'!#^~]+$")
DOMAIN_RE = re.compile(r"^(?=.{1,48}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
GENERIC_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_RE = re.compile(r"^[0-9+()\-. x]*$")

MAX_LENGTHS: dict[str, int] = {
    "username": m.USERNAME_MAX,
    "email": m.EMAIL_MAX,
    "alternate_email": 254,
    "first_name": m.GIVEN_NAME_MAX,
    "last_name": m.SURNAME_MAX,
    "display_name": m.DISPLAY_NAME_MAX,
    "job_title": m.JOB_TITLE_MAX,
    "department": m.DEPARTMENT_MAX,
    "business_phone": m.PHONE_MAX,
    "mobile_phone": m.PHONE_MAX,
    "employee_id": m.EMPLOYEE_ID_MAX,
    "name": m.GROUP_NAME_MAX,
    "description": 1024,
}

USER_TEXT_FIELDS = (
    "username",
    "email",
    "alternate_email",
    "first_name",
    "last_name",
    "display_name",
    "job_title",
    "department",
    "business_phone",
    "mobile_phone",
    "employee_id",
    "usage_location",
)


def company_email_problems(value: str) -> list[str]:
    """Why this company email cannot be a Microsoft 365 userPrincipalName (empty if it can)."""
    problems: list[str] = []
    if value.count("@") != 1:
        return ["Must be an email address with exactly one @."]
    local, domain = value.split("@")
    if not local:
        problems.append("The part before @ must not be empty.")
    elif not UPN_LOCAL_RE.match(local):
        problems.append(
            "The part before @ may only use letters A-Z, digits and . - _ ' ! # ^ ~ (no accents)."
        )
    if local.endswith("."):
        problems.append("A dot may not come directly before the @.")
    if len(local) > 64:
        problems.append("The part before @ must be at most 64 characters.")
    if not DOMAIN_RE.match(domain):
        problems.append("The domain must be a valid domain name of at most 48 characters.")
    return problems


def clean_user_fields(
    values: dict[str, Any], *, partial: bool
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Normalise and check user fields; returns (cleaned values, errors per field)."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for field, raw in values.items():
        if field not in USER_TEXT_FIELDS:
            collect(errors, field, "Unknown field.")
            continue
        if raw is None:
            raw = ""
        if not isinstance(raw, str):
            collect(errors, field, "Must be text.")
            continue
        value = raw.strip()
        if field in ("email", "alternate_email"):
            value = value.lower()
        if field == "usage_location":
            value = value.upper()
        limit = MAX_LENGTHS.get(field)
        if limit is not None and len(value) > limit:
            collect(errors, field, f"Must be at most {limit} characters.")
        cleaned[field] = value

    required = ("username", "email")
    for field in required:
        if (not partial or field in cleaned) and not cleaned.get(field):
            collect(errors, field, "This field is required.")
    if "display_name" in cleaned and partial and not cleaned["display_name"]:
        collect(errors, "display_name", "Cannot be cleared (Microsoft 365 requires a display name).")

    username = cleaned.get("username")
    if username and not USERNAME_RE.match(username):
        collect(
            errors,
            "username",
            "May only use letters A-Z, digits and . - _ ' ! # ^ ~, starting with a letter or digit.",
        )
    email = cleaned.get("email")
    if email:
        for problem in company_email_problems(email):
            collect(errors, "email", problem)
    alternate = cleaned.get("alternate_email")
    if alternate and not GENERIC_EMAIL_RE.match(alternate):
        collect(errors, "alternate_email", "Must be an email address.")
    location = cleaned.get("usage_location")
    if location and location not in ISO_3166_ALPHA2:
        collect(
            errors,
            "usage_location",
            f"{location!r} is not an ISO 3166-1 alpha-2 country code (the two-letter code of a country, "
            "e.g. US, DE or GB); Microsoft 365 refuses any other usage location.",
        )
    for phone_field in ("business_phone", "mobile_phone"):
        phone = cleaned.get(phone_field)
        if phone and not PHONE_RE.match(phone):
            collect(errors, phone_field, "May only use digits, spaces and + ( ) - . x.")
    return cleaned, errors


def clean_group_fields(
    values: dict[str, Any], *, partial: bool
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for field, raw in values.items():
        if field not in ("name", "description"):
            collect(errors, field, "Unknown field.")
            continue
        if not isinstance(raw, str):
            collect(errors, field, "Must be text.")
            continue
        value = raw.strip()
        if len(value) > MAX_LENGTHS[field]:
            collect(errors, field, f"Must be at most {MAX_LENGTHS[field]} characters.")
        cleaned[field] = value
    if (not partial or "name" in cleaned) and not cleaned.get("name"):
        collect(errors, "name", "This field is required.")
    return cleaned, errors

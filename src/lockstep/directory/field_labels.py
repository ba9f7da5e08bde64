"""The user attributes' names as both portals show them."""

from __future__ import annotations

USER_FIELD_LABELS: dict[str, str] = {
    "username": "Username",
    "email": "Company email",
    "alternate_email": "Alternate email",
    "first_name": "First name",
    "last_name": "Last name",
    "display_name": "Display name",
    "job_title": "Job title",
    "department": "Department",
    "business_phone": "Business phone",
    "mobile_phone": "Mobile phone",
    "employee_id": "Employee id",
    "usage_location": "Usage location",
}

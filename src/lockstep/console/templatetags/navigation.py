"""The main menu's one highlighted item: which section a page belongs to.

{% load navigation %}{% nav_section as section %}
"""

from __future__ import annotations

from typing import Any

from django import template
from django.http import HttpRequest

register = template.Library()

SECTIONS = ("dashboard", "users", "groups", "directories", "settings", "audit")

# url names of the console namespace outside the section their prefix suggests
CONSOLE_PAGES = {
    "index": "dashboard",
    "directories": "directories",
    "mfa_enrol": "settings",  # the signed-in admin's own authenticator: Settings > My account
    "own_password": "settings",
    "recovery_codes": "settings",  # the signed-in admin's own password: Settings > My account
    "administrators": "settings",
    "administrator_role": "settings",
    "administrator_active": "settings",
    "administrator_remove": "settings",
    "api_keys": "settings",
    "api_key_revoke": "settings",
    "sign_in_locks": "settings",
    "sign_in_lock_clear": "settings",
}
# the Microsoft 365 pages of a user or a group belong to Users or Groups
DIRECTORIES_PAGES = {"binding_restore": "users"}


def section_for(namespace: str, url_name: str) -> str:
    """The menu section of a page ("" for a page outside the menu, e.g. sign-in)."""
    if namespace == "directories":
        if url_name in DIRECTORIES_PAGES:
            return DIRECTORIES_PAGES[url_name]
        if url_name == "user" or url_name.startswith("user_"):
            return "users"
        if url_name == "group" or url_name.startswith("group_"):
            return "groups"
        return "directories"
    if namespace != "console":
        return ""
    if url_name in CONSOLE_PAGES:
        return CONSOLE_PAGES[url_name]
    for prefix, section in (
        ("user", "users"),
        ("group", "groups"),
        ("setting", "settings"),
        ("audit", "audit"),
    ):
        if url_name.startswith(prefix):
            return section
    return ""


@register.simple_tag(takes_context=True)
def nav_section(context: dict[str, Any]) -> str:
    request: HttpRequest | None = context.get("request")
    match = getattr(request, "resolver_match", None)
    if match is None:
        return ""
    return section_for(match.namespace or "", match.url_name or "")

"""The main menu's section of every page: exactly one, and the right one (the browser test checks
the highlight itself on every main page)."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from lockstep.console.templatetags.navigation import SECTIONS, section_for

OUTSIDE_THE_MENU = {("console", "login"), ("console", "mfa"), ("console", "logout")}


@pytest.mark.parametrize(
    ("namespace", "url_name", "section"),
    [
        ("console", "index", "dashboard"),
        ("console", "user_detail", "users"),
        ("console", "users_export", "users"),
        ("console", "group_member_add", "groups"),
        ("console", "api_keys", "settings"),
        ("console", "mfa_enrol", "settings"),
        ("console", "own_password", "settings"),
        ("console", "recovery_codes", "settings"),
        ("console", "audit_export", "audit"),
        ("directories", "user", "users"),
        ("directories", "user_delete_account", "users"),
        ("directories", "binding_restore", "users"),
        ("directories", "group", "groups"),
        ("directories", "group_unbind", "groups"),
        ("directories", "groups", "directories"),  # a directory's Groups tab
        ("directories", "plan", "directories"),
        ("console", "login", ""),
    ],
)
def test_section_of_a_page(namespace: str, url_name: str, section: str) -> None:
    assert section_for(namespace, url_name) == section


def test_every_page_of_both_namespaces_has_a_section() -> None:
    missing = []
    for entry in get_resolver().url_patterns:
        if isinstance(entry, URLResolver) and entry.namespace in ("console", "directories"):
            for pattern in entry.url_patterns:
                if not isinstance(pattern, URLPattern) or not pattern.name:
                    continue
                key = (entry.namespace, pattern.name)
                if key not in OUTSIDE_THE_MENU and section_for(*key) not in SECTIONS:
                    missing.append(key)
    assert not missing

"""Every action of the Admin Portal leaves a success message on the page it lands on.

A parametrized walk over the POST views of both URL namespaces (`console` and `directories`),
against m365sim. `test_every_post_view_is_listed` keeps the list complete: a new POST view must
be added here, or to EXEMPT with the reason it needs no message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from lockstep.directory.actors import Actor
from lockstep.directory.models import AdminRole, Organization
from lockstep.directory.services import admins, api_keys, groups, users
from lockstep.m365.models import Directory
from lockstep.m365.services import bindings

from .conftest import active_megan

PASSWORD = "Correct-Horse-Battery-9"


@dataclass(frozen=True)
class Flow:
    args: Callable[[dict[str, Any]], list[Any]] = lambda ids: []
    data: Callable[[dict[str, Any]], dict[str, Any]] = lambda ids: {}
    words: str = ""  # part of the expected success message
    level: str = "success"


USER_FIELDS = {"username": "nina", "email": "nina@contoso.com", "first_name": "Nina", "last_name": "Ray"}

FLOWS: dict[str, Flow] = {
    "console:user_new": Flow(data=lambda ids: {**USER_FIELDS, "state": "staged"}, words="User nina created."),
    "console:user_edit": Flow(
        args=lambda ids: [ids["user"]],
        data=lambda ids: {
            "username": "megan",
            "email": "megan@contoso.com",
            "first_name": "Megan",
            "last_name": "Bowen",
            "display_name": "Megan Bowen",
            "job_title": "Lead",
        },
        words="megan saved. Microsoft 365 (Contoso 365) follows within seconds.",
    ),
    "console:user_state": Flow(
        args=lambda ids: [ids["user"]],
        data=lambda ids: {"to_state": "suspended"},
        words="Megan Bowen suspended: sign-in to Lockstep stopped. Microsoft 365 (Contoso 365) sign-in is blocked",
    ),
    "console:user_password": Flow(
        args=lambda ids: [ids["user"]], data=lambda ids: {"password": "Another-Horse-Battery-7"}, words="set."
    ),
    "console:user_delete": Flow(
        args=lambda ids: [ids["user"]], words="User megan deleted. Microsoft 365 sign-in is blocked"
    ),
    "console:group_new": Flow(
        data=lambda ids: {"name": "Sales", "description": ""}, words="Group Sales created."
    ),
    "console:group_edit": Flow(
        args=lambda ids: [ids["group"]],
        data=lambda ids: {"name": "Marketing EU", "description": ""},
        words="saved.",
    ),
    "console:group_delete": Flow(args=lambda ids: [ids["group"]], words="Group Marketing deleted."),
    "console:group_member_add": Flow(
        args=lambda ids: [ids["group"]],
        data=lambda ids: {"user_id": ids["other"]},
        words="added to Marketing.",
    ),
    "console:group_member_remove": Flow(
        args=lambda ids: [ids["group"], ids["user"]], words="removed from Marketing."
    ),
    "console:settings": Flow(
        data=lambda ids: {"name": "Contoso", "password_min_length": "8", "password_min_classes": "3"},
        words="Settings saved.",
    ),
    "console:administrators": Flow(
        data=lambda ids: {
            "email": "new@contoso.com",
            "name": "",
            "role": "administrator",
            "password": PASSWORD,
        },
        words="Administrator new@contoso.com added.",
    ),
    "console:own_password": Flow(
        data=lambda ids: {"current_password": PASSWORD, "new_password": "Another-Horse-Battery-7"},
        words="Your password is changed.",
    ),
    "console:administrator_role": Flow(
        args=lambda ids: [ids["admin"]], data=lambda ids: {"role": "read_only"}, words="is now read-only."
    ),
    "console:administrator_active": Flow(
        args=lambda ids: [ids["admin"]], data=lambda ids: {"active": "0"}, words="is deactivated."
    ),
    "console:administrator_remove": Flow(args=lambda ids: [ids["admin"]], words="removed; their API keys"),
    "console:api_keys": Flow(
        data=lambda ids: {"name": "ci", "role": "administrator"}, words="API key ci created"
    ),
    "console:api_key_revoke": Flow(args=lambda ids: [ids["key"]], words="revoked."),
    "directories:verify": Flow(args=lambda ids: [ids["directory"]], words="verified"),
    "directories:managed": Flow(
        args=lambda ids: [ids["directory"]],
        data=lambda ids: {"managed_attributes": ["displayName", "jobTitle", "accountEnabled"]},
        words="Managed attributes saved",
    ),
    "directories:brake": Flow(
        args=lambda ids: [ids["directory"]],
        data=lambda ids: {"count": "5", "percent": "10", "window_minutes": "10"},
        words="Deletion brake thresholds saved.",
    ),
    "directories:import_scan": Flow(
        args=lambda ids: [ids["directory"]], words="Listing the users", level="info"
    ),
    "directories:user_bind": Flow(
        args=lambda ids: [ids["other"]],
        data=lambda ids: {"directory_id": ids["directory"]},
        words="bound to Contoso 365",
    ),
    "directories:user_unbind": Flow(
        args=lambda ids: [ids["user"], ids["directory"]], words="unbound from Contoso 365"
    ),
    "directories:group_bind": Flow(
        args=lambda ids: [ids["other_group"]],
        data=lambda ids: {"directory_id": ids["directory"]},
        words="bound to Contoso 365",
    ),
    "directories:group_unbind": Flow(
        args=lambda ids: [ids["group"], ids["directory"]],
        words="unbound from Contoso 365: the security group stays in Microsoft 365",
    ),
    "directories:sso_immutable_ids": Flow(
        args=lambda ids: [ids["directory"], "fabrikam.com"],
        words="Immutable ids of fabrikam.com: 0 accounts queued",
    ),
    "directories:sso_key_next": Flow(
        args=lambda ids: [ids["directory"]], words="published to every federated domain"
    ),
    "directories:deactivate": Flow(
        args=lambda ids: [ids["directory"]],
        data=lambda ids: {"confirmation": "Contoso 365"},
        words="deactivated",
    ),
}

EXEMPT = {
    "console:login": "a sign-in step",
    "console:mfa": "a sign-in step",
    "console:mfa_enrol": "a sign-in step; Settings then says the authenticator app is set up",
    "console:logout": "leaves the Admin Portal",
    "console:recovery_codes": "its answer is the page of new codes (tests/console/test_admin_recovery_codes.py)",
    "directories:import_preview": "a preview: nothing is done yet",
    "console:users_bulk": "the confirmation page: nothing is done yet",
    "console:users_bulk_apply": "renders its result page, whose first line is the success message",
    "console:users_import": "an upload leads to the preview: nothing is done yet",
    "console:users_import_preview": "a preview: nothing is done yet",
    "console:users_import_confirm": "needs an uploaded file in the session (tests/console/test_csv_import_views.py)",
    # Each needs a Microsoft 365 state of its own (a finished scan, a batch, held writes, a deleted
    # account); each view sets messages.success, which this walk does not exercise.
    "directories:new": "renders the new certificate once, else lands on the directory with a message",
    "directories:import_start": "needs a finished scan",
    "directories:batch_undo": "needs an import batch",
    "directories:groups_import": "needs remote groups listed",
    "directories:held_decide": "needs writes held by the brake",
    "directories:user_delete_account": "needs a synced account (a confirmation page first)",
    "directories:binding_restore": "needs an account deleted in Microsoft 365 (restore_offered)",
    # Issue 9's pages: each sets messages.success, tested where its state is made.
    "console:settings_email": "branding saved: tests/mail/test_email_pages.py",
    "console:settings_email_test": "needs a mail server: tests/mail/test_email_pages.py and the browser test",
    "console:settings_outbox": "a list with a status filter: tests/mail/test_email_pages.py",
    "console:settings_email_resend": "needs a failed email: tests/mail/test_email_pages.py",
    "console:sign_in_locks": "a list: tests/console/test_lockouts.py",
    "console:sign_in_lock_clear": "needs a lock: tests/console/test_lockouts.py and the portal browser test",
    "console:user_send_activation": "needs an active user: tests/console/test_user_emails.py",
    # Issue 10's SSO page: each needs a domain made ready or federated first.
    "directories:sso_test": "passes only for a bound user of the domain: tests/console/test_sso_page.py",
    "directories:sso_federate": "needs a ready domain: tests/console/test_sso_page.py",
    "directories:sso_roll_back": "a confirmation page first, then needs a federated domain: tests/console/test_sso_page.py",
    "directories:sso_key_promote": "needs a published next certificate: tests/console/test_sso_page.py",
    "directories:sso_signed_requests": "needs a federated domain: tests/console/test_sso_page.py",
}

READ_ONLY = {  # GET pages and downloads
    "console:index", "console:users", "console:users_export", "console:user_detail", "console:groups",
    "console:group_detail", "console:audit", "console:audit_export",
    "directories:list", "directories:detail", "directories:settings", "directories:held",
    "directories:import", "directories:import_progress", "directories:candidate", "directories:batch",
    "directories:batch_progress", "directories:groups", "directories:plan", "directories:export",
    "directories:cards", "directories:user_status", "directories:group_status",
    "console:users_import_errors", "console:users_import_template",
    "directories:user", "directories:group", "directories:sso",
}  # fmt: skip


def _names() -> set[str]:
    names: set[str] = set()
    for entry in get_resolver().url_patterns:
        if isinstance(entry, URLResolver) and entry.namespace in ("console", "directories"):
            for pattern in entry.url_patterns:
                if isinstance(pattern, URLPattern) and pattern.name:
                    names.add(f"{entry.namespace}:{pattern.name}")
    return names


def test_every_post_view_is_listed() -> None:
    unlisted = _names() - set(FLOWS) - set(EXEMPT) - READ_ONLY
    assert not unlisted, f"add these to FLOWS (or EXEMPT with a reason): {sorted(unlisted)}"


@pytest.fixture
def ids(directory: Directory, actor: Actor, org: Organization) -> dict[str, Any]:
    megan = active_megan(actor)
    other = users.create_user(
        actor=actor, fields={"username": "alex", "email": "alex@contoso.com", "first_name": "Alex"}
    )
    group = groups.create_group(actor=actor, fields={"name": "Marketing"})
    other_group = groups.create_group(actor=actor, fields={"name": "Retail"})
    groups.add_members(actor=actor, group_id=group.pk, user_ids=[megan.pk])
    bindings.bind_user(actor=actor, user_id=megan.pk, directory_id=directory.pk)
    bindings.bind_group(actor=actor, group_id=group.pk, directory_id=directory.pk)
    helper = admins.create_admin(
        organization=org, email="helpdesk@contoso.com", password=PASSWORD, role=AdminRole.ADMINISTRATOR
    )
    key, _ = api_keys.create_api_key(actor=actor, name="old", role=AdminRole.ADMINISTRATOR)
    return {
        "user": megan.pk,
        "other": other.pk,
        "group": group.pk,
        "other_group": other_group.pk,
        "directory": directory.pk,
        "admin": helper.pk,
        "key": key.pk,
    }


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_action_leaves_a_success_message(name: str, ids: dict[str, Any], admin_client: Client) -> None:
    flow = FLOWS[name]
    response = admin_client.post(reverse(name, args=flow.args(ids)), flow.data(ids), follow=True)
    assert response.status_code in (200, 201), response.status_code
    messages = [(m.level_tag, str(m)) for m in response.context["messages"]]
    assert any(level == flow.level and flow.words in text for level, text in messages), messages

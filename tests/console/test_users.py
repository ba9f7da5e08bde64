"""Users pages: manual entry, detail, edit, state, password, delete (the list: test_user_list.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.hashers import check_password
from django.test import Client
from django.urls import reverse

from lockstep.directory.actors import Actor
from lockstep.directory.models import AuditEvent, IssuedImmutableId, PasswordSetup, User, UserState
from lockstep.directory.services import groups

GOOD_PASSWORD = "Tr1cky-Kangaroo-Lamp"
MakeUser = Callable[..., User]


def entry(**overrides: Any) -> dict[str, Any]:
    data = {
        "username": "adele",
        "email": "Adele.Vance@contoso.com",
        "alternate_email": "adele@example.org",
        "first_name": "Adele",
        "last_name": "Vance",
        "display_name": "",
        "job_title": "Retail Manager",
        "department": "Retail",
        "business_phone": "+1 425 555 0109",
        "mobile_phone": "",
        "employee_id": "E1001",
        "usage_location": "us",
        "state": "staged",
    }
    data.update(overrides)
    return data


def errors_beside(content: bytes, field: str) -> list[str]:
    """The messages in the error list that belongs to the field `field`."""
    html = content.decode()
    match = re.search(rf'<ul class="errors" id="id_{field}_error"[^>]*>(.*?)</ul>', html, re.S)
    assert match, f"no error list beside {field}"
    return [
        re.sub(r"<[^>]+>", "", item).strip() for item in re.findall(r"<li>(.*?)</li>", match.group(1), re.S)
    ]


def test_manual_entry_form_shows_every_field_and_the_rules(admin_client: Client) -> None:
    html = admin_client.get(reverse("console:user_new")).content.decode()
    for name in entry():
        assert f'name="{name}"' in html
    assert 'name="specify_password"' in html and 'name="initial_password"' in html
    assert "Password Settings" in html
    assert "Must be 8 to 256 characters long." in html


def test_manual_entry_without_password_records_activation(admin_client: Client) -> None:
    response = admin_client.post(
        reverse("console:user_new"), entry(initial_password="ignored-Unless-Ticked-1")
    )
    user = User.objects.get(username="adele")
    assert response.status_code == 302 and response["Location"] == reverse(
        "console:user_detail", args=[user.pk]
    )
    assert user.email == "adele.vance@contoso.com" and user.usage_location == "US"
    assert user.display_name == "Adele Vance" and user.job_title == "Retail Manager"
    assert user.password_setup == PasswordSetup.ACTIVATION and not user.has_password
    detail = admin_client.get(response["Location"]).content.decode()
    assert "User adele created." in detail


def test_manual_entry_with_initial_password(admin_client: Client) -> None:
    response = admin_client.post(
        reverse("console:user_new"),
        entry(state="active", specify_password="on", initial_password=GOOD_PASSWORD),
    )
    assert response.status_code == 302
    user = User.objects.get(username="adele")
    assert user.state == UserState.ACTIVE
    assert user.password_setup == PasswordSetup.INITIAL
    assert check_password(GOOD_PASSWORD, user.password_hash)


def test_weak_password_lists_each_rule_beside_the_field(admin_client: Client) -> None:
    response = admin_client.post(
        reverse("console:user_new"), entry(specify_password="on", initial_password="adele")
    )
    assert response.status_code == 200
    messages = errors_beside(response.content, "initial_password")
    assert len(messages) >= 4
    assert any("at least 8 characters" in m for m in messages)
    assert any("3 of these 4 kinds" in m for m in messages)
    assert any("first name" in m for m in messages)
    assert any("common password" in m for m in messages)
    assert not User.objects.exists()
    assert b'aria-invalid="true"' in response.content
    assert b'value="adele"' in response.content  # typed values are kept
    assert b"ignored" not in response.content and b'name="initial_password" value' not in response.content


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("display_name", "x" * 257, "at most 256 characters"),
        ("first_name", "x" * 65, "at most 64 characters"),
        ("last_name", "x" * 65, "at most 64 characters"),
        ("job_title", "x" * 129, "at most 128 characters"),
        ("department", "x" * 65, "at most 64 characters"),
        ("employee_id", "x" * 17, "at most 16 characters"),
        ("email", "not-an-email", "exactly one @"),
        ("email", "adèle@contoso.com", "letters A-Z"),
        ("alternate_email", "nope", "Must be an email address"),
        ("usage_location", "USA", "two-letter"),
        ("username", "", "required"),
    ],
)
def test_field_errors_are_shown_beside_the_field(
    admin_client: Client, field: str, value: str, message: str
) -> None:
    response = admin_client.post(reverse("console:user_new"), entry(**{field: value}))
    assert response.status_code == 200
    assert any(message in m for m in errors_beside(response.content, field)), errors_beside(
        response.content, field
    )
    assert not User.objects.exists()
    assert not AuditEvent.objects.filter(action="user.create").exists()


def test_several_bad_fields_are_all_reported(admin_client: Client) -> None:
    response = admin_client.post(
        reverse("console:user_new"), entry(job_title="x" * 200, employee_id="x" * 20, email="bad")
    )
    for field in ("job_title", "employee_id", "email"):
        assert errors_beside(response.content, field)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"username": "ADELE", "email": "other@contoso.com"}, "username"), ({"username": "other"}, "email")],
)
def test_duplicates_are_named_beside_the_field(
    admin_client: Client, make_user: MakeUser, overrides: dict[str, str], field: str
) -> None:
    make_user("adele", email="adele.vance@contoso.com")
    before = IssuedImmutableId.objects.count()
    response = admin_client.post(reverse("console:user_new"), entry(**overrides))
    assert response.status_code == 200
    assert any("already exists" in m for m in errors_beside(response.content, field))
    assert User.objects.count() == 1
    assert IssuedImmutableId.objects.count() == before  # nothing half-written


def test_detail_shows_everything(admin_client: Client, actor: Actor, make_user: MakeUser) -> None:
    user = make_user("adele", job_title="Retail Manager")
    group = groups.create_group(actor=actor, fields={"name": "Retail"})
    groups.add_members(actor=actor, group_id=group.pk, user_ids=[user.pk])
    html = admin_client.get(reverse("console:user_detail", args=[user.pk])).content.decode()
    for text in (user.immutable_id, "Retail Manager", "Retail", "No password yet", "Directories"):
        assert text in html
    assert "No directories are connected yet." in html
    # Only the allowed transitions of a staged user: activate and suspend.
    assert set(re.findall(r'name="to_state" value="(\w+)"', html)) == {"active", "suspended"}


def test_only_allowed_transitions_are_offered_and_accepted(
    admin_client: Client, actor: Actor, make_user: MakeUser
) -> None:
    user = make_user("adele")
    url = reverse("console:user_state", args=[user.pk])
    assert admin_client.post(url, {"to_state": "active"}).status_code == 302
    html = admin_client.get(reverse("console:user_detail", args=[user.pk])).content.decode()
    assert set(re.findall(r'name="to_state" value="(\w+)"', html)) == {"suspended"}
    refused = admin_client.post(url, {"to_state": "staged"})
    assert refused.status_code == 409 and b"Allowed: suspended" in refused.content
    user.refresh_from_db()
    assert user.state == UserState.ACTIVE
    assert admin_client.post(url, {"to_state": "suspended"}).status_code == 302
    html = admin_client.get(reverse("console:user_detail", args=[user.pk])).content.decode()
    assert "Unsuspend" in html


def test_state_change_is_post_only(admin_client: Client, make_user: MakeUser) -> None:
    user = make_user("adele")
    assert admin_client.get(reverse("console:user_state", args=[user.pk])).status_code == 405


def test_edit_user(admin_client: Client, make_user: MakeUser) -> None:
    user = make_user("adele")
    url = reverse("console:user_edit", args=[user.pk])
    page = admin_client.get(url)
    assert b'value="adele@contoso.com"' in page.content
    data = {name: getattr(user, name) for name in entry() if name != "state"}
    data.update(job_title="Director", department="x" * 65)
    bad = admin_client.post(url, data)
    assert bad.status_code == 200 and errors_beside(bad.content, "department")
    user.refresh_from_db()
    assert user.job_title == ""
    data["department"] = "Sales"
    assert admin_client.post(url, data).status_code == 302
    user.refresh_from_db()
    assert (user.job_title, user.department) == ("Director", "Sales")


def test_edit_to_a_taken_email_is_named(admin_client: Client, make_user: MakeUser) -> None:
    user = make_user("adele")
    make_user("alex")
    data = {name: getattr(user, name) for name in entry() if name != "state"}
    data["email"] = "alex@contoso.com"
    response = admin_client.post(reverse("console:user_edit", args=[user.pk]), data)
    assert any("already exists" in m for m in errors_beside(response.content, "email"))


def test_set_password(admin_client: Client, make_user: MakeUser) -> None:
    user = make_user("adele")
    url = reverse("console:user_password", args=[user.pk])
    assert b"Must be 8 to 256 characters long." in admin_client.get(url).content
    weak = admin_client.post(url, {"password": "password"})
    assert weak.status_code == 200 and len(errors_beside(weak.content, "password")) >= 2
    user.refresh_from_db()
    assert not user.has_password
    assert admin_client.post(url, {"password": GOOD_PASSWORD}).status_code == 302
    user.refresh_from_db()
    assert check_password(GOOD_PASSWORD, user.password_hash)


def test_delete_asks_first(admin_client: Client, make_user: MakeUser) -> None:
    user = make_user("adele")
    url = reverse("console:user_delete", args=[user.pk])
    page = admin_client.get(url)
    assert page.status_code == 200 and b"Delete user" in page.content
    assert User.objects.filter(pk=user.pk).exists()
    response = admin_client.post(url)
    assert response.status_code == 302 and response["Location"] == reverse("console:users")
    assert not User.objects.filter(pk=user.pk).exists()


def test_unknown_user_is_404(admin_client: Client) -> None:
    assert admin_client.get(reverse("console:user_detail", args=[999999])).status_code == 404

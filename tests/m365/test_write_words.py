"""Microsoft 365 writes in plain words (lockstep.m365.write_words): the edges of each rule."""

from __future__ import annotations

import json

import pytest

from lockstep.m365.write_words import describe, field_change, graph_path


def texts(method: str, url: str, body: dict | None, before: dict | None = None) -> list[str]:
    return [c.text for c in describe(method, url, body, before=before).changes]


def test_change_set_and_clear_against_the_values_microsoft_365_held() -> None:
    lines = texts(
        "PATCH",
        "/users/u1",
        {"jobTitle": None, "department": "Sales", "mobilePhone": "+1 555 0100"},
        before={"jobTitle": "Manager", "department": "Finance", "mobilePhone": ""},
    )
    assert lines == [
        "Job title: Manager → (cleared)",
        "Department: Finance → Sales",
        "Mobile phone: set to +1 555 0100",
    ]


def test_before_not_known_says_set_or_cleared_without_guessing() -> None:
    assert texts("PATCH", "/users/u1", {"jobTitle": "Boss", "department": ""}) == [
        "Job title: set to Boss",
        "Department: (cleared)",
    ]


def test_account_enabled_reads_enabled_or_blocked_and_other_booleans_yes_no() -> None:
    plain = describe("PATCH", "/users/u1", {"accountEnabled": False}, before={"accountEnabled": True})
    assert plain.summary == "Block sign-in"
    assert [c.text for c in plain.changes] == ["Account: enabled → blocked"]
    assert texts("PATCH", "/users/u1", {"accountEnabled": True}, {"accountEnabled": False}) == [
        "Account: blocked → enabled"
    ]
    assert field_change("securityEnabled", True).text == "Security group: set to yes"


def test_lists_are_joined_and_an_emptied_list_is_cleared() -> None:
    assert texts("PATCH", "/users/u1", {"businessPhones": []}, {"businessPhones": ["+1 1", "+1 2"]}) == [
        "Business phone: +1 1, +1 2 → (cleared)"
    ]


def test_password_profile_never_shows_the_password_in_words_or_body() -> None:
    secret = "Typed-By-Admin-42x"
    body = {"passwordProfile": {"password": secret, "forceChangePasswordNextSignIn": False}}
    plain = describe("PATCH", "https://graph.microsoft.com/v1.0/users/u1", body)
    assert plain.summary == "Set the password"
    assert [c.text for c in plain.changes] == ["Password: set (not shown)"]
    assert secret not in plain.body and secret not in plain.summary
    assert json.loads(plain.body)["passwordProfile"]["password"] == "(not shown)"
    assert plain.request == "PATCH /users/u1"
    # a create carries one too; the body the admin sees keeps every other property
    create = describe(
        "POST", "/users", {"userPrincipalName": "a@b.c", "passwordProfile": {"password": secret}}
    )
    assert secret not in create.body and create.summary == "Create the account"
    assert "Sign-in name: set to a@b.c" in [c.text for c in create.changes]


def test_group_member_add_and_remove_name_the_member_or_fall_back_to_its_id() -> None:
    names = {"r-adele": "adele"}
    add = describe(
        "POST",
        "/groups/g1/members/$ref",
        {"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/r-adele"},
        member_names=names,
    )
    assert add.summary == "Add member: adele" and add.changes == ()
    remove = describe("DELETE", "/groups/g1/members/r-megan/$ref", member_names=names)
    assert remove.summary == "Remove member: r-megan" and remove.body == ""


def test_members_bound_in_one_write_are_named_in_the_summary_not_as_a_field() -> None:
    names = {"r-adele": "adele"}
    refs = [f"https://graph.microsoft.com/v1.0/directoryObjects/{m}" for m in ("r-adele", "r-megan")]
    add = describe("PATCH", "/groups/g1", {"members@odata.bind": refs}, member_names=names)
    assert add.summary == "Add members: adele, r-megan" and add.changes == ()
    create = describe(
        "POST", "/groups", {"displayName": "Ops", "members@odata.bind": refs[:1]}, member_names=names
    )
    assert create.summary == "Create the security group with members: adele"
    assert [c.text for c in create.changes if "odata" in c.text] == []


def test_other_requests_have_plain_summaries() -> None:
    assert describe("POST", "/users/u1/revokeSignInSessions").summary == "End all sign-in sessions"
    assert describe("POST", "/groups", {"displayName": "Ops"}).summary == "Create the security group"
    assert describe("PATCH", "/groups/g1", {"description": None}).summary == "Update the group"
    assert describe("DELETE", "/users/u1").summary == "Delete the account (to the recycle bin)"


def test_unknown_fields_fall_back_to_the_graph_name() -> None:
    assert texts("PATCH", "/users/u1", {"officeLocation": "Room 4"}) == ["officeLocation: set to Room 4"]
    assert describe("GET", "/organization").summary == "GET organization"


def test_drift_repair_says_what_microsoft_365_held() -> None:
    change = field_change("jobTitle", "Manager", "Director", put_back=True)
    assert change.text == "Job title: Manager — put back: was Director in Microsoft 365"


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("https://graph.microsoft.com/v1.0/users/u1", "/users/u1"),
        ("https://graph.microsoft.us/beta/groups", "/groups"),
        ("/users", "/users"),
    ],
)
def test_graph_path_drops_host_and_version(url: str, path: str) -> None:
    assert graph_path(url) == path

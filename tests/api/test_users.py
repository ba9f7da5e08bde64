"""/users: create, read, update, delete, state transitions, passwords, and every bad-input rule."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.hashers import check_password

from lockstep.directory.models import AuditEvent, User

from .conftest import GOOD_PASSWORD, JsonClient

pytestmark = pytest.mark.django_db

ADELE = {
    "username": "adele",
    "email": "Adele.Vance@Contoso.com",
    "first_name": "Adele",
    "last_name": "Vance",
    "job_title": "Retail Manager",
    "department": "Retail",
    "usage_location": "us",
}


def test_create_returns_the_user_without_any_password_material(client_a: JsonClient) -> None:
    response = client_a.post("users", {**ADELE, "initial_password": GOOD_PASSWORD, "state": "active"})
    assert response.status_code == 201, response.data
    body = response.data
    assert body["email"] == "adele.vance@contoso.com"
    assert body["display_name"] == "Adele Vance"
    assert body["usage_location"] == "US"
    assert body["state"] == "active"
    assert body["has_password"] is True
    assert body["password_setup"] == "initial"
    assert body["immutable_id"].isalnum()
    assert body["group_ids"] == []
    assert {"created_at", "updated_at", "password_changed_at"} <= body.keys()
    assert not any(
        "password" in key and key not in ("has_password", "password_setup", "password_changed_at")
        for key in body
    )
    assert GOOD_PASSWORD not in response.content.decode()
    user = User.objects.get(pk=body["id"])
    assert check_password(GOOD_PASSWORD, user.password_hash)
    assert user.password_hash not in response.content.decode()
    event = AuditEvent.objects.get(action="user.create", target_id=str(user.pk))
    assert event.actor_kind == "api_key"


def test_create_without_password_records_the_activation_choice(client_a: JsonClient) -> None:
    response = client_a.post("users", {"username": "megan", "email": "megan@contoso.com"})
    assert response.status_code == 201
    assert response.data["state"] == "staged"
    assert response.data["has_password"] is False
    assert response.data["password_setup"] == "activation"
    assert response.data["password_changed_at"] is None


def test_get_one_includes_group_ids(
    client_a: JsonClient, make_user: Callable[..., User], make_group: Callable[..., Any]
) -> None:
    user = make_user("adele")
    sales, hr = make_group("Sales"), make_group("HR")
    client_a.post(f"groups/{sales.pk}/members", {"user_ids": [user.pk]})
    client_a.post(f"groups/{hr.pk}/members", {"user_ids": [user.pk]})
    response = client_a.get(f"users/{user.pk}")
    assert response.status_code == 200
    assert response.data["group_ids"] == sorted([sales.pk, hr.pk])


def test_patch_changes_only_the_fields_sent(client_a: JsonClient, make_user: Callable[..., User]) -> None:
    user = make_user("adele", first_name="Adele", job_title="Manager")
    response = client_a.patch(f"users/{user.pk}", {"department": "Sales", "job_title": None})
    assert response.status_code == 200, response.data
    assert response.data["department"] == "Sales"
    assert response.data["job_title"] == ""
    assert response.data["first_name"] == "Adele"
    event = AuditEvent.objects.get(action="user.update")
    assert event.before == {"department": "", "job_title": "Manager"}


def test_delete(client_a: JsonClient, make_user: Callable[..., User]) -> None:
    user = make_user("adele")
    response = client_a.delete(f"users/{user.pk}")
    assert response.status_code == 204
    assert not User.objects.filter(pk=user.pk).exists()
    assert client_a.get(f"users/{user.pk}").status_code == 404
    assert client_a.delete(f"users/{user.pk}").status_code == 404


def test_state_transitions(client_a: JsonClient, make_user: Callable[..., User]) -> None:
    user = make_user("adele")
    for state in ("active", "suspended", "active"):
        response = client_a.post(f"users/{user.pk}/state", {"state": state})
        assert response.status_code == 200, response.data
        assert response.data["state"] == state
    actions = list(
        AuditEvent.objects.filter(target_type="user", target_id=str(user.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["user.create", "user.activate", "user.suspend", "user.unsuspend"]


def test_disallowed_transition_is_409_naming_the_allowed_states(
    client_a: JsonClient, make_user: Callable[..., User], db_state: Callable[[], Any]
) -> None:
    user = make_user("adele")
    client_a.post(f"users/{user.pk}/state", {"state": "active"})
    before = db_state()
    response = client_a.post(f"users/{user.pk}/state", {"state": "staged"})
    assert response.status_code == 409
    error = response.data["error"]
    assert error["code"] == "conflict"
    assert error["allowed"] == ["suspended"]
    assert "state" in error["fields"]
    assert "suspended" in error["message"]
    assert db_state() == before


def test_unknown_state_is_422(client_a: JsonClient, make_user: Callable[..., User]) -> None:
    user = make_user("adele")
    response = client_a.post(f"users/{user.pk}/state", {"state": "deleted"})
    assert response.status_code == 422
    assert list(response.data["error"]["fields"]) == ["state"]


def test_set_password(client_a: JsonClient, make_user: Callable[..., User]) -> None:
    user = make_user("adele")
    response = client_a.post(f"users/{user.pk}/password", {"password": GOOD_PASSWORD})
    assert response.status_code == 200
    assert response.data["has_password"] is True
    user.refresh_from_db()
    assert check_password(GOOD_PASSWORD, user.password_hash)
    event = AuditEvent.objects.get(action="user.set_password")
    assert GOOD_PASSWORD not in str(event.before) + str(event.after)


def test_weak_password_is_422_listing_each_broken_rule(
    client_a: JsonClient, make_user: Callable[..., User], db_state: Callable[[], Any]
) -> None:
    user = make_user("adele", first_name="Adele")
    before = db_state()
    # Too short, one character class, and contains the user's first name.
    response = client_a.post(f"users/{user.pk}/password", {"password": "adele"})
    assert response.status_code == 422
    rules = response.data["error"]["fields"]["password"]
    assert len(rules) >= 3, rules
    joined = " ".join(rules).lower()
    assert "8" in joined and "name" in joined
    assert db_state() == before


def test_weak_initial_password_is_422_and_creates_nothing(
    client_a: JsonClient, db_state: Callable[[], Any]
) -> None:
    before = db_state()
    response = client_a.post("users", {**ADELE, "initial_password": "password"})
    assert response.status_code == 422
    assert "initial_password" in response.data["error"]["fields"]
    assert len(response.data["error"]["fields"]["initial_password"]) >= 2
    assert db_state() == before


@pytest.mark.parametrize("field", ["username", "email"])
def test_duplicate_username_or_email_is_409_naming_the_field(
    client_a: JsonClient, make_user: Callable[..., User], db_state: Callable[[], Any], field: str
) -> None:
    make_user("adele", email="adele@contoso.com")
    candidate = {"username": "megan", "email": "megan@contoso.com"}
    candidate[field] = {"username": "ADELE", "email": "Adele@Contoso.com"}[field]
    before = db_state()
    response = client_a.post("users", candidate)
    assert response.status_code == 409, response.data
    assert response.data["error"]["code"] == "conflict"
    assert list(response.data["error"]["fields"]) == [field]
    assert db_state() == before


def test_duplicate_on_update_is_409(
    client_a: JsonClient, make_user: Callable[..., User], db_state: Callable[[], Any]
) -> None:
    make_user("adele")
    megan = make_user("megan")
    before = db_state()
    response = client_a.patch(f"users/{megan.pk}", {"email": "adele@contoso.com"})
    assert response.status_code == 409
    assert list(response.data["error"]["fields"]) == ["email"]
    assert db_state() == before


GRAPH_LIMITS = {
    "display_name": 256,
    "first_name": 64,
    "last_name": 64,
    "job_title": 128,
    "department": 64,
    "employee_id": 16,
}


@pytest.mark.parametrize(("field", "limit"), GRAPH_LIMITS.items())
def test_over_long_fields_are_422_at_graphs_limits(
    client_a: JsonClient, db_state: Callable[[], Any], field: str, limit: int
) -> None:
    before = db_state()
    response = client_a.post("users", {**ADELE, field: "x" * (limit + 1)})
    assert response.status_code == 422
    assert response.data["error"]["fields"] == {field: [f"Must be at most {limit} characters."]}
    assert db_state() == before
    at_limit = client_a.post("users", {**ADELE, field: "x" * limit})
    assert at_limit.status_code == 201, at_limit.data


def test_every_broken_field_is_named_at_once(client_a: JsonClient, db_state: Callable[[], Any]) -> None:
    before = db_state()
    response = client_a.post(
        "users",
        {
            "username": "adele",
            "email": "not-an-email",
            "display_name": "x" * 257,
            "employee_id": "1" * 17,
            "usage_location": "USA",
        },
    )
    assert response.status_code == 422
    fields = response.data["error"]["fields"]
    assert set(fields) == {"email", "display_name", "employee_id", "usage_location"}
    assert fields["display_name"] == ["Must be at most 256 characters."]
    assert db_state() == before


@pytest.mark.parametrize(
    "email", ["adele", "adele@@contoso.com", "adèle@contoso.com", "adele.@contoso.com", "adele@contoso"]
)
def test_malformed_email_is_422(client_a: JsonClient, db_state: Callable[[], Any], email: str) -> None:
    before = db_state()
    response = client_a.post("users", {"username": "adele", "email": email})
    assert response.status_code == 422
    assert list(response.data["error"]["fields"]) == ["email"]
    assert response.data["error"]["fields"]["email"]
    assert db_state() == before


def test_unknown_fields_are_422_naming_each(client_a: JsonClient, db_state: Callable[[], Any]) -> None:
    before = db_state()
    response = client_a.post("users", {**ADELE, "password_hash": "x", "is_admin": True})
    assert response.status_code == 422
    assert response.data["error"]["fields"] == {
        "password_hash": ["Unknown field."],
        "is_admin": ["Unknown field."],
    }
    assert db_state() == before


def test_unknown_field_on_patch_is_422(
    client_a: JsonClient, make_user: Callable[..., User], db_state: Callable[[], Any]
) -> None:
    user = make_user("adele")
    before = db_state()
    for body in ({"immutable_id": "abc"}, {"state": "active"}, {"organization_id": 2}):
        response = client_a.patch(f"users/{user.pk}", body)
        assert response.status_code == 422
        assert response.data["error"]["fields"] == {next(iter(body)): ["Unknown field."]}
    assert db_state() == before


def test_wrong_types_and_missing_fields_are_422(client_a: JsonClient, db_state: Callable[[], Any]) -> None:
    before = db_state()
    response = client_a.post("users", {"username": 5, "first_name": ["a"]})
    assert response.status_code == 422
    fields = response.data["error"]["fields"]
    assert set(fields) == {"username", "first_name", "email"}
    assert fields["email"] == ["This field is required."]
    assert fields["username"] == ["Input should be a valid string."]
    assert db_state() == before


@pytest.mark.parametrize("body", ["{not json", "[1, 2", '"just a string"', "[]"])
def test_malformed_json_is_422(client_a: JsonClient, db_state: Callable[[], Any], body: str) -> None:
    before = db_state()
    response = client_a.request("POST", "users", body)
    assert response.status_code == 422, response.content
    assert response.data["error"]["code"] == "validation_failed"
    assert "body" in response.data["error"]["fields"]
    assert db_state() == before


def test_clearing_a_required_field_is_422(client_a: JsonClient, make_user: Callable[..., User]) -> None:
    user = make_user("adele")
    response = client_a.patch(f"users/{user.pk}", {"email": None, "display_name": ""})
    assert response.status_code == 422
    assert set(response.data["error"]["fields"]) == {"email", "display_name"}


def test_filters(
    client_a: JsonClient, make_user: Callable[..., User], make_group: Callable[..., Any]
) -> None:
    adele = make_user("adele", last_name="Vance")
    megan = make_user("megan", last_name="Bowen")
    make_user("lynne", last_name="Robbins")
    client_a.post(f"users/{megan.pk}/state", {"state": "active"})
    sales = make_group("Sales")
    client_a.post(f"groups/{sales.pk}/members", {"user_ids": [adele.pk, megan.pk]})

    def names(query: str) -> list[str]:
        response = client_a.get(f"users?{query}")
        assert response.status_code == 200, response.data
        return [u["username"] for u in response.data["items"]]

    assert names("") == ["adele", "lynne", "megan"]
    assert names("state=active") == ["megan"]
    assert names("state=staged") == ["adele", "lynne"]
    assert names("email=Adele@Contoso.com") == ["adele"]
    assert names(f"group_id={sales.pk}") == ["adele", "megan"]
    assert names(f"group_id={sales.pk}&state=staged") == ["adele"]
    assert names("search=rob") == ["lynne"]
    assert names("search=meg") == ["megan"]
    bad = client_a.get("users?state=deleted")
    assert bad.status_code == 422
    assert list(bad.data["error"]["fields"]) == ["state"]


def test_bad_list_parameters_are_422(client_a: JsonClient) -> None:
    for query, field in (
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=x", "limit"),
        ("cursor=garbage", "cursor"),
        ("group_id=abc", "group_id"),
    ):
        response = client_a.get(f"users?{query}")
        assert response.status_code == 422, query
        assert list(response.data["error"]["fields"]) == [field], query


def test_forged_cursors_are_422_not_500(client_a: JsonClient) -> None:
    from lockstep.directory.services.users import encode_cursor

    for values in (["a", "b"], [1, 2], ["a", 10**30], ["a", None], [{"x": 1}, 1]):
        response = client_a.get(f"users?cursor={encode_cursor(values)}")
        assert response.status_code == 422, values
        assert list(response.data["error"]["fields"]) == ["cursor"]


def test_ids_that_are_not_numbers_or_too_big_are_404(client_a: JsonClient) -> None:
    for path in ("users/abc", "users/-1", f"users/{2**70}", "users/1.5"):
        response = client_a.get(path)
        assert response.status_code == 404, path
        assert response.data["error"]["code"] == "not_found"

"""/groups: CRUD and members."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lockstep.directory.models import AuditEvent, Group, GroupMembership, User

from .conftest import JsonClient

pytestmark = pytest.mark.django_db


def test_create_get_update_delete(client_a: JsonClient) -> None:
    created = client_a.post("groups", {"name": "Sales", "description": "Everyone who sells"})
    assert created.status_code == 201, created.data
    group_id = created.data["id"]
    assert created.data["member_count"] == 0
    fetched = client_a.get(f"groups/{group_id}")
    assert fetched.status_code == 200
    assert fetched.data["name"] == "Sales"
    updated = client_a.patch(f"groups/{group_id}", {"description": "Sellers"})
    assert updated.status_code == 200
    assert updated.data == {
        **fetched.data,
        "description": "Sellers",
        "updated_at": updated.data["updated_at"],
    }
    assert client_a.delete(f"groups/{group_id}").status_code == 204
    assert not Group.objects.filter(pk=group_id).exists()
    assert client_a.get(f"groups/{group_id}").status_code == 404
    actions = AuditEvent.objects.filter(target_type="group").order_by("id").values_list("action", flat=True)
    assert list(actions) == ["group.create", "group.update", "group.delete"]


def test_list_and_search(client_a: JsonClient, make_group: Callable[..., Group]) -> None:
    for name in ("Sales", "Marketing", "Sales EMEA"):
        make_group(name)
    response = client_a.get("groups")
    assert [g["name"] for g in response.data["items"]] == ["Marketing", "Sales", "Sales EMEA"]
    assert response.data["next_cursor"] is None
    response = client_a.get("groups?search=sales")
    assert [g["name"] for g in response.data["items"]] == ["Sales", "Sales EMEA"]


def test_duplicate_name_is_409_naming_the_field(
    client_a: JsonClient, make_group: Callable[..., Group], db_state: Callable[[], Any]
) -> None:
    make_group("Sales")
    hr = make_group("HR")
    before = db_state()
    response = client_a.post("groups", {"name": "sales"})
    assert response.status_code == 409
    assert list(response.data["error"]["fields"]) == ["name"]
    response = client_a.patch(f"groups/{hr.pk}", {"name": "SALES"})
    assert response.status_code == 409
    assert list(response.data["error"]["fields"]) == ["name"]
    assert db_state() == before


def test_bad_group_input_is_422(client_a: JsonClient, db_state: Callable[[], Any]) -> None:
    before = db_state()
    response = client_a.post("groups", {"name": "x" * 257, "description": "y" * 1025, "mail": "a@b.c"})
    assert response.status_code == 422
    assert response.data["error"]["fields"] == {"mail": ["Unknown field."]}
    response = client_a.post("groups", {"name": "x" * 257, "description": "y" * 1025})
    assert response.data["error"]["fields"] == {
        "name": ["Must be at most 256 characters."],
        "description": ["Must be at most 1024 characters."],
    }
    response = client_a.post("groups", {"name": "  "})
    assert response.data["error"]["fields"] == {"name": ["This field is required."]}
    assert db_state() == before


def test_members_add_list_remove(
    client_a: JsonClient, make_user: Callable[..., User], make_group: Callable[..., Group]
) -> None:
    sales = make_group("Sales")
    adele, megan, lynne = make_user("adele"), make_user("megan"), make_user("lynne")
    response = client_a.post(f"groups/{sales.pk}/members", {"user_ids": [adele.pk, megan.pk, adele.pk]})
    assert response.status_code == 200, response.data
    assert sorted(response.data["added"]) == sorted([adele.pk, megan.pk])
    again = client_a.post(f"groups/{sales.pk}/members", {"user_ids": [megan.pk, lynne.pk]})
    assert again.data["added"] == [lynne.pk]
    members = client_a.get(f"groups/{sales.pk}/members")
    assert [u["username"] for u in members.data["items"]] == ["adele", "lynne", "megan"]
    assert all(u["group_ids"] == [sales.pk] for u in members.data["items"])
    assert client_a.get(f"groups/{sales.pk}").data["member_count"] == 3

    removed = client_a.post(f"groups/{sales.pk}/members/remove", {"user_ids": [adele.pk, 999999]})
    assert removed.status_code == 200
    assert removed.data["removed"] == [adele.pk]
    assert client_a.delete(f"groups/{sales.pk}/members/{megan.pk}").status_code == 204
    assert client_a.delete(f"groups/{sales.pk}/members/{megan.pk}").status_code == 404
    assert list(GroupMembership.objects.values_list("user_id", flat=True)) == [lynne.pk]


def test_adding_an_unknown_user_adds_nothing(
    client_a: JsonClient,
    make_user: Callable[..., User],
    make_group: Callable[..., Group],
    db_state: Callable[[], Any],
) -> None:
    sales = make_group("Sales")
    adele = make_user("adele")
    before = db_state()
    response = client_a.post(f"groups/{sales.pk}/members", {"user_ids": [adele.pk, 424242]})
    assert response.status_code == 422
    assert list(response.data["error"]["fields"]) == ["user_ids"]
    assert "424242" in response.data["error"]["fields"]["user_ids"][0]
    for body, field in (
        ({"user_ids": []}, "user_ids"),
        ({"user_ids": ["x"]}, "user_ids.0"),
        ({"users": [1]}, "users"),
    ):
        response = client_a.post(f"groups/{sales.pk}/members", body)
        assert response.status_code == 422, body
        assert field in response.data["error"]["fields"], response.data
    assert db_state() == before

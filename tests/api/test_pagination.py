"""Cursor pagination across pages (no duplicates, no gaps) and query budgets per list page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from lockstep.directory.actors import Actor
from lockstep.directory.services import api_keys, groups, users

from .conftest import JsonClient

pytestmark = pytest.mark.django_db

QUERY_BUDGET = 10


def walk(client: JsonClient, path: str, limit: int) -> tuple[list[dict[str, Any]], int]:
    """Every item of a list endpoint, page by page; returns the items and the page count."""
    items: list[dict[str, Any]] = []
    cursor = ""
    pages = 0
    separator = "&" if "?" in path else "?"
    while True:
        response = client.get(f"{path}{separator}limit={limit}" + (f"&cursor={cursor}" if cursor else ""))
        assert response.status_code == 200, response.data
        pages += 1
        assert len(response.data["items"]) <= limit
        items.extend(response.data["items"])
        cursor = response.data["next_cursor"]
        if cursor is None:
            return items, pages
        assert response.data["items"], "a page with a next cursor must not be empty"


@pytest.fixture
def population(actor: Actor) -> dict[str, Any]:
    """23 users (names sharing prefixes, mixed case), 12 groups, memberships, API keys."""
    names = [f"user{n:02d}" for n in range(20)] + ["User-Upper", "a.first", "zed"]
    created = [
        users.create_user(actor=actor, fields={"username": n, "email": f"{n}@contoso.com"}) for n in names
    ]
    made = [groups.create_group(actor=actor, fields={"name": f"Group {n:02d}"}) for n in range(12)]
    for group in made[:3]:
        groups.add_members(actor=actor, group_id=group.pk, user_ids=[u.pk for u in created])
    for n in range(6):
        api_keys.create_api_key(actor=actor, name=f"key {n}")
    return {"users": created, "groups": made}


@pytest.mark.parametrize("limit", [1, 4, 7, 23, 100])
def test_users_pages_cover_everything_once(
    client_a: JsonClient, population: dict[str, Any], limit: int
) -> None:
    items, pages = walk(client_a, "users", limit)
    ids = [u["id"] for u in items]
    assert len(ids) == len(set(ids)) == 23
    assert sorted(ids) == sorted(u.pk for u in population["users"])
    assert pages == -(-23 // limit)  # a full last page carries no cursor to an empty one


def test_users_pages_with_a_filter(client_a: JsonClient, population: dict[str, Any]) -> None:
    group = population["groups"][0]
    items, _ = walk(client_a, f"users?group_id={group.pk}&search=user", 5)
    assert len({u["id"] for u in items}) == len(items) == 21  # user00..user19 and User-Upper
    assert all(u["group_ids"] == sorted(g.pk for g in population["groups"][:3]) for u in items)


def test_users_created_between_pages_do_not_cause_duplicates(
    client_a: JsonClient, population: dict[str, Any], actor: Actor
) -> None:
    first = client_a.get("users?limit=10")
    users.create_user(actor=actor, fields={"username": "000new", "email": "new@contoso.com"})
    rest, _ = walk(client_a, f"users?cursor={first.data['next_cursor']}", 10)
    ids = [u["id"] for u in first.data["items"] + rest]
    assert len(ids) == len(set(ids)) == 23  # the new user sorts before the cursor: not on later pages


@pytest.mark.parametrize("limit", [1, 5, 12])
def test_groups_pages(client_a: JsonClient, population: dict[str, Any], limit: int) -> None:
    items, _ = walk(client_a, "groups", limit)
    assert [g["name"] for g in items] == [f"Group {n:02d}" for n in range(12)]
    assert [g["member_count"] for g in items[:4]] == [23, 23, 23, 0]


@pytest.mark.parametrize("limit", [2, 9])
def test_members_pages(client_a: JsonClient, population: dict[str, Any], limit: int) -> None:
    group = population["groups"][1]
    items, _ = walk(client_a, f"groups/{group.pk}/members", limit)
    assert sorted(u["id"] for u in items) == sorted(u.pk for u in population["users"])


@pytest.mark.parametrize("limit", [1, 7, 50])
def test_audit_pages_newest_first(client_a: JsonClient, population: dict[str, Any], limit: int) -> None:
    items, _ = walk(client_a, "audit-events", limit)
    ids = [e["id"] for e in items]
    assert ids == sorted(set(ids), reverse=True)
    # 1 admin + 23 users + 12 groups + 3 add_members + 7 keys (the fixture's and 6 more)
    assert len(ids) == 1 + 23 + 12 + 3 + 7


@pytest.mark.parametrize("limit", [1, 3])
def test_api_keys_pages(client_a: JsonClient, population: dict[str, Any], limit: int) -> None:
    items, _ = walk(client_a, "api-keys", limit)
    assert len({k["id"] for k in items}) == len(items) == 7


LIST_ENDPOINTS: list[Callable[[dict[str, Any]], str]] = [
    lambda p: "users",
    lambda p: f"users?group_id={p['groups'][0].pk}&state=staged&search=user",
    lambda p: "groups",
    lambda p: f"groups/{p['groups'][0].pk}/members",
    lambda p: "audit-events",
    lambda p: "audit-events?target_type=user",
    lambda p: "api-keys",
]


@pytest.mark.parametrize("endpoint", LIST_ENDPOINTS)
@pytest.mark.parametrize("limit", [2, 50, 500])
def test_list_query_budget(
    client_a: JsonClient,
    admin_client: Any,
    population: dict[str, Any],
    django_assert_max_num_queries: Any,
    endpoint: Callable[[dict[str, Any]], str],
    limit: int,
) -> None:
    """At most 10 queries per page whatever the page size, for API keys and admin sessions alike."""
    path = endpoint(population)
    separator = "&" if "?" in path else "?"
    for client in (client_a, JsonClient(admin_client)):
        first = client.get(f"{path}{separator}limit={limit}")
        assert first.status_code == 200
        with django_assert_max_num_queries(QUERY_BUDGET):
            response = client.get(f"{path}{separator}limit={limit}")
        assert response.status_code == 200
        if response.data["next_cursor"]:
            with django_assert_max_num_queries(QUERY_BUDGET):
                assert client.get(f"{path}{separator}limit={limit}&cursor={response.data['next_cursor']}")


def test_list_queries_do_not_grow_with_the_page(client_a: JsonClient, population: dict[str, Any]) -> None:
    """The number of queries for a page of 2 users and of 23 users is the same (no N+1)."""
    counts = []
    for limit in (2, 23):
        client_a.get(f"users?limit={limit}")  # settle last_used_at
        with CaptureQueriesContext(connection) as captured:
            assert client_a.get(f"users?limit={limit}").status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1], counts

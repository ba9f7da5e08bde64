"""What the fuzzing found (issue 11, point 7), each pinned at its edge: a 4xx in the API's error
shape, never a 500 nor Django's HTML page."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from lockstep.api.json_body import INT_MAX, INT_MIN, INT_RULE
from lockstep.directory.models import Group

pytestmark = pytest.mark.django_db


def _json(response: Any) -> dict[str, Any]:
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    return response.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize("too_big", [INT_MAX + 1, INT_MIN - 1, 2**200])
def test_an_integer_beyond_64_bits_in_a_body_is_a_422_naming_its_place(api: Client, too_big: int) -> None:
    response = api.post(
        "/api/v1/users/activation-emails",
        data=json.dumps({"user_ids": [1, too_big]}),
        content_type="application/json",
    )
    assert response.status_code == 422, response.content
    assert _json(response)["error"]["fields"] == {"user_ids.1": [INT_RULE]}


def test_the_edge_the_largest_64_bit_integer_is_only_an_unknown_user(api: Client) -> None:
    response = api.post(
        "/api/v1/users/activation-emails",
        data=json.dumps({"user_ids": [INT_MAX]}),
        content_type="application/json",
    )
    assert response.status_code == 422, response.content
    assert INT_RULE not in json.dumps(_json(response))


def test_an_integer_beyond_64_bits_in_a_query_is_a_422(api: Client) -> None:
    response = api.get(f"/api/v1/users?group_id={INT_MAX + 1}")
    assert response.status_code == 422, response.content
    assert _json(response)["error"]["fields"] == {"group_id": [INT_RULE]}
    assert api.get(f"/api/v1/users?group_id={INT_MAX}").status_code == 200


def test_a_body_that_creates_nothing_with_a_huge_id_writes_nothing(api: Client) -> None:
    response = api.post(
        "/api/v1/groups", data=json.dumps({"name": "Sales", "x": 2**64}), content_type="application/json"
    )
    assert response.status_code == 422
    assert Group.objects.count() == 0


@pytest.mark.parametrize("path", ["/api/v1/groups/a%0Ab/members", "/api/v1/users/1%0A", "/api/v1/%0A"])
def test_a_path_with_a_newline_gets_the_json_404(api: Client, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 404
    assert _json(response)["error"]["code"] == "not_found"


@pytest.mark.parametrize("offset", ["+17:57", "-23:59"])
def test_a_usage_period_with_an_offset_postgresql_cannot_store_is_compared_in_utc(
    api: Client, offset: str
) -> None:
    response = api.get(f"/api/v1/usage-report?start=2026-01-01T00:00:00{offset.replace('+', '%2B')}")
    assert response.status_code == 200, response.content


def test_a_usage_period_that_leaves_the_calendar_in_utc_is_a_422(api: Client) -> None:
    response = api.get("/api/v1/usage-report?start=0001-01-01T00:00:00%2B05:00")
    assert response.status_code == 422, response.content
    assert list(_json(response)["error"]["fields"]) == ["start"]

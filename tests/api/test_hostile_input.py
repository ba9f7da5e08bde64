"""Input no field may hold is refused before any service sees it, in the API's error shape, and
nothing is written (issue 11, point 5)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from lockstep.api.json_body import DUPLICATE_RULE, NUL_RULE, SURROGATE_RULE
from lockstep.directory.models import User

pytestmark = pytest.mark.django_db

GOOD = {"username": "adele", "email": "adele@contoso.com", "first_name": "Adele", "last_name": "Vance"}


def _post(api: Client, raw: str) -> Any:
    return api.post("/api/v1/users", data=raw, content_type="application/json")


def _refused(response: Any, field: str, rule: str) -> None:
    assert response.status_code == 422, response.content
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["fields"] == {field: [rule]}
    assert User.objects.count() == 0


def test_a_duplicate_key_is_refused_naming_it(api: Client) -> None:
    raw = json.dumps(GOOD)[:-1] + ', "username": "eve"}'
    _refused(_post(api, raw), "username", DUPLICATE_RULE)


@pytest.mark.parametrize(("escaped", "rule"), [("\\u0000", NUL_RULE), ("\\ud800", SURROGATE_RULE)])
def test_nul_and_lone_surrogates_are_refused_in_any_text_field(api: Client, escaped: str, rule: str) -> None:
    raw = json.dumps({**GOOD, "job_title": "Pilot"}).replace("Pilot", f"Pi{escaped}lot")
    _refused(_post(api, raw), "job_title", rule)


def test_nested_text_is_named_by_its_path() -> None:
    from lockstep.api.json_body import check_text
    from lockstep.directory.errors import ValidationFailed

    check_text({"users": [{"username": "ok"}, {"username": "fine"}]})  # nothing to refuse
    with pytest.raises(ValidationFailed) as refused:
        check_text({"users": [{"username": "ok"}, {"username": "a\x00"}]})
    assert refused.value.errors == {"users.1.username": [NUL_RULE]}


def test_the_edge_a_surrogate_pair_is_fine(api: Client) -> None:
    response = _post(api, json.dumps({**GOOD, "job_title": "Pilot \U0001f680"}))  # a real astral character
    assert response.status_code == 201, response.content
    assert User.objects.get().job_title == "Pilot \U0001f680"


def test_a_nul_in_a_query_parameter_is_refused(api: Client) -> None:
    response = api.get("/api/v1/users?q=a%00b")
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {"q": [NUL_RULE]}


def test_an_oversized_body_gets_413_in_the_error_shape(api: Client, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    at_limit = json.dumps({**GOOD, "department": "x" * 10})
    assert len(at_limit) <= 1000
    assert _post(api, at_limit).status_code == 201
    response = _post(api, json.dumps({**GOOD, "username": "zoe", "department": "x" * 1000}))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert User.objects.count() == 1


def test_an_unknown_route_answers_json_404_even_to_an_anonymous_post() -> None:
    response = Client(enforce_csrf_checks=True).post(
        "/api/v1/nope", data="{}", content_type="application/json"
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"

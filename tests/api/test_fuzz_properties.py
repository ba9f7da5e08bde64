"""Property tests for the input every list takes from outside: the cursor codec and the search
parameters (issue 11, point 7). Any string gets an answer or a 4xx in the API's error shape, never a
500; the CSV export is never cut off mid-stream.

Each property runs inside the test so the test can count the examples that reached their
assertions: a property whose cases never run proves nothing.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from lockstep.api.pagination import BAD_CURSOR, BY_USERNAME, MAX_ID
from lockstep.console.views.users import CSV_COLUMNS
from lockstep.directory.errors import ValidationFailed
from lockstep.directory.models import User
from lockstep.directory.services.user_queries import CURSOR_MAX, SEARCH_MAX, decode_cursor, encode_cursor

EXAMPLES = 120
SEEDED = settings(
    max_examples=EXAMPLES,
    derandomize=True,  # the same cases on every run, so a failure is repeatable
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Text with everything that broke a layer once: NUL, lone surrogates, astral and combining characters.
HOSTILE_TEXT = st.text(st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF), max_size=300)
LONG_TEXT = st.integers(SEARCH_MAX - 2, 5000).flatmap(
    lambda n: st.sampled_from(["é", "\U0001f680", "a", "\x00", "\ud800", "%", "_"]).map(lambda c: c * n)
)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _json_cursor(value: Any) -> str:
    return _b64(json.dumps(value).encode("utf-8", "surrogatepass"))


NESTED = st.integers(1, 20_000).map(lambda depth: _b64(b"[" * depth + b"]" * depth))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | HOSTILE_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
FORGED = st.one_of(
    HOSTILE_TEXT,  # not base64 at all, or base64 of anything
    NESTED,  # deeper than Python's JSON parser recurses
    JSON_VALUES.map(_json_cursor),  # valid JSON of the wrong shape
    st.tuples(JSON_VALUES, JSON_VALUES).map(lambda pair: _json_cursor(list(pair))),  # two wrong values
    st.tuples(HOSTILE_TEXT, st.integers()).map(lambda pair: _json_cursor(list(pair))),  # any text, any int
    st.integers(CURSOR_MAX - 2, CURSOR_MAX + 2).map(lambda n: "A" * n),  # at the length limit
)


def _query(name: str, value: str) -> str:
    """A query string carrying `value` as a browser would (a lone surrogate as its raw UTF-8 bytes)."""
    return f"{name}={quote(value.encode('utf-8', 'surrogatepass'), safe='')}"


def _assert_error_shape(response: Any, field: str | None = None) -> None:
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    error = response.json()["error"]
    assert set(error) >= {"code", "message", "fields"}
    if field is not None:
        assert field in error["fields"], error


def _run(prop: Callable[[], None], outcomes: Counter[str], *expected: str) -> None:
    """Run the property, then prove its cases reached the assertions, and each kind of outcome."""
    prop()
    assert sum(outcomes.values()) >= EXAMPLES, outcomes
    for outcome in expected:
        assert outcomes[outcome] > 0, outcomes


def test_decode_of_any_string_gives_its_values_or_a_422_naming_the_cursor() -> None:
    outcomes: Counter[str] = Counter()

    @SEEDED
    @given(FORGED)
    def prop(cursor: str) -> None:
        try:
            value, last_id = BY_USERNAME.decode(cursor)
        except ValidationFailed as refused:
            assert refused.errors == BAD_CURSOR
            outcomes["refused"] += 1
            event("refused")
            return
        assert isinstance(value, str) and "\x00" not in value
        value.encode("utf-8")  # no lone surrogate reaches a query
        assert 0 <= last_id <= MAX_ID
        outcomes["decoded"] += 1
        event("decoded")

    _run(prop, outcomes, "refused", "decoded")


def test_a_cursor_nested_deeper_than_the_json_parser_recurses_is_a_422_not_a_500() -> None:
    deep = _b64(b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(ValidationFailed) as refused:
        decode_cursor(deep)
    assert refused.value.errors == BAD_CURSOR


@pytest.mark.parametrize("text", ["a\x00b", "\ud800"])
def test_a_cursor_holding_text_no_database_stores_is_a_422(text: str) -> None:
    with pytest.raises(ValidationFailed):
        decode_cursor(_json_cursor([text, 1]))


def test_encode_then_decode_gives_back_every_storable_name_and_id() -> None:
    outcomes: Counter[str] = Counter()
    storable = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=256)

    @SEEDED
    @given(storable, st.integers(0, MAX_ID))
    def prop(name: str, pk: int) -> None:
        assert BY_USERNAME.decode(encode_cursor([name, pk])) == (name, pk)
        outcomes["ascii" if name.isascii() else "non-ascii"] += 1

    _run(prop, outcomes, "ascii", "non-ascii")


@pytest.fixture
def some_users(make_user: Callable[..., User]) -> list[User]:
    return [
        make_user("adele", first_name="Adèle", last_name="Vance"),
        make_user("megan", first_name="Megan", last_name="Bowen", department="Sales"),
        make_user("zoe", first_name="Zoë", last_name="Ωmega", job_title="=cmd|' /C calc'!A0"),
    ]


@pytest.mark.django_db
def test_a_forged_cursor_on_any_list_is_a_422_in_the_error_shape(api: Client, some_users: list[User]) -> None:
    outcomes: Counter[str] = Counter()
    lists = [
        "/api/v1/users",
        "/api/v1/groups",
        "/api/v1/audit-events",
        "/api/v1/api-keys",
        "/api/v1/directories",
    ]

    @SEEDED
    @given(FORGED, st.sampled_from(lists))
    def prop(cursor: str, path: str) -> None:
        response = api.get(f"{path}?{_query('cursor', cursor)}&limit=2")
        assert response.status_code in (200, 422), (response.status_code, response.content[:300])
        if response.status_code == 422:
            _assert_error_shape(response, "cursor")
        outcomes[str(response.status_code)] += 1
        event(f"{path} {response.status_code}")

    _run(prop, outcomes, "200", "422")


@pytest.mark.django_db
def test_any_search_on_the_users_list_is_an_answer_or_a_422(api: Client, some_users: list[User]) -> None:
    outcomes: Counter[str] = Counter()

    @SEEDED
    @given(st.one_of(HOSTILE_TEXT, LONG_TEXT), st.sampled_from(["search", "email", "department", "domain"]))
    def prop(text: str, name: str) -> None:
        response = api.get(f"/api/v1/users?{_query(name, text)}")
        assert response.status_code in (200, 422), (response.status_code, response.content[:300])
        if response.status_code == 422:
            _assert_error_shape(response)
        else:
            items = response.json()["items"]
            assert {user["username"] for user in items} <= {"adele", "megan", "zoe"}
        outcomes[str(response.status_code)] += 1

    _run(prop, outcomes, "200", "422")


def _export_rows(response: Any) -> list[list[str]]:
    """The CSV's rows, read to its end; every row must be whole (the export never stops halfway)."""
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.endswith("\r\n"), body[-200:]
    rows = list(csv.reader(io.StringIO(body, newline="")))
    assert rows[0] == list(CSV_COLUMNS)
    assert all(len(row) == len(CSV_COLUMNS) for row in rows), rows
    return rows[1:]


@pytest.mark.django_db
def test_any_search_in_the_csv_export_is_a_whole_file_or_a_4xx(
    admin_client: Client, some_users: list[User]
) -> None:
    outcomes: Counter[str] = Counter()
    everyone = _export_rows(admin_client.get("/users/export.csv"))
    assert len(everyone) == len(some_users)

    @SEEDED
    @given(st.one_of(HOSTILE_TEXT, LONG_TEXT))
    def prop(text: str) -> None:
        response = admin_client.get(f"/users/export.csv?{_query('q', text)}")
        assert response.status_code < 500
        if response.status_code == 200:
            rows = _export_rows(response)
            assert len(rows) <= len(some_users)
            if not text.strip():
                assert len(rows) == len(some_users)
            outcomes["whole file"] += 1
        else:
            assert 400 <= response.status_code < 500
            outcomes["refused"] += 1

    _run(prop, outcomes, "whole file", "refused")

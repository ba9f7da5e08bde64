"""Schemathesis against the API's own OpenAPI document (issue 11, point 7): every operation, with an
administrator's API key, valid and invalid input, in-process through the WSGI application.

Asserts no 5xx, only the status codes and content types each operation documents. Bounded: a fixed
number of seeded examples per operation (the same requests on every run) and a total time budget.
The operations that would revoke the test's own key are left out (their refusals are pinned in
test_api_keys.py); everything else runs against a small directory of users and groups.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis  # type: ignore[import-untyped,unused-ignore]
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error  # type: ignore[import-untyped,unused-ignore]
from schemathesis.specs.openapi.checks import (  # type: ignore[import-untyped,unused-ignore]
    content_type_conformance,
    status_code_conformance,
)

from lockstep.directory.models import Group, User
from lockstep.wsgi import application

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance]
EXAMPLES_PER_MODE = 6  # valid and invalid input each: about a dozen requests per operation
BUDGET_SECONDS = 150  # the whole run; more means the API got slow, which is a finding too
# Left out: they would revoke the key this run authenticates with.
EXCLUDED = {("POST", "/api/v1/api-keys/{key_id}/revoke")}
MIN_OPERATIONS = 70  # the API has about 80 operations today; fewer means the schema lost some


def _operations(schema: Any) -> list[Any]:
    operations = [result.ok() for result in schema.get_all_operations()]
    return [op for op in operations if (op.method.upper(), op.full_path) not in EXCLUDED]


def _fuzz(operation: Any, mode: Any, headers: dict[str, str], tally: Counter[str]) -> None:
    strategy = operation.as_strategy(generation_mode=mode)

    @settings(
        max_examples=EXAMPLES_PER_MODE,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def run(case: Any) -> None:
        response = case.call(headers=headers)
        tally["requests"] += 1
        tally[f"{response.status_code // 100}xx"] += 1
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()


@pytest.fixture
def keep_the_test_transaction() -> Iterator[None]:
    """The WSGI handler closes the database connection after each request, which would end the
    test's transaction; Django's test client switches that off the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def directory_data(make_user: Callable[..., User], make_group: Callable[..., Group]) -> None:
    """Something for the generated ids to find (ids 1, 2, 3 are hypothesis' favourites)."""
    adele = make_user("adele", first_name="Adèle", last_name="Vance")
    make_user("megan", first_name="Megan", last_name="Bowen", department="Sales")
    group = make_group("Sales")
    group.members.add(adele)


@override_settings(ALLOWED_HOSTS=["localhost", "testserver"])
def test_every_operation_answers_only_what_it_documents(
    api_key_secret: str,
    directory_data: None,
    keep_the_test_transaction: None,
    record_property: Callable[[str, object], None],
) -> None:
    headers = {"Authorization": f"Bearer {api_key_secret}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)
    operations = _operations(schema)
    assert len(operations) >= MIN_OPERATIONS, [op.label for op in operations]

    tally: Counter[str] = Counter()
    started = time.monotonic()
    modes = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
    for operation in operations:
        for mode in modes:
            _fuzz(operation, mode, headers, tally)
        tally["operations"] += 1
        elapsed = time.monotonic() - started
        assert elapsed < BUDGET_SECONDS, f"over budget after {tally['operations']} operations: {tally}"

    summary = (
        f"schemathesis: {tally['operations']} operations, {tally['requests']} requests, "
        f"2xx={tally['2xx']} 4xx={tally['4xx']} 5xx={tally['5xx']} in {time.monotonic() - started:.0f}s"
    )
    print(summary)  # shown with -s; also in the JUnit XML as a property, for the closing note
    record_property("schemathesis", summary)
    assert tally["5xx"] == 0, summary
    # Every operation got its requests: at least one valid example each, most got many more.
    assert tally["requests"] >= len(operations) * EXAMPLES_PER_MODE, summary

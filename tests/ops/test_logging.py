"""Structured JSON logs, request context on log records, and secrets never logged."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from django.test import Client, RequestFactory
from django.utils.functional import SimpleLazyObject
from ops_scratch import Scratch

from lockstep.directory.actors import Actor
from lockstep.directory.models import Administrator
from lockstep.ops.context import organization_id_of
from lockstep.ops.logs import REDACTED, RedactSecretsFilter, RequestContextFilter, install_filters

SECRET = "Hunter2-Very-Secret-Value"


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.format(record)
        self.records.append(record)


@pytest.fixture
def captured() -> Iterator[ListHandler]:
    handler = ListHandler()
    root = logging.getLogger()
    root.addHandler(handler)
    install_filters(root)  # what OpsConfig.ready() does for the configured handlers
    try:
        yield handler
    finally:
        root.removeHandler(handler)


def test_secret_values_in_args_and_extra_are_redacted(captured: ListHandler) -> None:
    log = logging.getLogger("lockstep.tests")
    log.warning("login for %s", {"email": "a@example.com", "password": SECRET})
    log.warning("payload %(body)s", {"body": {"nested": {"client_secret": SECRET}}, "user": "bob"})
    log.warning("sent", extra={"authorization": f"Bearer {SECRET}", "context": {"api_key": SECRET, "n": 3}})
    log.warning("header was Authorization: Bearer abcdefgh12345678")
    messages = [r.getMessage() for r in captured.records]
    rendered = " ".join(messages) + " ".join(str(r.__dict__) for r in captured.records)
    assert SECRET not in rendered
    assert "abcdefgh12345678" not in rendered
    assert "a@example.com" in messages[0] and REDACTED in messages[0]
    assert captured.records[2].context == {"api_key": REDACTED, "n": 3}  # type: ignore[attr-defined]
    assert captured.records[2].authorization == REDACTED  # type: ignore[attr-defined]


def test_harmless_keys_are_left_alone() -> None:
    record = logging.makeLogRecord({"msg": "x %s", "args": ({"mfa_passed": True, "total": 3},)})
    RedactSecretsFilter().filter(record)
    assert record.getMessage() == "x {'mfa_passed': True, 'total': 3}"


def test_log_records_during_a_request_carry_its_request_id(
    client: Client, captured: ListHandler, db: None
) -> None:
    response = client.get("/no/such/page/987")  # django.request logs "Not Found" while handling it
    records = [r for r in captured.records if r.name == "django.request"]
    assert records, "django.request logged nothing"
    assert records[-1].request_id == response.headers["X-Request-ID"]  # type: ignore[attr-defined]
    outside = logging.makeLogRecord({"msg": "idle"})
    RequestContextFilter().filter(outside)
    assert not hasattr(outside, "request_id")


def test_json_format_emits_one_parseable_object_per_line_without_secrets(scratch: Scratch) -> None:
    scratch.env["LOCKSTEP_LOG_FORMAT"] = "json"
    done = scratch.python(
        "import logging\n"
        "log = logging.getLogger('lockstep.demo')\n"
        f"log.info('admin %s signed in', {{'email': 'a@example.com', 'password': {SECRET!r}}})\n"
        f"log.warning('token refresh', extra={{'access_token': {SECRET!r}, 'tenant': 'contoso'}})\n"
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip() and not line.startswith(" ")]
    objects = [json.loads(line) for line in lines if line.startswith("{")]
    assert len(objects) >= 2, done.stderr
    assert SECRET not in done.stderr
    signed_in = next(o for o in objects if "signed in" in o["message"])
    assert signed_in["level"] == "INFO" and signed_in["logger"] == "lockstep.demo" and "time" in signed_in
    token = next(o for o in objects if o["message"] == "token refresh")
    assert token["access_token"] == REDACTED and token["tenant"] == "contoso"


def test_organization_comes_from_the_signed_in_admin_or_api_key_without_a_query(owner: Administrator) -> None:
    request = RequestFactory().get("/")
    request.user = SimpleLazyObject(lambda: owner)  # type: ignore[assignment]
    assert organization_id_of(request) is None  # not resolved yet: resolving would cost a query
    assert request.user.pk == owner.pk  # the view resolved it
    assert organization_id_of(request) == owner.organization_id
    api_request = RequestFactory().get("/api/v1/users")
    api_request.auth = Actor.for_admin(owner)  # type: ignore[attr-defined]
    assert organization_id_of(api_request) == owner.organization_id

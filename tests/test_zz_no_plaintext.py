"""No plaintext password the tests used reached the database, a log or a worker's output.

The plaintext guard (lockstep.testing.plaintext_guard, registered in tests/conftest.py) learns
every password the run hands to a hasher, to `crypto.encrypt` or to m365sim, and watches every
write and log record. The check below runs last in each pytest process of `make test`; the test
before it plants a password where it must not be and shows the guard finds it everywhere.
"""

from __future__ import annotations

import logging
import secrets
import smtplib
import subprocess
import sys
import threading
from email.message import EmailMessage
from typing import Any

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection

from lockstep.directory.models import Organization
from lockstep.directory.services import organizations
from lockstep.directory.services.passwords import hash_password
from lockstep.testing import plaintext_guard as guard
from lockstep.testing.plaintext_scan import KNOWN, VIOLATIONS, fingerprint

pytestmark = pytest.mark.django_db


def test_the_guard_finds_a_planted_password_in_a_log_a_column_a_session_a_subprocess_and_an_email(
    smtp_server: Any,
) -> None:
    org = organizations.create_organization(name="Planted Ltd")
    planted = f"Planted-{secrets.token_hex(8)}"
    try:
        hash_password(planted)  # learned the way every test's password is: through the hasher
        assert planted in KNOWN.passwords
        assert guard.collect_findings([planted]) == []  # known, but nowhere yet

        logging.getLogger("lockstep.planted").debug("oops: %s", planted)  # DEBUG is captured too
        Organization.objects.filter(pk=org.pk).update(email_footer=f"footer {planted}")
        session = SessionStore()
        session["typed"] = planted  # signed base64 in django_session: the guard decodes it
        session.save()
        subprocess.run(
            [sys.executable, "-c", "import sys; print('echo', sys.stdin.read())"],
            input=planted,
            capture_output=True,
            text=True,
            check=True,
        )
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = "lockstep@localhost", "planted@contoso.com", "Welcome"
        mail.set_content(f"Your password is {planted}", cte="base64")  # decoded before the search
        with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as smtp:
            smtp.send_message(mail)

        wheres = [finding.where for finding in guard.collect_findings([planted])]
        assert any(w.startswith("the session's log records") and "lockstep.planted" in w for w in wheres)
        assert any(w.startswith("a write to table directory_organization") for w in wheres)
        assert any(w.startswith("a write to table django_session") for w in wheres)
        assert "table directory_organization, column email_footer" in wheres
        assert any(w.startswith("table django_session, column session_data") for w in wheres)
        assert any(w.startswith("the output of subprocess") for w in wheres)
        assert "an email to planted@contoso.com" in wheres
        report = "\n".join(finding.report() for finding in guard.collect_findings([planted]))
        assert fingerprint(planted) in report and planted not in report  # reports never show it
    finally:
        guard.forget(planted)
    assert planted not in KNOWN.passwords  # so the final check does not report what this test planted
    assert not any(v.password == planted for v in VIOLATIONS)


@pytest.mark.django_db(transaction=True)
def test_the_guard_sees_writes_on_connections_opened_later_by_other_threads() -> None:
    """As the live server's threads do: each opens its own connection after the guard started."""
    planted = f"Threaded-{secrets.token_hex(8)}"
    hash_password(planted)

    def write() -> None:
        try:
            organizations.create_organization(name=f"Thread {planted}")
        finally:
            connection.close()

    try:
        thread = threading.Thread(target=write)
        thread.start()
        thread.join(timeout=30)
        found = [v.where for v in VIOLATIONS if v.password == planted]
        assert any(where.startswith("a write to table directory_organization") for where in found), found
    finally:
        guard.forget(planted)


def test_the_guard_ignores_strings_too_short_to_be_passwords() -> None:
    before = KNOWN.observations
    KNOWN.learn("abc", "test")
    KNOWN.learn(None, "test")
    assert KNOWN.observations == before and "abc" not in KNOWN.passwords


def test_the_count_check_scales_with_the_run() -> None:
    tests_run = guard.STATE.tests_run
    try:
        guard.STATE.tests_run = 5
        assert guard.required_observations() == 0
        guard.STATE.tests_run = 150
        assert guard.required_observations() == 15
        guard.STATE.tests_run = 3000
        assert guard.required_observations() == 20
    finally:
        guard.STATE.tests_run = tests_run


@pytest.mark.plaintext_guard_last
def test_no_plaintext_password_reached_the_database_the_logs_or_a_worker() -> None:
    passwords = [*KNOWN.passwords]
    findings = guard.collect_findings(passwords)
    assert not findings, "plaintext passwords found:\n" + "\n".join(f.report() for f in findings)
    required = guard.required_observations()
    assert KNOWN.observations >= required, (
        f"the guard saw only {KNOWN.observations} plaintext passwords in {guard.STATE.tests_run} tests "
        f"(expected at least {required}): is it still wrapping the hashers?"
    )

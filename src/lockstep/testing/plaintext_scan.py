"""What the plaintext guard knows and where it looks (the pytest wiring is in plaintext_guard).

`KNOWN` holds every plaintext password the tests used, in this process's memory only: it is
never written to disk, and a finding names a password by the test that first used it and a short
fingerprint, never by its text. The scanners return findings; they never raise.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

MIN_LENGTH = 8  # shorter strings ("on", "abc") are not passwords worth hunting and match too much


@dataclass
class Learned:
    first_test: str  # the test running when the guard first saw it
    via: str  # what handed it over (make_password, crypto.encrypt, ...)
    times: int = 0


@dataclass
class Known:
    """The plaintexts of this run, with the forms they take once escaped (JSON, URL)."""

    passwords: dict[str, Learned] = field(default_factory=dict)
    observations: int = 0
    current_test: str = "(outside any test)"
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def learn(self, value: object, via: str) -> None:
        if not isinstance(value, str) or len(value) < MIN_LENGTH or (value.isalpha() and value.islower()):
            return  # too short, or a plain word ("password") that any page or log may contain
        with self._lock:
            self.observations += 1
            learned = self.passwords.setdefault(value, Learned(self.current_test, via))
            learned.times += 1

    def forget(self, value: str) -> None:
        with self._lock:
            self.passwords.pop(value, None)

    def snapshot(self) -> list[str]:
        with self._lock:
            return list(self.passwords)

    def describe(self, value: str) -> str:
        learned = self.passwords.get(value)
        where = f"first used by {learned.first_test} via {learned.via}" if learned else "no longer known"
        return f"password {fingerprint(value)} ({where})"


KNOWN = Known()


def fingerprint(value: str) -> str:
    """Names a password in a report without revealing it."""
    return "#" + hashlib.sha256(value.encode()).hexdigest()[:10]


@functools.lru_cache(maxsize=4096)
def forms(value: str) -> frozenset[str]:
    """The password as it may appear once stored or logged: as is, JSON-escaped, URL-encoded."""
    return frozenset({value, json.dumps(value)[1:-1], quote(value, safe=""), quote_plus(value)})


@functools.lru_cache(maxsize=64)
def _any_of(passwords: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(form) for p in passwords for form in sorted(forms(p))))


def masked(text: str, passwords: Iterable[str]) -> str:
    """`text` with every password replaced by its fingerprint, fit for a report."""
    for password in passwords:
        for form in forms(password):
            text = text.replace(form, fingerprint(password))
    return text


def found_in(text: str, passwords: Iterable[str]) -> list[str]:
    """The passwords that occur in `text` (in any of their forms)."""
    candidates = tuple(passwords)
    if not candidates or _any_of(candidates).search(text) is None:  # one pass for the common case
        return []
    return [p for p in candidates if any(form in text for form in forms(p))]


def as_text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=str)
    return None


@dataclass(frozen=True)
class Finding:
    password: str  # kept in memory only; reports print its description
    where: str

    def report(self) -> str:
        return f"{KNOWN.describe(self.password)} found in {self.where}"


# --- writes seen by the database watcher -----------------------------------------------------

VIOLATIONS: list[Finding] = []
_WRITE = re.compile(r'^\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE)\s+[`"\[]?([\w.]+)', re.IGNORECASE)


_SIGNED = re.compile(r"^\.?[\w-]+:[\w-]+:[\w-]+$")


def session_text(value: str) -> str:
    """A Django session's payload decoded (it is signed base64, so a plain search misses it)."""
    if len(value) < 20 or not _SIGNED.match(value):
        return ""
    from django.contrib.sessions.serializers import JSONSerializer
    from django.core import signing

    try:  # what SessionStore.decode does, without its "Session data corrupted" warning
        data = signing.loads(value, salt="django.contrib.sessions.SessionStore", serializer=JSONSerializer)
    except Exception:
        return ""
    return json.dumps(data, default=str)


def parameter_texts(params: Any, many: bool) -> Iterator[str]:
    rows = params if many else [params]
    for row in rows or ():
        values = row.values() if isinstance(row, dict) else row if isinstance(row, list | tuple) else [row]
        for value in values:
            text = as_text(value)
            if text:
                yield text
                yield session_text(text)


def check_write(sql: str, params: Any, many: bool) -> None:
    """Record (never raise) a known plaintext in the parameters of an INSERT or UPDATE."""
    match = _WRITE.match(sql)
    if match is None or not params:
        return
    passwords = KNOWN.snapshot()
    if not passwords:
        return
    for text in parameter_texts(params, many):
        for password in found_in(text, passwords):
            statement = " ".join(sql.split())[:70]
            VIOLATIONS.append(
                Finding(
                    password, f"a write to table {match.group(1)} during {KNOWN.current_test}: {statement}"
                )
            )


def database_watcher(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    """A connection.execute_wrapper: looks at every write, then runs it unchanged."""
    with contextlib.suppress(Exception):  # the guard must never break the statement it watches
        check_write(sql, params, many)
    return execute(sql, params, many, context)


# --- scanners ------------------------------------------------------------------------------


def scan_violations(passwords: Iterable[str]) -> list[Finding]:
    wanted = set(passwords)
    return [v for v in VIOLATIONS if v.password in wanted]


def scan_text_file(path: Path, passwords: list[str], label: str) -> list[Finding]:
    findings: list[Finding] = []
    if not path.is_file():
        return findings
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, 1):
            for password in found_in(line, passwords):
                excerpt = masked(line.strip(), [password])[:100]
                findings.append(Finding(password, f"{label} line {number}: {excerpt!r}"))
    return findings


def scan_outputs(outputs: Iterable[tuple[str, str]], passwords: list[str]) -> list[Finding]:
    """What was kept in memory: subprocess output (`lockstep worker`, `lockstep run`, CLI
    commands) and the emails the test SMTP server received; `label` says which."""
    return [Finding(password, label) for label, text in outputs for password in found_in(text, passwords)]


def scan_database(passwords: list[str], using: str = "default") -> list[Finding]:
    """Every row of every table of the database `using`, every text-like value (sessions decoded)."""
    from django.db import connections

    connection = connections[using]
    findings: list[Finding] = []
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        for table in tables:
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            columns = [c[0] for c in cursor.description]
            for row in cursor.fetchall():
                for column, value in zip(columns, row, strict=True):
                    text = as_text(value)
                    if not text:
                        continue
                    text += session_text(text) if table == "django_session" else ""
                    for password in found_in(text, passwords):
                        findings.append(Finding(password, f"table {table}, column {column}"))
    return findings

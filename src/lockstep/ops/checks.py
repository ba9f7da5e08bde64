"""`lockstep check`: configuration sanity, one line per check with how to fix a failure."""

from __future__ import annotations

import base64
import binascii
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings

from lockstep.ops.readiness import database_reachable, unapplied_migrations

OK, FAIL, WARN = "OK", "FAIL", "WARN"
KNOWN_BAD_SECRET_KEYS = {"", "changeme", "change-me", "secret", "insecure", "dev", "test", "django-insecure"}


@dataclass(frozen=True)
class CheckResult:
    status: str
    name: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.status:<4} {self.name}: {self.detail}"
        return f"{text}\n     fix: {self.fix}" if self.fix and self.status != OK else text


def missing_sqlite_file() -> Path | None:
    """The SQLite file the settings name, when it does not exist yet (opening it would create it)."""
    database = settings.DATABASES["default"]
    if not database["ENGINE"].endswith("sqlite3"):
        return None
    name = str(database["NAME"])
    if name == ":memory:" or name.startswith("file:"):
        return None
    path = Path(name)
    return None if path.exists() else path


def check_database() -> CheckResult:
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    missing = missing_sqlite_file()
    if missing is not None:
        return CheckResult(
            FAIL,
            "database",
            f"{engine}: {missing} does not exist yet",
            "run `lockstep migrate` to create it (`lockstep run` does so too), "
            "or set LOCKSTEP_DATA_DIR / LOCKSTEP_DATABASE_URL to the database `lockstep run` uses",
        )
    problem = database_reachable()
    if problem:
        return CheckResult(
            FAIL,
            "database",
            f"{engine}: {problem}",
            "set LOCKSTEP_DATABASE_URL to a reachable database (sqlite:///path or postgresql://user@host:5432/name)",
        )
    return CheckResult(OK, "database", f"{engine} reachable")


def check_migrations() -> CheckResult:
    if missing_sqlite_file() is not None:
        return CheckResult(
            FAIL, "migrations", "not checked: the database does not exist yet", "run `lockstep migrate`"
        )
    if database_reachable():
        return CheckResult(
            FAIL, "migrations", "not checked: the database is unreachable", "fix the database first"
        )
    pending = unapplied_migrations()
    if pending:
        return CheckResult(
            FAIL, "migrations", f"{len(pending)} unapplied (first: {pending[0]})", "run `lockstep migrate`"
        )
    return CheckResult(OK, "migrations", "all applied")


def generated_on_first_start(variable: str, filename: str) -> str | None:
    """Words for a key neither set in `variable` nor generated into the data dir yet."""
    if os.environ.get(variable) or (Path(settings.DATA_DIR) / filename).exists():
        return None
    return f"not generated yet: `lockstep run` writes {Path(settings.DATA_DIR) / filename} on first start"


def check_secret_key() -> CheckResult:
    pending = generated_on_first_start("LOCKSTEP_SECRET_KEY", "secret_key")
    if pending:
        return CheckResult(OK, "secret key", pending)
    key = str(settings.SECRET_KEY)
    fix = "set LOCKSTEP_SECRET_KEY to at least 50 random characters, or unset it to use a generated one"
    if key.strip().lower() in KNOWN_BAD_SECRET_KEYS or key.startswith("django-insecure"):
        return CheckResult(FAIL, "secret key", "LOCKSTEP_SECRET_KEY is a well-known placeholder", fix)
    if len(key) < 32 or len(set(key)) < 8:
        return CheckResult(FAIL, "secret key", f"too weak ({len(key)} characters)", fix)
    source = (
        "LOCKSTEP_SECRET_KEY" if os.environ.get("LOCKSTEP_SECRET_KEY") else f"{settings.DATA_DIR}/secret_key"
    )
    return CheckResult(OK, "secret key", f"set ({source})")


def decode_encryption_key(key: str) -> bytes:
    """Strict base64 (URL-safe or standard alphabet) that must decode to 32 bytes."""
    try:
        raw = base64.b64decode(key.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError) as problem:
        raise ValueError("not valid base64") from problem
    if len(raw) != 32:
        raise ValueError(f"decodes to {len(raw)} bytes, not 32")
    return raw


def check_encryption_keys() -> CheckResult:
    pending = generated_on_first_start("LOCKSTEP_ENCRYPTION_KEYS", "encryption_keys")
    if pending:
        return CheckResult(OK, "encryption keys", pending)
    keys: list[str] = list(settings.ENCRYPTION_KEYS)
    fix = (
        "set LOCKSTEP_ENCRYPTION_KEYS to comma-separated base64url 32-byte keys, newest first; make one with "
        '`python -c "import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode())"`'
    )
    if not keys:
        return CheckResult(FAIL, "encryption keys", "none configured", fix)
    problems = []
    for position, key in enumerate(keys, start=1):
        try:
            decode_encryption_key(key)
        except ValueError as problem:
            problems.append(f"key {position} {problem}")
    if problems:
        return CheckResult(FAIL, "encryption keys", "; ".join(problems), fix)
    return CheckResult(OK, "encryption keys", f"{len(keys)} valid (the first encrypts)")


def check_allowed_hosts() -> CheckResult:
    host = urlsplit(settings.BASE_URL).hostname or ""
    allowed = list(settings.ALLOWED_HOSTS)
    fix = f"add {host!r} to LOCKSTEP_ALLOWED_HOSTS, or correct LOCKSTEP_BASE_URL"
    if not host:
        return CheckResult(FAIL, "allowed hosts", f"LOCKSTEP_BASE_URL {settings.BASE_URL!r} has no host", fix)
    for pattern in allowed:
        pattern = pattern.strip("[]") if pattern.startswith("[") else pattern
        if (
            pattern == "*"
            or pattern == host
            or (pattern.startswith(".") and (host.endswith(pattern) or host == pattern[1:]))
        ):
            return CheckResult(OK, "allowed hosts", f"include {host} (the host of LOCKSTEP_BASE_URL)")
    return CheckResult(FAIL, "allowed hosts", f"{host} (from LOCKSTEP_BASE_URL) is not in {allowed}", fix)


def check_data_dir() -> CheckResult:
    """Writable, or creatable where it does not exist yet; tested with access(2), writing nothing."""
    path = Path(settings.DATA_DIR)
    fix = f"make {path} writable by this user, or set LOCKSTEP_DATA_DIR to a writable folder"
    if path.is_dir():
        if os.access(path, os.W_OK | os.X_OK):
            return CheckResult(OK, "data dir", f"{path} writable")
        return CheckResult(FAIL, "data dir", f"{path} is not writable", fix)
    if path.exists():
        return CheckResult(FAIL, "data dir", f"{path} is not a folder", fix)
    parent = next((p for p in path.parents if p.exists()), None)
    if parent is not None and parent.is_dir() and os.access(parent, os.W_OK | os.X_OK):
        return CheckResult(OK, "data dir", f"{path} does not exist yet; `lockstep run` creates it")
    return CheckResult(FAIL, "data dir", f"{path} does not exist and cannot be created here", fix)


def check_smtp_host() -> CheckResult:
    host, port = settings.EMAIL_HOST, int(settings.EMAIL_PORT)
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as problem:
        return CheckResult(
            FAIL,
            "smtp host",
            f"{host!r} does not resolve ({problem})",
            "set LOCKSTEP_EMAIL_HOST to a resolvable SMTP server name or address",
        )
    return CheckResult(OK, "smtp host", f"{host}:{port} resolves (not contacted)")


def check_trusted_ca_file() -> CheckResult:
    path = str(getattr(settings, "TRUSTED_CA_FILE", "") or "")
    if not path:
        return CheckResult(OK, "trusted CA file", "not set (the system's CAs only)")
    fix = "point LOCKSTEP_TRUSTED_CA_FILE at a readable PEM bundle, or unset it"
    try:
        text = Path(path).read_text(errors="replace")
    except OSError as problem:
        return CheckResult(FAIL, "trusted CA file", f"{path} cannot be read ({problem.strerror})", fix)
    count = text.count("-----BEGIN CERTIFICATE-----")
    if not count:
        return CheckResult(FAIL, "trusted CA file", f"{path} holds no PEM certificate", fix)
    return CheckResult(OK, "trusted CA file", f"{path} ({count} certificate{'s' if count != 1 else ''})")


def check_debug() -> CheckResult:
    if settings.DEBUG:
        return CheckResult(
            WARN, "debug", "LOCKSTEP_DEBUG is on", "turn it off anywhere but a developer machine"
        )
    return CheckResult(OK, "debug", "off")


ALL_CHECKS: tuple[Callable[[], CheckResult], ...] = (
    check_database,
    check_migrations,
    check_secret_key,
    check_encryption_keys,
    check_allowed_hosts,
    check_data_dir,
    check_smtp_host,
    check_trusted_ca_file,
    check_debug,
)


def run_checks() -> list[CheckResult]:
    results = []
    for check in ALL_CHECKS:
        try:
            results.append(check())
        except Exception as problem:  # a check must never crash the report
            name = check.__name__.removeprefix("check_").replace("_", " ")
            results.append(CheckResult(FAIL, name, f"check crashed: {problem!r}", "report this as a bug"))
    return results

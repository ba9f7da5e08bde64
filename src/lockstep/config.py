"""Every LOCKSTEP_* setting in one place: name, default and meaning.

`settings.py` reads them through `env()`; the README's settings table is generated from
`SETTINGS` (see `lockstep settings-table`), so the two cannot drift apart.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    meaning: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "LOCKSTEP_DATA_DIR", "./var", "Folder for the SQLite database, generated keys and the demo state."
    ),
    Setting(
        "LOCKSTEP_DATABASE_URL",
        "sqlite:///<LOCKSTEP_DATA_DIR>/lockstep.sqlite3",
        "Database URL: sqlite:///path or postgresql://user@host:5432/name.",
    ),
    Setting(
        "LOCKSTEP_SECRET_KEY",
        "(generated into <LOCKSTEP_DATA_DIR>/secret_key on first start)",
        "Django secret key: signs sessions, CSRF tokens and email links.",
    ),
    Setting(
        "LOCKSTEP_ENCRYPTION_KEYS",
        "(generated into <LOCKSTEP_DATA_DIR>/encryption_keys on first start)",
        "Comma-separated base64 AES-256 keys for secrets at rest; the first encrypts, all decrypt (rotation).",
    ),
    Setting("LOCKSTEP_DEBUG", "false", "Django debug mode. Never in production."),
    Setting(
        "LOCKSTEP_ALLOWED_HOSTS",
        "localhost,127.0.0.1,[::1]",
        "Comma-separated host names Lockstep answers to.",
    ),
    Setting(
        "LOCKSTEP_BASE_URL",
        "http://127.0.0.1:8000",
        "Public URL of Lockstep, used in emails and SAML metadata.",
    ),
    Setting("LOCKSTEP_LISTEN", "127.0.0.1:8000", "Address and port `lockstep run` listens on."),
    Setting("LOCKSTEP_WEB_THREADS", "8", "Worker threads of the built-in web server."),
    Setting(
        "LOCKSTEP_SECURE_COOKIES",
        "true",
        "Mark session and CSRF cookies Secure (browsers accept them on localhost).",
    ),
    Setting("LOCKSTEP_SESSION_IDLE_SECONDS", "1800", "Admin Portal sessions end after this much inactivity."),
    Setting("LOCKSTEP_LOG_FORMAT", "text", "`text` or `json` (one JSON object per line)."),
    Setting("LOCKSTEP_LOG_LEVEL", "INFO", "Python logging level."),
    Setting("LOCKSTEP_EMBEDDED_WORKER", "true", "`lockstep run` also runs a background worker in-process."),
    Setting("LOCKSTEP_EMAIL_HOST", "127.0.0.1", "SMTP server host for outgoing mail."),
    Setting("LOCKSTEP_EMAIL_PORT", "25", "SMTP server port."),
    Setting(
        "LOCKSTEP_EMAIL_SECURITY",
        "none",
        "`none`, `starttls` (upgrade a plain connection) or `tls` (implicit TLS, usually port 465).",
    ),
    Setting("LOCKSTEP_EMAIL_USER", "", "SMTP user name; empty: no authentication."),
    Setting("LOCKSTEP_EMAIL_PASSWORD", "", "SMTP password (read from the environment, never stored)."),
    Setting("LOCKSTEP_EMAIL_TIMEOUT_SECONDS", "20", "How long one SMTP conversation may take."),
    Setting(
        "LOCKSTEP_PORTAL_IDLE_SECONDS",
        "900",
        "User Portal sessions end after this much inactivity (shorter than the Admin Portal's).",
    ),
    Setting(
        "LOCKSTEP_TRUSTED_PROXIES",
        "",
        "Comma-separated addresses or networks of reverse proxies whose X-Forwarded-For is believed "
        "(the client address used for sign-in throttling) and whose X-Forwarded-Proto says whether "
        "the client used HTTPS. Empty: REMOTE_ADDR is the client and the connection's own scheme counts.",
    ),
    Setting(
        "LOCKSTEP_ALLOW_CUSTOM_ENDPOINTS",
        "false",
        "Allow directories with custom Microsoft endpoints (`cloud: custom`: Lockstep then sends "
        "requests wherever an administrator points it). On for `lockstep demo` (m365sim) and the tests.",
    ),
    Setting(
        "LOCKSTEP_HSTS_SECONDS",
        "31536000",
        "Strict-Transport-Security max-age sent on responses served over HTTPS; 0 sends none.",
    ),
    Setting(
        "LOCKSTEP_PASSWORD_HOLD_HOURS",
        "24",
        "How long a password waits, encrypted, for delivery to Microsoft 365 before it is erased.",
    ),
    Setting("LOCKSTEP_ACTIVATION_LINK_HOURS", "168", "How long an activation link works (7 days)."),
    Setting("LOCKSTEP_RESET_LINK_MINUTES", "60", "How long a password-reset link works."),
    Setting(
        "LOCKSTEP_EMAIL_FROM", "lockstep@localhost", "Default sender address (organizations can override)."
    ),
    Setting(
        "LOCKSTEP_M365_LEASE_SECONDS",
        "120",
        "How long a worker holds the Microsoft 365 objects it is writing; a crashed worker's objects are retried after it.",
    ),
    Setting(
        "LOCKSTEP_M365_DRIFT_SECONDS",
        "60",
        "Seconds between two drift checks (delta queries) of one directory.",
    ),
    Setting(
        "LOCKSTEP_SYNC_THREADS",
        "8",
        "Directories one worker syncs at the same time, each at its own tenant's pace (one thread each).",
    ),
    Setting(
        "LOCKSTEP_FEDERATION_PROPAGATION_MINUTES",
        "120",
        "After a federation change, its status shows as in progress (not failed) this long: Microsoft says changes can take up to two hours to reach every sign-in.",
    ),
    Setting(
        "LOCKSTEP_VERIFY_TIMEOUT_SECONDS",
        "10",
        "Timeout of each Microsoft request a directory verification makes (connect, token, each Graph read).",
    ),
    Setting(
        "LOCKSTEP_VERIFY_WAIT_SECONDS",
        "3",
        "How long a web request waits for a directory verification before answering that it is still running (it finishes in the background).",
    ),
    Setting(
        "LOCKSTEP_VERIFY_PER_ORGANIZATION",
        "2",
        "Directory verifications one organization may have running at once; more are refused until one finishes.",
    ),
    Setting(
        "LOCKSTEP_TRUSTED_CA_FILE",
        "",
        "Extra CA bundle trusted for Microsoft endpoints and the mail server (m365sim's CA, TLS proxies, a private CA).",
    ),
)


def env(name: str, default: str | None = None) -> str:
    """The value of a LOCKSTEP_* setting, falling back to its documented default."""
    if default is None:
        default = next(s.default for s in SETTINGS if s.name == name)
    return os.environ.get(name, default)


def env_networks(name: str) -> list[str]:
    """A comma-separated list of addresses or CIDR networks; a malformed entry stops the start
    with the setting and the entry named (not a failure on every request later)."""
    import ipaddress

    entries = [p.strip() for p in env(name).split(",") if p.strip()]
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValueError(
                f"{name}: {entry!r} is not an IP address or network (examples: 10.0.0.5, 10.0.0.0/8, fd00::/8)"
            ) from None
    return entries


def env_bool(name: str, default: str | None = None) -> bool:
    value = env(name, default).strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"{name} must be true or false, not {value!r}")


_creates_files = True


def inspect_only() -> None:
    """Settings then create nothing: no data dir, no generated key, no static folder (`lockstep check`).

    Call it before Django is set up. A key that was never generated gets a throw-away value for
    this process only; `lockstep check` says so.
    """
    global _creates_files
    _creates_files = False


def creates_files() -> bool:
    return _creates_files


def data_dir() -> Path:
    """The data folder; made readable by its owner only (0700) when Lockstep creates it: it
    holds the database, the generated keys and the demo's state."""
    path = Path(env("LOCKSTEP_DATA_DIR")).resolve()
    if _creates_files and not path.exists():
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o700)
    return path


def private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 unless it exists (SQLite gives its -wal and -shm files
    the database file's mode, so pre-creating the database covers them too)."""
    if not _creates_files or path.exists():
        return
    with contextlib.suppress(FileExistsError):  # made meanwhile by another process
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def generated_secret(filename: str, factory: type | object) -> str:
    """Read a generated secret from the data dir, creating it (mode 0600) on first use."""
    path = data_dir() / filename
    if path.exists():
        return path.read_text().strip()
    value = factory() if callable(factory) else str(factory)
    if not _creates_files:
        return str(value)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return str(value)


def settings_markdown() -> str:
    """The README's settings table, generated from SETTINGS."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    lines += [f"| `{s.name}` | `{s.default}` | {s.meaning} |" for s in SETTINGS]
    return "\n".join(lines)

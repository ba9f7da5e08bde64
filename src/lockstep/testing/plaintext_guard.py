"""The plaintext guard: a pytest plugin that proves no password the tests used reached the
database, a log or a worker's output (issue 9: "after the suite, a test scans the database and
captured logs for every plaintext password the tests used and finds none").

Registered from tests/conftest.py (`pytest_plugins`), so it runs in every pytest process of
`make test` (tools/run_suite.py): the SQLite run, the PostgreSQL run and the replication-lag run
over tests/m365. At configure time it

- learns every plaintext: Django's password hashers (`encode`, `verify`; so `make_password`,
  `check_password` and `hash_password` wherever they were imported), `crypto.encrypt` for a
  context that names a password, the `password_set` / `password_presented` events, and
  m365sim's `password_is_current`; only strings of 8+ characters, kept in memory (plaintext_scan);
- writes every log record of the session (root logger at DEBUG, args formatted, plus loggers that
  do not propagate, such as django.server) to a temporary file, removed at the end;
- keeps the output of subprocesses read with `communicate()` (`lockstep worker`/`run`, CLI) in
  memory, and reads the `*.log` files tests write under LOCKSTEP_DATA_DIR (worker logs);
- watches every database connection (an execute wrapper, also on connections opened later, e.g.
  by the live server's threads): an INSERT or UPDATE whose parameters contain a known plaintext is
  recorded, even when the test's transaction is rolled back afterwards.

tests/test_zz_no_plaintext.py holds the check (`collect_findings`); its tests are moved to the
end of every run, and added to a run that did not collect them (e.g. `pytest tests/m365`), where
`-k`/`-m` still apply to them.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import functools
import logging
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lockstep.ops.logs import RedactSecretsFilter
from lockstep.testing.plaintext_scan import (
    KNOWN,
    VIOLATIONS,
    Finding,
    database_watcher,
    scan_database,
    scan_outputs,
    scan_text_file,
    scan_violations,
)

LAST_MARKER = "plaintext_guard_last"
CHECK_MODULE = Path("tests") / "test_zz_no_plaintext.py"
OUTPUT_LIMIT = 20_000_000  # characters of subprocess output kept in memory


@dataclass
class State:
    installed: bool = False
    log_dir: Path | None = None
    log_file: Path | None = None
    handler: logging.Handler | None = None
    outputs: list[tuple[str, str]] = field(default_factory=list)  # (command, text), in memory
    output_chars: int = 0
    tests_run: int = 0  # call phases of tests other than the guard's own


STATE = State()


# --- learning the plaintexts -----------------------------------------------------------------


def _learning(original: Callable[..., Any], via: str, position: int = 0) -> Callable[..., Any]:
    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        KNOWN.learn(args[position] if len(args) > position else kwargs.get("password"), via)
        return original(*args, **kwargs)

    wrapper.__plaintext_guard__ = True  # type: ignore[attr-defined]
    return wrapper


def _patch(owner: Any, name: str, via: str, position: int = 0) -> None:
    original = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name, None)
    if original is None or getattr(original, "__plaintext_guard__", False):
        return
    setattr(owner, name, _learning(original, via, position))


def _hasher_classes() -> list[type]:
    from django.contrib.auth.hashers import BasePasswordHasher

    found: list[type] = []
    pending: list[type] = [BasePasswordHasher]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def _encrypt_learning(original: Callable[..., str]) -> Callable[..., str]:
    @functools.wraps(original)
    def encrypt(plaintext: str, *, context: str = "") -> str:
        if "password" in context:  # e.g. "user:12:pending-password"
            KNOWN.learn(plaintext, f"crypto.encrypt({context.split(':')[-1]})")
        return original(plaintext, context=context)

    encrypt.__plaintext_guard__ = True  # type: ignore[attr-defined]
    return encrypt


def _on_password_event(sender: Any, password: Any = None, **kwargs: Any) -> None:
    KNOWN.learn(password, "a password event")


def install_learners() -> None:
    from django.contrib.auth import hashers

    from lockstep.directory import crypto, events
    from lockstep.directory.services import passwords

    for cls in _hasher_classes():
        _patch(cls, "encode", f"{cls.__name__}.encode", position=1)  # (self, password, salt)
        _patch(cls, "verify", f"{cls.__name__}.verify", position=1)
    _patch(hashers, "make_password", "make_password")
    _patch(passwords, "make_password", "make_password")
    _patch(passwords, "hash_password", "hash_password")
    if not getattr(crypto.encrypt, "__plaintext_guard__", False):
        crypto.encrypt = _encrypt_learning(crypto.encrypt)  # type: ignore[assignment]
    for signal in (events.password_set, events.password_presented):
        signal.connect(_on_password_event, weak=False, dispatch_uid="plaintext-guard")
    try:
        from m365sim.testing import SimServer
    except ImportError:  # pragma: no cover - m365sim is always there in this repository
        return
    _patch(SimServer, "password_is_current", "m365sim password_is_current", position=2)


# --- logs and subprocess output --------------------------------------------------------------


def ensure_log_capture() -> None:
    """(Re)attach the handler: a test that reconfigures logging must not blind the guard."""
    handler = STATE.handler
    if handler is None:
        return
    root = logging.getLogger()
    if handler not in root.handlers:
        root.addHandler(handler)
    if root.level != logging.DEBUG:
        for existing in root.handlers:  # Lockstep's console handler keeps printing what it printed
            if existing.level == logging.NOTSET and not type(existing).__module__.startswith("_pytest"):
                existing.setLevel(root.level)
        root.setLevel(logging.DEBUG)
    for logger in list(logging.root.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger) and not logger.propagate and handler not in logger.handlers:
            logger.addHandler(handler)  # e.g. django.server


def install_log_capture() -> None:
    STATE.log_dir = Path(tempfile.mkdtemp(prefix="lockstep-guard-"))
    STATE.log_file = STATE.log_dir / "session.log"
    handler = logging.FileHandler(STATE.log_file, encoding="utf-8", delay=False)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    # As Lockstep's own handlers write them: values under keys such as "password" redacted.
    handler.addFilter(RedactSecretsFilter())
    STATE.handler = handler
    ensure_log_capture()


def remember_output(label: str, *streams: object) -> None:
    for stream in streams:
        if isinstance(stream, bytes):
            stream = stream.decode("utf-8", "replace")
        if isinstance(stream, str) and stream and STATE.output_chars < OUTPUT_LIMIT:
            STATE.outputs.append((label, stream))
            STATE.output_chars += len(stream)


def install_output_capture() -> None:
    original = subprocess.Popen.communicate
    if getattr(original, "__plaintext_guard__", False):
        return

    @functools.wraps(original)
    def communicate(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> Any:
        out, err = original(self, *args, **kwargs)
        command = self.args if isinstance(self.args, list | tuple) else [self.args]
        words = " ".join(Path(str(part)).name for part in command[:3])
        remember_output(f"the output of subprocess `{words}`", out, err)
        return out, err

    communicate.__plaintext_guard__ = True  # type: ignore[attr-defined]
    subprocess.Popen.communicate = communicate  # type: ignore[method-assign]


def install_mail_capture() -> None:
    """Every email the test SMTP server receives (`mailbox` fixture), decoded, in memory."""
    from lockstep.testing.smtp import Mailbox

    original = Mailbox.handle_DATA
    if getattr(original, "__plaintext_guard__", False):
        return

    @functools.wraps(original)
    async def handle_data(self: Mailbox, server: Any, session: Any, envelope: Any) -> str:
        answer = await original(self, server, session, envelope)
        with contextlib.suppress(Exception):  # never lose a message over the guard
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            parts = [str(message["Subject"])]
            parts += [
                str(part.get_content()) for part in message.walk() if part.get_content_maintype() == "text"
            ]
            remember_output(f"an email to {', '.join(envelope.rcpt_tos)}", "\n".join(parts))
        return answer

    handle_data.__plaintext_guard__ = True  # type: ignore[attr-defined]
    Mailbox.handle_DATA = handle_data  # type: ignore[method-assign]


# --- the database ----------------------------------------------------------------------------


def watch_connection(connection: Any, **kwargs: Any) -> None:
    # First in the list: django's execute_wrapper() context manager pops the last one on exit.
    if database_watcher not in connection.execute_wrappers:
        connection.execute_wrappers.insert(0, database_watcher)


def install_database_watcher() -> None:
    from django.db import connections
    from django.db.backends.signals import connection_created

    connection_created.connect(watch_connection, weak=False, dispatch_uid="plaintext-guard")
    for connection in connections.all(initialized_only=True):
        watch_connection(connection)


# --- what the final test checks --------------------------------------------------------------


def worker_logs() -> list[Path]:
    """Log files tests had subprocesses write in the data dir (tests/m365/test_workers.py)."""
    from django.conf import settings

    data_dir = Path(settings.DATA_DIR)
    return sorted(data_dir.rglob("*.log")) if data_dir.is_dir() else []


def collect_findings(passwords: list[str], *, database: bool = True) -> list[Finding]:
    """Where any of `passwords` was found: writes seen, the session log, subprocess output,
    worker log files, and (when `database`) every table of the test database now."""
    if STATE.handler is not None:
        STATE.handler.flush()
    findings = scan_violations(passwords)
    if STATE.log_file is not None:
        findings += scan_text_file(STATE.log_file, passwords, "the session's log records,")
    findings += scan_outputs(STATE.outputs, passwords)
    for path in worker_logs():
        findings += scan_text_file(path, passwords, f"worker log {path.name},")
    if database and passwords:
        findings += scan_database(passwords)
    return findings


def forget(password: str) -> None:
    """Drop a password the guard's own test planted, and what was found of it."""
    KNOWN.forget(password)
    VIOLATIONS[:] = [v for v in VIOLATIONS if v.password != password]


def required_observations() -> int:
    """How many plaintexts a run of this size must have shown the guard: 20 for a full run,
    proportionally fewer for a small one, none for the guard's tests alone."""
    return min(20, STATE.tests_run // 10)


# --- pytest hooks ----------------------------------------------------------------------------


def _is_guard_item(item: pytest.Item) -> bool:
    return Path(str(item.path)).as_posix().endswith(CHECK_MODULE.as_posix())


def _folder(session: pytest.Session, items: list[pytest.Item], path: Path) -> pytest.Collector:
    """The collected node of `path`: tests/conftest.py's fixtures are registered on that node."""
    for item in items:
        for node in item.iter_parents():
            if isinstance(node, pytest.Collector) and Path(str(node.path)) == path:
                return node
    return pytest.Dir.from_parent(session, path=path)


class _AddTheCheck:
    """Runs before -k/-m deselect: adds the check to a run that did not collect it."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, items: list[pytest.Item]) -> None:
        module_path = session.config.rootpath / CHECK_MODULE
        if not items or any(_is_guard_item(item) for item in items) or not module_path.is_file():
            return
        module = pytest.Module.from_parent(_folder(session, items, module_path.parent), path=module_path)
        items.extend(node for node in module.collect() if isinstance(node, pytest.Item))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{LAST_MARKER}: the plaintext guard's final check, run last")
    if STATE.installed:
        return
    STATE.installed = True
    install_learners()
    install_log_capture()
    install_output_capture()
    install_mail_capture()
    install_database_watcher()
    config.pluginmanager.register(_AddTheCheck(), "plaintext-guard-add-check")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    last = [item for item in items if item.get_closest_marker(LAST_MARKER)]
    items[:] = [item for item in items if not item.get_closest_marker(LAST_MARKER)] + last


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    KNOWN.current_test = item.nodeid
    ensure_log_capture()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and not report.nodeid.startswith(CHECK_MODULE.as_posix()):
        STATE.tests_run += 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(
        f"plaintext guard: {len(KNOWN.passwords)} passwords learned from {KNOWN.observations} uses; "
        f"{len(VIOLATIONS)} writes with a plaintext seen"
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    if STATE.handler is not None:
        for logger in [logging.getLogger(), *logging.root.manager.loggerDict.values()]:
            if isinstance(logger, logging.Logger) and STATE.handler in logger.handlers:
                logger.removeHandler(STATE.handler)
        STATE.handler.close()
    if STATE.log_dir is not None:
        shutil.rmtree(STATE.log_dir, ignore_errors=True)

"""`make test`'s runner (tools/run_suite.py): under CI an unreachable PostgreSQL fails the run."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
UNREACHABLE = "postgresql://postgres@127.0.0.1:1/nowhere"


def load_runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_suite", ROOT / "tools" / "run_suite.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    module = load_runner()
    ran: list[str] = []
    monkeypatch.setattr(module, "run", lambda title, command, env=None: ran.append(title) or True)
    monkeypatch.setattr(module, "ensure_system_packages", lambda: True)
    monkeypatch.setattr(module.sys, "argv", ["run_suite.py"])
    monkeypatch.setenv("LOCKSTEP_TEST_POSTGRES_URL", UNREACHABLE)
    module.ran = ran
    return module


def test_under_ci_an_unreachable_postgresql_fails_the_run(
    runner: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CI", "true")
    assert runner.main() == 1
    out = capsys.readouterr().out
    assert "FAIL: CI=true and PostgreSQL is not reachable" in out
    assert "Databases used: SQLite\n" in out
    assert "tests on PostgreSQL" not in runner.ran


def test_outside_ci_an_unreachable_postgresql_is_skipped_and_said(
    runner: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CI", raising=False)
    assert runner.main() == 0
    out = capsys.readouterr().out
    assert "Skipping the PostgreSQL run" in out
    assert "Databases used: SQLite\n" in out


def test_missing_system_packages_stop_the_run_at_once_with_the_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    module = load_runner()
    ran: list[list[str]] = []
    monkeypatch.setattr(
        module.shutil, "which", lambda name: None if name in ("chromium", "xmlsec1") else "/x"
    )
    monkeypatch.setattr(module.os, "geteuid", lambda: 1000)  # not root: nothing may be installed
    monkeypatch.setattr(module.subprocess, "run", lambda command, **kw: ran.append(command))
    monkeypatch.setattr(module.sys, "argv", ["run_suite.py"])
    assert module.main() == 1
    out = capsys.readouterr().out
    assert "sudo apt-get install -y --no-install-recommends chromium xmlsec1 fonts-liberation" in out
    assert ran == []  # no lint, no test run, no install attempt


def test_as_root_the_missing_packages_are_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    module = load_runner()
    installed: set[str] = set()
    ran: list[list[str]] = []

    def run(command: list[str], **kw: object) -> None:
        ran.append(command)
        if command[:2] == ["apt-get", "install"]:
            installed.update(command)

    def which(name: str) -> str | None:
        return "/usr/bin/" + name if name != "chromium" or "chromium" in installed else None

    monkeypatch.setattr(module.shutil, "which", which)
    monkeypatch.setattr(module.os, "geteuid", lambda: 0)
    monkeypatch.setattr(module.subprocess, "run", run)
    assert module.ensure_system_packages() is True
    assert ["apt-get", "update", "-qq"] in ran
    assert any(c[:2] == ["apt-get", "install"] and "chromium" in c for c in ran)


@pytest.mark.parametrize(("jobs", "alongside"), [("2", True), ("1", False)])
def test_the_postgresql_run_goes_alongside_the_sqlite_runs_unless_told_otherwise(
    runner: ModuleType, monkeypatch: pytest.MonkeyPatch, jobs: str, alongside: bool
) -> None:
    started: list[tuple[str, dict[str, str]]] = []

    class FakeBackground:
        def __init__(self, title: str, command: list[str], env: dict[str, str]) -> None:
            started.append((title, env))

        def finish(self) -> bool:
            runner.ran.append("finished alongside")
            return True

    monkeypatch.setattr(runner, "Background", FakeBackground)
    monkeypatch.setattr(runner, "postgres_reachable", lambda url: True)
    monkeypatch.setenv("LOCKSTEP_TEST_JOBS", jobs)
    assert runner.main() == 0
    if alongside:
        assert [title for title, _ in started] == ["tests on PostgreSQL"]
        assert runner.ran[-1] == "finished alongside" and "tests on PostgreSQL" not in runner.ran
        assert started[0][1]["LOCKSTEP_DATA_DIR"].rsplit("/", 1)[-1].startswith("lockstep-test-pg-")
    else:
        assert started == [] and runner.ran[-1] == "tests on PostgreSQL"

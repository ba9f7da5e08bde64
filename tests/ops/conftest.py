"""Fixtures for operations tests: a scratch installation for subprocess tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)  # for `ops_sample_tasks`, importable in subprocesses too

from ops_scratch import Scratch, scratch_installation  # noqa: E402


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Scratch]:
    with scratch_installation(tmp_path / "data") as installation:
        yield installation


@pytest.fixture
def migrated_scratch(scratch: Scratch) -> Scratch:
    done = scratch.lockstep("migrate")
    assert done.returncode == 0, done.stderr
    return scratch

"""bench/bench_portal_login.py: its helpers (the bench itself runs against a live server, see its docstring)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_portal_login.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("portal_login_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_percentile_is_nearest_rank(bench: ModuleType) -> None:
    samples = [float(n) for n in range(1, 101)]  # 1..100
    assert bench.percentile(samples, 50) == 50.0
    assert bench.percentile(samples, 95) == 95.0
    assert bench.percentile(samples, 100) == 100.0
    assert bench.percentile([0.3, 0.1, 0.2], 50) == 0.2  # unsorted input
    assert bench.percentile([7.0], 95) == 7.0
    with pytest.raises(ValueError):
        bench.percentile([], 50)


def test_defaults_small_and_refused_arguments(bench: ModuleType) -> None:
    full = bench.parse_args([])
    assert (full.clients, full.seconds, full.latency_users) == ([10, 50], 20.0, 20)
    assert full.out.endswith("RESULTS-portal.md")
    small = bench.parse_args(["--small"])
    assert (small.clients, small.seconds, small.latency_users, small.out) == ([2, 4], 3.0, 3, None)
    assert bench.parse_args(["--clients", "1", "5"]).clients == [1, 5]
    with pytest.raises(SystemExit):
        bench.parse_args(["--clients", "0"])
    with pytest.raises(SystemExit):
        bench.parse_args(["--seconds", "0"])


def test_csrf_token_is_read_from_the_login_form(bench: ModuleType) -> None:
    html = '<form><input type="hidden" name="csrfmiddlewaretoken" value="abc123XYZ"></form>'
    assert bench.csrf_token(html) == "abc123XYZ"
    assert bench.csrf_token('<input value="t0k" name="csrfmiddlewaretoken" type="hidden">') == "t0k"
    with pytest.raises(RuntimeError, match="User Portal"):
        bench.csrf_token("<p>Not found</p>")


def test_the_argon2_cost_is_stated(bench: ModuleType) -> None:
    from django.contrib.auth.hashers import Argon2PasswordHasher

    words = bench.argon2_parameters()
    assert f"time_cost {Argon2PasswordHasher.time_cost}" in words
    assert f"memory_cost {Argon2PasswordHasher.memory_cost} KiB" in words
    assert f"parallelism {Argon2PasswordHasher.parallelism}" in words


def test_every_client_has_its_own_address(bench: ModuleType) -> None:
    addresses = {bench.client_address(i) for i in range(1000)}
    assert len(addresses) == 1000
    assert bench.client_address(0) == "10.0.0.1" and bench.client_address(249) == "10.0.0.250"

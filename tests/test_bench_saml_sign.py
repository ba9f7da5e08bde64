"""bench/bench_saml_sign.py stays runnable: its arguments, its signing loop and its table."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from signxml import XMLVerifier

from lockstep.directory.models import Organization
from lockstep.saml import keys

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_saml_sign.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("saml_sign_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_defaults_small_and_refused_arguments(bench: ModuleType) -> None:
    full = bench.parse_args([])
    assert (full.seconds, full.rounds) == (3.0, 3) and full.out.endswith("RESULTS-saml.md")
    small = bench.parse_args(["--small"])
    assert (small.seconds, small.rounds, small.out) == (0.3, 1, None)
    for refused in (["--seconds", "0"], ["--rounds", "0"]):
        with pytest.raises(SystemExit):
            bench.parse_args(refused)


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["cached", "cold", "checked"])
def test_the_loop_signs_verifiable_responses_and_reports_a_rate(
    bench: ModuleType, org: Organization, mode: str
) -> None:
    key = keys.active_key(org)
    sign = bench.signer(key, mode)
    XMLVerifier().verify(sign(), x509_cert=key.certificate_pem, expect_references=1)
    per_second, count = bench.best_rate(sign, 0.05, 2)
    assert count >= 1 and per_second > 0
    table = bench.report(bench.parse_args(["--small"]), "pinned to CPU 0", [("signed", per_second, count)])
    assert "| signed |" in table and "assertions per second" in table
    with pytest.raises(ValueError, match="mode"):
        bench.signer(key, "warm")

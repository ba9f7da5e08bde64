"""The allowance minimum the scale benchmarks print beside their wall times (bench/allowance.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from allowance import (
    allowance_minimum,
    batches_in_sequence,
    combined_minimum,
)


def test_a_full_bucket_costs_only_latency() -> None:
    assert allowance_minimum(3000) == pytest.approx(150 * 0.020)


def test_what_refills_while_the_bucket_drains_also_costs_only_latency() -> None:
    # 153 round trips refill 61.2 writes: 3,061 writes (154 batches) never wait
    assert allowance_minimum(3061) == pytest.approx(154 * 0.020)


def test_one_write_beyond_that_waits_for_the_refill() -> None:
    # 3,062: the last batch of 2 finds 1.2 writes in the bucket and waits 0.8 / 20 s for the rest
    assert allowance_minimum(3062) - allowance_minimum(3061) == pytest.approx(0.8 / 20)


def test_writes_past_the_bucket_go_at_the_refill_rate() -> None:
    # 5,000 users into an idle tenant: 2,000 past the bucket at 20/s, round trips hidden in the waits
    assert allowance_minimum(5000) == pytest.approx(100.0 + 0.020, abs=0.1)


def test_batches_in_sequence_are_the_batches_of_twenty() -> None:
    assert [batches_in_sequence(w) for w in (0, 1, 20, 21, 3000)] == [0, 1, 1, 2, 150]


def test_no_writes_take_no_time() -> None:
    assert allowance_minimum(0) == 0.0


def test_tenants_refill_side_by_side() -> None:
    assert combined_minimum([1000, 5000, 200]) == allowance_minimum(5000)

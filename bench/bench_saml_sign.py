"""SAML assertions signed per second on one core.

Measured: `lockstep.saml.response.build_response` as the SSO endpoint calls it (a Response with
one assertion, signed RSA-SHA256 with the organization's 2048-bit key, exclusive c14n), in a
loop for `--seconds`, in this one process pinned to one CPU. A second row clears the
private-key cache before every response, to show what decrypting and loading the key costs.
Set-up (not measured): Django on a fresh SQLite file, an organization and its signing key.

    .venv/bin/python bench/bench_saml_sign.py [--seconds 5]
    .venv/bin/python bench/bench_saml_sign.py --small     # a quick check that it still works
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from lockstep_env import machine, organization_and_actor, setup_django, today

OUT = str(Path(__file__).parent / "RESULTS-saml.md")
BEFORE = (
    "Before the loaded key was kept in memory (commit 1586a2a), every response decrypted the key "
    "and loaded it with OpenSSL's RSA checks (about 50 ms): 17 responses per second on the same machine."
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="SAML assertions signed per second on one core")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each measured loop")
    parser.add_argument("--out", default=OUT, help="results file (none with --small)")
    parser.add_argument("--small", action="store_true", help="a one-second check; writes no results file")
    args = parser.parse_args(argv)
    if args.seconds <= 0:
        parser.error("--seconds must be positive")
    if args.small:
        args.seconds, args.out = min(args.seconds, 0.5), None
    return args


def pin_to_one_core() -> str:
    """Run on a single CPU (Linux); says which, or why not."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity)"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


def rate(sign: Callable[[], bytes], seconds: float) -> tuple[float, int]:
    """Calls of `sign` per second over `seconds` (after one warm-up call), and the count."""
    sign()
    count = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        sign()
        count += 1
    return count / (time.perf_counter() - started), count


def signer(key: Any, *, cold_key: bool = False) -> Callable[[], bytes]:
    """One signed Response per call, for a fresh subject; `cold_key` drops the key cache first."""
    from lockstep.saml import keys
    from lockstep.saml.response import Audience, Subject, build_response

    audience = Audience(
        "https://lockstep.example/saml/bench/contoso.com", "https://login.example/login.srf", "_r1"
    )

    def sign() -> bytes:
        if cold_key:
            keys.forget_private_keys()
        subject = Subject(
            "bench0000000000000000000000001", "ada@contoso.com", True, dt.datetime.now(dt.UTC), "_s"
        )
        return build_response(subject, audience, key)

    return sign


def load_average() -> str:
    """The machine's 1-minute load average: other work on the machine shares the core."""
    return f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "unknown"


def report(args: argparse.Namespace, pinned: str, rows: list[tuple[str, float, int]]) -> str:
    lines = [
        "# SAML assertions signed per second",
        "",
        f"`bench/bench_saml_sign.py --seconds {args.seconds:g}` on {today()}, {machine()}; one process "
        f"{pinned}, load average {load_average()} at the end. A signed Response (one assertion, RSA-SHA256 2048-bit, SHA-256 digest, exclusive "
        "c14n, built with lxml and signed with signxml).",
        "",
        "| measure | assertions per second | responses signed |",
        "|---|---|---|",
        *(f"| {name} | {per_second:,.0f} | {count:,} |" for name, per_second, count in rows),
        "",
        BEFORE,
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    pinned = pin_to_one_core()
    setup_django()
    from lockstep.saml import keys

    organization, _actor = organization_and_actor()
    key = keys.active_key(organization)
    rows = []
    for name, cold in (
        ("signed Response, key cached (what Lockstep does)", False),
        ("signed Response, key decrypted and loaded each time", True),
    ):
        per_second, count = rate(signer(key, cold_key=cold), args.seconds)
        rows.append((name, per_second, count))
    text = report(args, pinned, rows)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

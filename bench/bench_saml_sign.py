"""SAML assertions signed per second on one core.

Measured: `lockstep.saml.response.build_response` as the SSO endpoint calls it (a Response with
one assertion, signed RSA-SHA256 with the organization's 2048-bit key, exclusive c14n), in a
loop for `--seconds`, in this one process pinned to one CPU; each mode `--rounds` times, the
best round reported (other work on a shared machine only ever slows a round down). Modes:
`cached` is what Lockstep does (the key loaded once per process); `cold` drops that cache before
every response (decrypt + load without the RSA checks); `checked` also decrypts and loads the key
with OpenSSL's RSA checks for every response, as the code did before the cache.
Set-up (not measured): Django on a fresh SQLite file, an organization and its signing key.

    .venv/bin/python bench/bench_saml_sign.py [--seconds 3] [--rounds 3]
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
MODES = {
    "cached": "key loaded once per process (what Lockstep does)",
    "cold": "key decrypted and loaded for every response, RSA checks skipped",
    "checked": "key decrypted and loaded with OpenSSL's RSA checks for every response (before)",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="SAML assertions signed per second on one core")
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each measured loop")
    parser.add_argument("--rounds", type=int, default=3, help="loops per mode; the best is reported")
    parser.add_argument("--out", default=OUT, help="results file (none with --small)")
    parser.add_argument("--small", action="store_true", help="a one-second check; writes no results file")
    args = parser.parse_args(argv)
    if args.seconds <= 0:
        parser.error("--seconds must be positive")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.small:
        args.seconds, args.rounds, args.out = min(args.seconds, 0.3), 1, None
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


def signer(key: Any, mode: str = "cached") -> Callable[[], bytes]:
    """One signed Response per call, for a fresh subject, with the key handled as `mode` says."""
    from cryptography.hazmat.primitives import serialization

    from lockstep.saml import keys
    from lockstep.saml.response import Audience, Subject, build_response

    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    audience = Audience(
        "https://lockstep.example/saml/bench/contoso.com", "https://login.example/login.srf", "_r1"
    )

    def sign() -> bytes:
        if mode != "cached":
            keys.forget_private_keys()
        if mode == "checked":  # the load the code did before the cache, on top of the skipped one
            serialization.load_pem_private_key(keys.private_key_pem(key).encode(), password=None)
        subject = Subject(
            "bench0000000000000000000000001", "ada@contoso.com", True, dt.datetime.now(dt.UTC), "_s"
        )
        return build_response(subject, audience, key)

    return sign


def best_rate(sign: Callable[[], bytes], seconds: float, rounds: int) -> tuple[float, int]:
    """The best of `rounds` runs of `rate`, and the responses signed in all of them."""
    runs = [rate(sign, seconds) for _ in range(rounds)]
    return max(per_second for per_second, _ in runs), sum(count for _, count in runs)


def load_average() -> str:
    """The machine's 1-minute load average: other work on the machine shares the core."""
    return f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "unknown"


def report(args: argparse.Namespace, pinned: str, rows: list[tuple[str, float, int]]) -> str:
    lines = [
        "# SAML assertions signed per second",
        "",
        f"`bench/bench_saml_sign.py --seconds {args.seconds:g} --rounds {args.rounds}` on {today()}, {machine()}; one process "
        f"{pinned}, load average {load_average()} at the end. A signed Response (one assertion, RSA-SHA256 2048-bit, SHA-256 digest, exclusive "
        "c14n, built with lxml and signed with signxml).",
        "",
        "| signing key | assertions per second (best round) | responses signed |",
        "|---|---|---|",
        *(f"| {name} | {per_second:,.0f} | {count:,} |" for name, per_second, count in rows),
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
    for mode, name in MODES.items():
        per_second, count = best_rate(signer(key, mode), args.seconds, args.rounds)
        rows.append((name, per_second, count))
    text = report(args, pinned, rows)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

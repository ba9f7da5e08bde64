"""Provision N users into m365sim with 20 ms latency and Graph's real limits.

Reports the wall time against the allowance minimum (the least time Graph's write limit of
3,000 per 150 s per app and tenant permits, as m365sim models it: a full bucket of 3,000 at
the start, then 20 writes/s, plus the latency of batches that cannot overlap), the share of
throttled requests, and Graph HTTP requests per write.

    .venv/bin/python bench/bench_provision.py [--users 5000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from allowance import allowance_minimum
from lockstep_env import bulk_users, connect_directory, machine, organization_and_actor, setup_django, today

WRITE_LIMIT_PER_SECOND = 3000 / 150


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--out", default=str(Path(__file__).parent / "RESULTS-provision.md"))
    args = parser.parse_args()
    setup_django()
    from lockstep.m365 import sync_loop
    from lockstep.m365.models import SyncStatus, UserBinding
    from lockstep.m365.services.bindings import bind_user
    from m365sim.testing import SimServer

    organization, actor = organization_and_actor()
    with SimServer(seed="demo", latency_ms=20, throttling=True, subprocess_mode=False) as sim:
        directory = connect_directory(actor, sim)
        # Lockstep users made in bulk (the service path is measured elsewhere), then bound
        # through the real bind service.
        for user_id in bulk_users(organization, "bench", "contoso.com", args.users):
            bind_user(actor=actor, user_id=user_id, directory_id=directory.pk)

        ports = sync_loop.PortCache()
        port = ports.port_for(directory)
        start = time.monotonic()
        while UserBinding.objects.exclude(status=SyncStatus.SYNCED).exists():
            if not sync_loop.run_once(ports=ports):
                time.sleep(0.2)
            if time.monotonic() - start > 1800:
                raise SystemExit("did not converge within 30 minutes")
        elapsed = time.monotonic() - start
        stats = port.client.stats
        counts = sim.control("GET", "/state").json()
    writes = stats.writes
    requests = stats.http_requests
    throttled = stats.throttled
    minimum = allowance_minimum(writes)
    rows = [
        ("users provisioned", f"{args.users:,}"),
        ("wall time", f"{elapsed:.1f} s"),
        ("allowance minimum", f"{minimum:.1f} s (3,000 writes at once, then 20/s, 20 ms per batch)"),
        ("wall time / allowance minimum", f"{elapsed / minimum:.2f} (target ≤ 1.15)"),
        ("Graph writes", f"{writes:,}"),
        ("Graph HTTP requests", f"{requests:,} = {requests / (writes / 20):.2f} x writes/20 (target ≤ 1.1)"),
        ("throttled responses", f"{throttled} = {throttled / max(1, requests):.2%} (target < 1%)"),
    ]
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    text = (
        f"# Provisioning benchmark\n\n`bench/bench_provision.py --users {args.users}` on {today()}, "
        f"{machine()}; m365sim with 20 ms latency and Graph's real throttling limits, SQLite.\n\n"
        f"| measure | result |\n|---|---|\n{table}\n"
    )
    Path(args.out).write_text(text)
    print(text)
    print("m365sim users:", counts["users"])


if __name__ == "__main__":
    main()

"""(a) Many tenants, one worker: T tenants x U users provisioned by one worker process.

One m365sim server, in its own process so that the worker's process is the worker's, serves T
tenants (20 ms latency, Graph's real limits, each tenant with its own write bucket); T Lockstep directories, one per tenant; U Lockstep users per tenant, bound
in bulk (as an import does) in one transaction while the worker is already running. The worker
is the product's own sync loop (`SyncLoop`, as `lockstep worker` runs it), so whatever it does
with several directories is what is measured. Measured from the bind's commit: the wall time
until every account exists in m365sim, each tenant's finish time, each against the allowance
minimum (bench/allowance.py), the throttled share of Graph requests (m365sim's logs), and the
CPU the worker's process and m365sim's used meanwhile (where the time goes when Graph is not
the bound).

Runs on PostgreSQL (a fresh database `bench_tenants` at 127.0.0.1) when reachable, else SQLite.

    .venv/bin/python bench/bench_tenants.py [--tenants 10] [--users 1000] [--sqlite]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from allowance import LATENCY_SECONDS, allowance_minimum, combined_minimum, ratio
from lockstep_env import (
    bulk_users,
    connect_directories,
    database_words,
    fresh_postgres,
    machine,
    organization_and_actor,
    setup_django,
    start_worker,
    stop_worker,
    throttle_counts,
    today,
)

TIMEOUT_SECONDS = 3600
POLL_SECONDS = 0.1  # between two requests for every tenant's account count


def account_counts(http: Any, sim: Any) -> dict[str, int]:
    """Accounts in every tenant of an m365sim server: one request to its control API, on one
    kept-alive connection (a TLS handshake per poll would take the worker's CPU)."""
    value = http.get(f"{sim.base_url}/_sim/tenants").json()["value"]
    return {info["tenant_id"]: int(info["users"]) for info in value}


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=10)
    parser.add_argument("--users", type=int, default=1000, help="users per tenant")
    parser.add_argument("--sqlite", action="store_true", help="SQLite even if PostgreSQL is reachable")
    parser.add_argument("--out", default=str(Path(__file__).parent / "RESULTS-tenants.md"))
    args = parser.parse_args()
    database_url = "" if args.sqlite else fresh_postgres("bench_tenants")
    setup_django(database_url)
    from django.db import transaction

    from lockstep.m365.services import bulk_bindings
    from m365sim.testing import SimServer

    organization, actor = organization_and_actor()
    with SimServer(
        seed="large",
        users=10,
        groups=1,
        latency_ms=20,
        throttling=True,
        subprocess_mode=True,  # its own process: the worker's process (and GIL) is the worker's
        tenants=args.tenants,
    ) as sim:
        pairs = connect_directories(actor, sim, args.tenants)
        prefixes = [f"t{i:02d}u" for i in range(args.tenants)]
        people = [
            bulk_users(organization, prefix, tenant.default_domain, args.users)
            for prefix, (_, tenant) in zip(prefixes, pairs, strict=True)
        ]
        logged_before = [len(tenant.request_log()) for _, tenant in pairs]
        http = httpx.Client(verify=sim.ssl_context(), timeout=30)  # closed by the `finally` below
        try:
            before = account_counts(http, sim)
            targets = [before[tenant.tenant_id] + args.users for _, tenant in pairs]
            loop, stop = start_worker()
            time.sleep(2)  # the worker's start-up (its start-up check of the empty directories)
            with transaction.atomic():
                for (directory, _), ids in zip(pairs, people, strict=True):
                    bulk_bindings.bind_users(actor=actor, user_ids=ids, directory_id=directory.pk)
            start = time.monotonic()
            cpu_start, sim_cpu_start = time.process_time(), process_cpu_seconds(sim._proc.pid)
            finished: list[float | None] = [None] * args.tenants
            while None in finished:
                made = account_counts(http, sim)
                for index, (_, tenant) in enumerate(pairs):
                    if finished[index] is None and made[tenant.tenant_id] >= targets[index]:
                        finished[index] = time.monotonic() - start
                if time.monotonic() - start > TIMEOUT_SECONDS:
                    raise SystemExit(f"not done within {TIMEOUT_SECONDS} s: {finished}")
                time.sleep(POLL_SECONDS)
            elapsed = time.monotonic() - start
            worker_cpu = time.process_time() - cpu_start
            sim_cpu = process_cpu_seconds(sim._proc.pid) - sim_cpu_start
        finally:
            http.close()
        stop_worker(loop, stop)
        counts = [
            throttle_counts(tenant.request_log(since))
            for (_, tenant), since in zip(pairs, logged_before, strict=True)
        ]
    done = [f for f in finished if f is not None]
    minimum = allowance_minimum(args.users)  # every tenant does the same work
    overall = combined_minimum([args.users] * args.tenants)
    requests = sum(r for r, _ in counts)
    throttled = sum(t for _, t in counts)
    rows = "\n".join(
        f"| {index + 1} | {seconds:.1f} s | {ratio(seconds, minimum)} | {r:,} | {t} |"
        for index, (seconds, (r, t)) in enumerate(zip(done, counts, strict=True))
    )
    worst = max(done) / minimum
    accounts = args.tenants * args.users
    text = (
        f"# Tenants in parallel (a)\n\n`bench/bench_tenants.py --tenants {args.tenants} --users {args.users}` "
        f"on {today()}, {machine()}; one worker (`SyncLoop`), {database_words(database_url, args.sqlite)}; one m365sim "
        f"server, {args.tenants} tenants, {LATENCY_SECONDS * 1000:.0f} ms latency, Graph's real limits.\n\n"
        f"Allowance minimum per tenant for {args.users:,} writes: {minimum:.2f} s (bench/allowance.py: "
        "3,000 writes at once, then 20/s, plus 20 ms per `$batch` of 20 one after another; up to 3,000 "
        "writes a tenant's work fits in its bucket and only the round trips count); the tenants' "
        f"buckets refill side by side, so all {args.tenants} together: {overall:.2f} s.\n\n"
        "| measure | result | goal |\n|---|---|---|\n"
        f"| accounts created | {args.tenants * args.users:,} | |\n"
        f"| wall time, bind commit to the last account | {elapsed:.1f} s = {ratio(elapsed, overall)} "
        f"the allowance minimum ({overall:.2f} s) | ≤ 1.2x |\n"
        f"| slowest tenant's own ratio | {worst:.2f}x | none above 1.5x |\n"
        f"| accounts per second, all tenants | {args.tenants * args.users / elapsed:.0f} | |\n"
        f"| throttled responses | {throttled} of {requests:,} Graph requests = {throttled / max(1, requests):.2%} "
        "| < 1% |\n"
        f"| worker process CPU in that time | {worker_cpu:.1f} s = {worker_cpu / accounts * 1000:.2f} ms per account "
        f"({worker_cpu / elapsed:.0%} of one core) | |\n"
        f"| m365sim process CPU in that time | {sim_cpu:.1f} s | |\n\n"
        f"The worker is one CPython process: its Python runs on one core at a time, so at "
        f"{worker_cpu / accounts * 1000:.2f} ms of CPU per account these {accounts:,} accounts take at least "
        f"{worker_cpu:.0f} s of it whatever Graph allows; reaching 1.2x the allowance minimum would take "
        f"{overall * 1.2 / accounts * 1000:.3f} ms per account.\n\n"
        "| tenant | finished after | / allowance minimum | Graph requests | throttled |\n|---|---|---|---|---|\n"
        f"{rows}\n"
    )
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()

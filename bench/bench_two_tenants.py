"""Several tenants at once, and a hand-made edit behind a bulk backlog (issue 12).

T tenants (one in-process m365sim server each, 20 ms latency, Graph's real throttling) get
U users each, bound in bulk; one worker's sync loop (`SyncLoop`, `--threads` sync threads)
provisions them all. Reports the writes per second the tenants reach together, how long an
edit made by hand `--edit-at` seconds into the backlog takes to reach Microsoft 365, and the
same for edits made when the queue is idle.

    .venv/bin/python bench/bench_two_tenants.py [--tenants 2] [--users 600] [--threads 8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from lockstep_env import machine, organization_and_actor, setup_django, today


def edit_latency(actor: Any, sim: Any, user: Any, title: str, limit: float = 600) -> float:
    """Seconds from an edit by hand (the service the Admin Portal calls) to Microsoft 365 having it."""
    from lockstep.directory.services import users

    start = time.monotonic()
    users.update_user(actor=actor, user_id=user.pk, changes={"job_title": title})
    while (sim.sim.tenant.find_user(user.email) or {}).get("jobTitle") != title:
        if time.monotonic() - start > limit:
            raise SystemExit("the edit did not arrive")
        time.sleep(0.005)
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=2)
    parser.add_argument("--users", type=int, default=600)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--edit-at", type=float, default=3.0)
    parser.add_argument("--out", default=str(Path(__file__).parent / "RESULTS-two-tenants.md"))
    args = parser.parse_args()
    os.environ.setdefault("LOCKSTEP_ALLOW_CUSTOM_ENDPOINTS", "true")  # the tenants are m365sim
    setup_django()
    from django.conf import settings
    from django.db.models import F

    from lockstep.directory.models import User
    from lockstep.m365 import sync_loop
    from lockstep.m365.models import UserBinding
    from lockstep.m365.services import bulk_bindings, directories
    from lockstep.testing.m365 import directory_fields, own_tenant
    from m365sim.testing import SimServer

    organization, actor = organization_and_actor()
    with ExitStack() as stack:
        sims = [
            stack.enter_context(SimServer(seed="demo", latency_ms=20, throttling=True))
            for _ in range(args.tenants)
        ]
        settings.TRUSTED_CA_FILE = sims[0].ca_file
        people: list[list[Any]] = []
        for index, sim in enumerate(sims):
            domain = own_tenant(sim, index)
            directory, _ = directories.add_directory(
                actor=actor, fields=directory_fields(sim, name=f"Tenant {index}")
            )
            made = User.objects.bulk_create(
                [
                    User(
                        organization=organization,
                        username=f"t{index}u{i:05d}",
                        email=f"t{index}u{i:05d}@{domain}",
                        last_name=f"User {i}",
                        display_name=f"Tenant {index} user {i}",
                        immutable_id=f"t{index}immutable{i:08d}",
                    )
                    for i in range(args.users)
                ]
            )
            people.append(made)
            bulk_bindings.bind_users(actor=actor, user_ids=[u.pk for u in made], directory_id=directory.pk)
        edited = people[0][-1]  # the last of the first tenant's backlog

        stop = threading.Event()
        loop = sync_loop.SyncLoop(
            worker="bench", stop=stop, ports=sync_loop.PortCache(), threads=args.threads
        )
        start = time.monotonic()
        loop.start()
        time.sleep(args.edit_at)
        backlog_edit = edit_latency(actor, sims[0], edited, "Edited in the backlog")
        dirty = UserBinding.objects.filter(desired_version__gt=F("applied_version"))
        left_at_edit = dirty.count()
        while dirty.exists():
            time.sleep(0.05)
        elapsed = time.monotonic() - start
        idle = [edit_latency(actor, sims[0], edited, f"Idle edit {i}") for i in range(9)]
        stop.set()
        loop.join(timeout=30)
        writes = sum(
            1
            for sim in sims
            for r in sim.request_log()
            if r["method"] != "GET" and not r["path"].endswith("$batch")
        )
        throttled = sum(1 for sim in sims for r in sim.request_log() if r["status"] == 429)
    rows = [
        ("tenants x users", f"{args.tenants} x {args.users:,}"),
        ("sync threads", str(args.threads)),
        ("wall time to drain every backlog", f"{elapsed:.1f} s"),
        ("Graph writes", f"{writes:,}"),
        ("writes per second, all tenants together", f"{writes / elapsed:.1f}/s"),
        (
            f"hand-made edit {args.edit_at:g} s into the backlog, to Microsoft 365",
            f"{backlog_edit:.2f} s ({left_at_edit:,} bindings still queued when it arrived)",
        ),
        ("hand-made edit, queue idle (p50 of 9)", f"{statistics.median(idle) * 1000:.0f} ms"),
        ("throttled responses (429)", str(throttled)),
    ]
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    text = (
        f"# Tenants in parallel benchmark\n\n`bench/bench_two_tenants.py --tenants {args.tenants} --users "
        f"{args.users} --threads {args.threads}` on {today()}, {machine()}; one worker, one in-process "
        f"m365sim server per tenant with 20 ms latency and Graph's real throttling limits, SQLite.\n\n"
        f"| measure | result |\n|---|---|\n{table}\n"
    )
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()

"""(b) An admin's edit during a bulk provisioning: save -> applied in m365sim, p50 and p95.

One tenant (in-process m365sim, 20 ms latency, Graph's real limits) and the product's sync loop
(`SyncLoop`, as `lockstep worker` runs it) already running. A few users are provisioned first
(the ones the admin edits); then N users are bound in bulk (as an import does). Every
`--interval` seconds while the bulk job runs (whether or not earlier edits arrived), an administrator changes one provisioned user's
job title through `users.update_user` with the admin's Actor (as the Admin Portal does); each
sample is the time from that save until the new title is on the account in m365sim's state.
Beside it: the bulk job's wall time against the allowance minimum (bench/allowance.py) for its
writes plus the edits' (both spend the tenant's one write bucket).

Runs on PostgreSQL (a fresh database `bench_interactive` at 127.0.0.1) when reachable, else SQLite.

    .venv/bin/python bench/bench_interactive.py [--users 5000] [--interval 3] [--sqlite]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from allowance import LATENCY_SECONDS, allowance_minimum, ratio
from lockstep_env import (
    accounts_with_prefix,
    bench_owner,
    bulk_users,
    connect_directory,
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

EDITED_USERS = 100  # provisioned before the bulk job; the admin edits them in turn
APPLY_TIMEOUT = 300.0


def wait_until(condition: Any, timeout: float, what: str, step: float = 0.1) -> None:
    """Polls `condition()` every `step` s; exits after `timeout`."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise SystemExit(f"{what}: not within {timeout:.0f} s")
        time.sleep(step)


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered)) - 1))]


def admin_edits(
    admin: Any,
    update_user: Any,
    edited: list[int],
    remote: dict[int, str],
    accounts: dict[str, dict[str, Any]],
    bulk_done: threading.Event,
    interval: float,
) -> list[float]:
    """An edit every `interval` s (whether or not the previous ones arrived) until `bulk_done`;
    returns each edit's seconds from save to its title on the account, once all arrived."""
    samples: list[float] = []
    pending: list[tuple[str, str, float]] = []  # (remote id, title, saved at)
    made = 0
    next_edit = time.monotonic() + interval
    while pending or not bulk_done.is_set():
        now = time.monotonic()
        if now >= next_edit and not bulk_done.is_set():
            user_id = edited[made % len(edited)]
            if any(rid == remote[user_id] for rid, _, _ in pending):
                raise SystemExit(
                    "an edited user came round again before its last edit arrived; raise EDITED_USERS"
                )
            title = f"Edit {made}"
            update_user(actor=admin, user_id=user_id, changes={"job_title": title})
            pending.append((remote[user_id], title, now))
            made += 1
            next_edit += interval
        for item in [p for p in pending if accounts[p[0]].get("jobTitle") == p[1]]:
            samples.append(time.monotonic() - item[2])
            pending.remove(item)
        if pending and now - pending[0][2] > APPLY_TIMEOUT:
            raise SystemExit(f"an edit did not arrive within {APPLY_TIMEOUT:.0f} s")
        time.sleep(0.002)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=5000, help="users in the bulk job")
    parser.add_argument("--interval", type=float, default=3.0, help="seconds between two admin edits")
    parser.add_argument("--sqlite", action="store_true", help="SQLite even if PostgreSQL is reachable")
    parser.add_argument("--out", default=str(Path(__file__).parent / "RESULTS-interactive.md"))
    args = parser.parse_args()
    database_url = "" if args.sqlite else fresh_postgres("bench_interactive")
    setup_django(database_url)
    from django.db.models import F

    from lockstep.directory.actors import Actor
    from lockstep.directory.services import users
    from lockstep.m365.models import UserBinding
    from lockstep.m365.services import bulk_bindings
    from m365sim.testing import SimServer

    organization, actor = organization_and_actor()
    admin = Actor.for_admin(bench_owner(organization))
    with SimServer(
        seed="large", users=10, groups=1, latency_ms=20, throttling=True, subprocess_mode=False
    ) as sim:
        directory = connect_directory(actor, sim)
        tenant = sim.tenants[0]  # (a control request: asked once)
        domain = tenant.default_domain
        loop, stop = start_worker()
        edited = bulk_users(organization, "edit", domain, EDITED_USERS)
        bulk_bindings.bind_users(actor=actor, user_ids=edited, directory_id=directory.pk)
        bound = UserBinding.objects.filter(user_id__in=edited, applied_version__gte=F("desired_version"))
        wait_until(lambda: bound.count() >= EDITED_USERS, 120, "the edited users' accounts")
        remote = dict(bound.values_list("user_id", "remote_id"))
        accounts = sim.sim.tenant.users

        people = bulk_users(organization, "bulk", domain, args.users)
        logged_before = len(sim.request_log())
        bulk_bindings.bind_users(actor=actor, user_ids=people, directory_id=directory.pk)
        start = time.monotonic()
        bulk_done = threading.Event()
        finished: list[float] = []

        def watch_bulk() -> None:
            while accounts_with_prefix(tenant, "bulk") < args.users and not stop.is_set():
                time.sleep(0.05)
            finished.append(time.monotonic() - start)
            bulk_done.set()

        threading.Thread(target=watch_bulk, daemon=True).start()
        samples = admin_edits(admin, users.update_user, edited, remote, accounts, bulk_done, args.interval)
        bulk_done.wait(3600)
        stop_worker(loop, stop)
        requests, throttled = throttle_counts(sim.request_log(logged_before))
    if not samples:
        raise SystemExit("the bulk job ended before the first edit; use more --users or a shorter --interval")
    elapsed = finished[0]
    minimum = allowance_minimum(args.users + len(samples))
    text = (
        f"# An admin's edit during a bulk job (b)\n\n`bench/bench_interactive.py --users {args.users} "
        f"--interval {args.interval:g}` on {today()}, {machine()}; one worker (`SyncLoop`), "
        f"{database_words(database_url, args.sqlite)}; m365sim, one tenant, "
        f"{LATENCY_SECONDS * 1000:.0f} ms latency, Graph's real limits. An admin edit (job title, "
        f"`users.update_user` as an administrator) every {args.interval:g} s while {args.users:,} users "
        "bound in bulk are provisioned; a sample is save -> the title on the account in m365sim.\n\n"
        "| measure | result | goal |\n|---|---|---|\n"
        f"| edits during the bulk job | {len(samples)} | |\n"
        f"| save -> applied, p50 | {statistics.median(samples) * 1000:.0f} ms | |\n"
        f"| save -> applied, p95 | {percentile(samples, 0.95) * 1000:.0f} ms | < 2 s |\n"
        f"| save -> applied, max | {max(samples) * 1000:.0f} ms | |\n"
        f"| bulk job wall time | {elapsed:.1f} s = {ratio(elapsed, minimum)} the allowance minimum "
        f"({minimum:.1f} s for {args.users + len(samples):,} writes) | |\n"
        f"| throttled responses | {throttled} of {requests:,} Graph requests = "
        f"{throttled / max(1, requests):.2%} | < 1% |\n"
    )
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()

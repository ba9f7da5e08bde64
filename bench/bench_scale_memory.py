"""(e) A worker's peak memory and its database queries per claimed binding at scale.

Set-up (not measured): one m365sim server (in this process, `large` seed, 20 ms latency,
Graph's real limits) with T tenants of N/T accounts each; per tenant an organization and a
directory; N Lockstep users bound to those accounts, already in step (as after a takeover that
synced); then `--change-rate` of the users edited at once (a CSV import: one `users_changed`
event per organization). Measured in a separate worker process (this script with `--worker`,
so the set-up and m365sim are not in its memory), running the product's sync loop (`SyncLoop`)
until every edit is applied and each directory's first drift round has listed its users, then
`SETTLE_SECONDS` more: its peak resident
memory (VmHWM), and the database queries its sync threads made inside the user and group
passes divided by the bindings those passes claimed (all its queries, drift included, beside).

Runs on PostgreSQL (a fresh database `bench_scale_memory` at 127.0.0.1) when reachable, else SQLite.

    .venv/bin/python bench/bench_scale_memory.py [--users 100000] [--tenants 10] [--change-rate 0.01]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from lockstep_env import connect_directories, database_words, fresh_postgres, machine, setup_django, today
from scale_worker import SETTLE_SECONDS, run_worker


def bind_in_step(organization: Any, directory: Any, tenant: Any) -> list[int]:
    """Lockstep users equal to the tenant's seeded accounts, bound and in step; their ids."""
    from lockstep.directory.models import User, UserState
    from lockstep.m365.models import SyncStatus, UserBinding

    state = tenant.sim.tenant
    accounts = [a for a in list(state.users.values()) if a["mailNickname"].startswith("user")]
    for i, account in enumerate(accounts):
        immutable = f"scale{directory.pk:04d}{i:023d}"
        account["onPremisesImmutableId"] = immutable
        state.by_immutable[immutable] = account["id"]
    User.objects.bulk_create(
        [
            User(
                organization=organization,
                username=a["mailNickname"],
                email=a["userPrincipalName"],
                first_name=a["givenName"],
                last_name=a["surname"],
                display_name=a["displayName"],
                usage_location="US",
                state=UserState.ACTIVE,
                immutable_id=a["onPremisesImmutableId"],
            )
            for a in accounts
        ],
        batch_size=5000,
    )
    by_email = dict(User.objects.filter(organization=organization).values_list("email", "id"))
    UserBinding.objects.bulk_create(
        [
            UserBinding(
                directory=directory,
                user_id=by_email[a["userPrincipalName"]],
                remote_id=a["id"],
                remote_upn=a["userPrincipalName"],
                desired_version=1,
                applied_version=1,
                status=SyncStatus.SYNCED,
                last_applied={},
            )
            for a in accounts
        ],
        batch_size=5000,
    )
    return list(by_email.values())


def edit_some(organization: Any, user_ids: list[int], rate: float, rng: random.Random) -> int:
    """Change the job title of `rate` of the users at once, as a CSV import does; how many."""
    from django.db import transaction

    from lockstep.directory import events
    from lockstep.directory.models import User

    chosen = rng.sample(user_ids, round(len(user_ids) * rate))
    with transaction.atomic():
        User.objects.filter(id__in=chosen).update(job_title="Edited by the scale benchmark")
        events.emit(
            events.users_changed, organization_id=organization.pk, user_ids=chosen, fields=["job_title"]
        )
    return len(chosen)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100_000, help="bound users across all tenants")
    parser.add_argument("--tenants", type=int, default=10)
    parser.add_argument("--change-rate", type=float, default=0.01, help="share of the users edited")
    parser.add_argument("--sqlite", action="store_true", help="SQLite even if PostgreSQL is reachable")
    parser.add_argument("--out", default=str(Path(__file__).parent / "RESULTS-scale-memory.md"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # JSON options: this process is the worker
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run_worker(json.loads(args.worker))))
        return
    database_url = "" if args.sqlite else fresh_postgres("bench_scale_memory")
    data_dir = setup_django(database_url)
    from django.conf import settings

    from lockstep.directory.actors import Actor
    from lockstep.directory.services import organizations
    from m365sim.testing import SimServer

    per_tenant = args.users // args.tenants
    rng = random.Random(12)
    with SimServer(
        seed="large", users=per_tenant, groups=10, latency_ms=20, throttling=True, tenants=args.tenants
    ) as sim:
        # one organization per tenant: the seeded accounts' nicknames repeat across tenants
        orgs = [organizations.create_organization(name=f"Scale Org {i + 1}") for i in range(args.tenants)]
        actors = [Actor.system(org.pk, "bench") for org in orgs]
        pairs = connect_directories(actors, sim, args.tenants)
        bound = [bind_in_step(org, d, t) for org, (d, t) in zip(orgs, pairs, strict=True)]
        edits = sum(edit_some(org, ids, args.change_rate, rng) for org, ids in zip(orgs, bound, strict=True))
        options = {
            "database_url": database_url,
            "data_dir": str(data_dir),
            "ca_file": settings.TRUSTED_CA_FILE,
        }
        started = time.monotonic()
        child = subprocess.run(
            [sys.executable, __file__, "--worker", json.dumps(options)],
            capture_output=True,
            text=True,
            env=os.environ.copy(),
            check=False,
        )
        if child.returncode != 0:
            raise SystemExit(f"the worker failed:\n{child.stderr[-4000:]}")
        result = json.loads(child.stdout.strip().splitlines()[-1])
        worker_seconds = time.monotonic() - started
    claimed = result["claimed"]
    total = sum(len(ids) for ids in bound)
    text = (
        f"# Worker memory and queries at scale (e)\n\n`bench/bench_scale_memory.py --users {args.users} "
        f"--tenants {args.tenants} --change-rate {args.change_rate:g}` on {today()}, {machine()}; "
        f"{database_words(database_url, args.sqlite)}; m365sim `large` seed, {args.tenants} tenants, 20 ms latency, Graph's "
        f"real limits. {total:,} bound users in step, then {edits:,} of them edited at once (a CSV import); "
        "one worker process (`SyncLoop`) until every edit is applied and each directory's first drift "
        f"round is done (+{SETTLE_SECONDS:.0f} s).\n\n"
        "| measure | result |\n|---|---|\n"
        f"| worker peak memory (VmHWM) | {result['peak_mb']:.0f} MB |\n"
        f"| worker memory before its sync loop started (Django loaded) | {result['start_mb']:.0f} MB |\n"
        f"| bindings claimed by the user and group passes | {claimed:,} (edited: {edits:,}) |\n"
        f"| queries in those passes | {result['pass_queries']:,} = "
        f"{result['pass_queries'] / max(1, claimed):.2f} per claimed binding |\n"
        f"| all the worker's queries (drift rounds, budget, reachability included) | {result['all_queries']:,} |\n"
        f"| worker run, start to stop | {result['seconds']:.1f} s (process included: {worker_seconds:.1f} s) |\n"
    )
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()

"""Onboard N users into G groups (each user in K groups) through Lockstep into m365sim, with
20 ms latency and Graph's real limits.

Reports Graph writes against the fewest the API allows (one `POST /users` per user, and per
group ceil(members / 20): `POST /groups` binding the first 20 members, then `PATCH` with
`members@odata.bind`, 20 per write), writes per user, and the wall time against the allowance
minimum: the least time m365sim's model of Graph's limits permits for those writes (a full
3,000-write bucket at the start, then 20 writes/s, plus the latency of the `$batch` round
trips, 20 writes each, one after another).

    .venv/bin/python bench/bench_onboarding.py [--users 2000 --groups 20 --per-user 3]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from allowance import allowance_minimum
from lockstep_env import bulk_users, connect_directory, machine, organization_and_actor, setup_django, today

PER_WRITE = 20  # members@odata.bind references per write; requests per $batch
NOTE = "Old code (one `$ref` write per membership): 4.01 writes per user, by count.\n"


def fewest_writes(users: int, group_sizes: list[int]) -> int:
    return users + sum(max(1, math.ceil(size / PER_WRITE)) for size in group_sizes)


def groups_of(user: int, groups: int, per_user: int) -> list[int]:
    """K distinct groups per user, spread so every group gets the same number of members."""
    step = max(1, groups // per_user)
    return sorted({(user + k * step) % groups for k in range(per_user)})


def make_lockstep_side(organization: Any, actor: Any, directory: Any, args: argparse.Namespace) -> list[int]:
    from lockstep.directory.models import Group, GroupMembership
    from lockstep.m365.services.bindings import bind_group, bind_user

    user_ids = bulk_users(organization, "onb", "contoso.com", args.users)
    groups = Group.objects.bulk_create(
        [Group(organization=organization, name=f"Onboarding team {g:02d}") for g in range(args.groups)]
    )
    memberships = [
        GroupMembership(group=groups[g], user_id=user_id)
        for i, user_id in enumerate(user_ids)
        for g in groups_of(i, args.groups, args.per_user)
    ]
    GroupMembership.objects.bulk_create(memberships, batch_size=2000)
    for user_id in user_ids:
        bind_user(actor=actor, user_id=user_id, directory_id=directory.pk)
    for group in groups:
        bind_group(actor=actor, group_id=group.pk, directory_id=directory.pk)
    sizes: dict[int, int] = {}
    for m in memberships:
        sizes[m.group_id] = sizes.get(m.group_id, 0) + 1
    return list(sizes.values())


def all_members_in_microsoft_365(sim: Any, expected: int) -> bool:
    return sum(len(m) for m in sim.sim.tenant.members.values()) >= expected


def graph_writes(sim: Any) -> list[Any]:
    return [
        r
        for r in sim.sim.tenant.request_log
        if r.method != "GET" and r.path != "/$batch" and "/oauth2/" not in r.path
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--per-user", type=int, default=3)
    parser.add_argument("--out", default=str(Path(__file__).parent / "RESULTS-onboarding.md"))
    args = parser.parse_args()
    setup_django()
    from lockstep.m365 import sync_loop
    from lockstep.m365.models import GroupBinding, SyncStatus, UserBinding
    from m365sim.testing import SimServer

    organization, actor = organization_and_actor()
    with SimServer(seed="demo", latency_ms=20, throttling=True, subprocess_mode=False) as sim:
        directory = connect_directory(actor, sim)
        sizes = make_lockstep_side(organization, actor, directory, args)
        baseline = sum(len(m) for m in sim.sim.tenant.members.values())
        memberships = sum(sizes)
        sim.sim.tenant.request_log.clear()
        ports = sync_loop.PortCache()
        start = time.monotonic()
        in_microsoft_365 = 0.0
        while True:
            if not sync_loop.run_once(ports=ports):
                time.sleep(0.2)
            if not in_microsoft_365 and all_members_in_microsoft_365(sim, baseline + memberships):
                in_microsoft_365 = time.monotonic() - start
            settled = not (
                UserBinding.objects.exclude(status=SyncStatus.SYNCED).exists()
                or GroupBinding.objects.exclude(status=SyncStatus.SYNCED).exists()
            )
            if settled and in_microsoft_365:
                break
            if time.monotonic() - start > 1800:
                raise SystemExit("did not converge within 30 minutes")
        settled_after = time.monotonic() - start
        sent = graph_writes(sim)
        users_created = sum(1 for r in sent if r.method == "POST" and r.path == "/users")
        group_writes = [r for r in sent if r.path.startswith("/groups")]
        ref_writes = sum(1 for r in group_writes if r.path.endswith("/$ref"))
        throttled = sum(1 for r in sent if r.status == 429)
        refused = sum(1 for r in sent if r.status >= 400 and r.status != 429)
        ports.close()
    from lockstep.m365.budget import BudgetLimits

    limits = BudgetLimits()

    def pacing_floor(writes: int) -> float:
        return max(0, writes - limits.write_burst) / limits.writes_per_second

    fewest = fewest_writes(args.users, sizes)
    minimum = allowance_minimum(fewest)
    writes = len(sent)
    rows = [
        ("users / groups / memberships", f"{args.users:,} / {args.groups} / {memberships:,}"),
        (
            "Graph writes (all sent)",
            f"{writes:,} = {writes / fewest:.3f} x the fewest, {fewest:,} (goal ≤ 1.1)",
        ),
        ("of which user creates", f"{users_created:,}"),
        (
            "of which group writes",
            f"{len(group_writes):,} ({ref_writes} one-member `$ref` writes; fewest {fewest - args.users})",
        ),
        ("writes per user", f"{writes / args.users:.3f} (fewest {fewest / args.users:.3f}; old code ≈ 4.0)"),
        ("refused / throttled writes", f"{refused} / {throttled}"),
        (
            "wall time to all memberships in Microsoft 365",
            f"{in_microsoft_365:.1f} s = {in_microsoft_365 / minimum:.1f} x the allowance minimum, {minimum:.1f} s",
        ),
        (
            "of which Lockstep's own write pacing",
            f"≥ {pacing_floor(writes):.1f} s (`budget.BudgetLimits`: a burst of {limits.write_burst:.0f}, "
            f"then {limits.writes_per_second:.0f} writes/s)",
        ),
        ("wall time to every binding settled", f"{settled_after:.1f} s (membership re-reads included)"),
    ]
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    text = (
        f"# Onboarding benchmark\n\n`bench/bench_onboarding.py --users {args.users} --groups {args.groups} "
        f"--per-user {args.per_user}` on {today()}, {machine()}; m365sim with 20 ms latency and Graph's "
        f"real throttling limits, SQLite.\n\n"
        "Allowance minimum (bench/allowance.py): 3,000 writes at once, then 20/s, `$batch`es of 20 "
        "sent one after another at 20 ms each.\n\n"
        f"| measure | result |\n|---|---|\n{table}\n\n{NOTE}"
    )
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()

"""A bulk action (suspend) on 1,000 users: time and SQL queries, through the service and the Admin Portal.

20,000 users in the organization; the 1,000 acted on match the search `q=bulk`, and half of them
are bound to a Microsoft 365 directory (so the sync bookkeeping is part of the cost). Each
scenario runs `--repeat` times (the users are put back between runs, untimed); the table shows
the median time and the SQL queries of one run. For comparison, the same suspend done one
user at a time through `users.change_state`.

    .venv/bin/python bench/bench_bulk_action.py [--users 1000] [--repeat 5] [--database-url URL]

PostgreSQL: createdb -h 127.0.0.1 -U postgres lockstep_bench_bulk, then
--database-url postgresql://postgres@127.0.0.1:5432/lockstep_bench_bulk (dropped and created
again for a second run).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from lockstep_env import bench_owner, machine, organization_and_actor, portal_client, setup_django, today

OTHERS = 19_000
NOTE = (
    "The bulk paths run a fixed number of queries per 500 ids (fetch, UPDATE, the sync bookkeeping) plus "
    "the audit INSERTs: one on PostgreSQL, 90 rows each on SQLite (its 999-parameter limit); one by one "
    "costs 6 queries per user. Times are from a shared 2-core machine: compare rows, not runs.\n"
)


def measure(run: Callable[[], Any], reset: Callable[[], None], repeat: int) -> tuple[float, int]:
    """Median seconds and the queries of one run."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    timings: list[float] = []
    queries = 0
    for _ in range(repeat):
        reset()
        with CaptureQueriesContext(connection) as captured:
            begin = time.perf_counter()
            run()
            timings.append(time.perf_counter() - begin)
        queries = len(captured)
    return statistics.median(timings), queries


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--out", default=str(Path(__file__).parent / "RESULTS-bulk.md"))
    args = parser.parse_args()
    setup_django(args.database_url)
    from django.db import connection

    from lockstep.directory.models import User, UserState
    from lockstep.directory.services import bulk, users
    from lockstep.m365.models import Directory, DirectoryDomain, UserBinding

    organization, actor = organization_and_actor()
    owner = bench_owner(organization)
    started = time.monotonic()
    User.objects.bulk_create(
        (
            User(
                organization=organization,
                username=f"{'bulk' if i < args.users else 'user'}{i:06d}",
                email=f"{'bulk' if i < args.users else 'user'}{i:06d}@contoso.com",
                first_name="First",
                last_name=f"Last{i % 500}",
                display_name=f"First Last{i}",
                state=UserState.ACTIVE,
                immutable_id=f"bulkbench{i:023d}",
            )
            for i in range(args.users + OTHERS)
        ),
        batch_size=2000,
    )
    directory = Directory.objects.create(
        organization=organization, name="Bench tenant", tenant_id="t", client_id="c", credential_kind="secret"
    )
    DirectoryDomain.objects.create(directory=directory, name="contoso.com", is_verified=True, is_default=True)
    targets = list(
        User.objects.filter(username__startswith="bulk").order_by("username").values_list("pk", flat=True)
    )
    UserBinding.objects.bulk_create(
        [UserBinding(directory=directory, user_id=pk) for pk in targets[::2]], batch_size=2000
    )
    fill_seconds = time.monotonic() - started
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    portal = portal_client(owner)
    ids_csv = ",".join(map(str, targets))

    def reset() -> None:
        User.objects.filter(pk__in=targets).update(state=UserState.ACTIVE)

    def service() -> None:
        result = bulk.change_states(actor=actor, user_ids=targets, to_state="suspended")
        assert len(result.changed) == len(targets)

    def confirm_page() -> None:
        response = portal.post("/users/bulk/", {"action": "suspend", "scope": "matching", "query": "q=bulk"})
        assert response.status_code == 200 and f"Suspend {len(targets)} users" in response.content.decode()

    def apply_request() -> None:
        response = portal.post(
            "/users/bulk/apply/", {"action": "suspend", "user_ids_csv": ids_csv, "query": "q=bulk"}
        )
        assert response.status_code == 200, response.status_code
        assert f"{len(targets)} users suspended" in response.content.decode()

    def one_by_one() -> None:
        for pk in targets:
            users.change_state(actor=actor, user_id=pk, to_state="suspended")

    n = f"{len(targets):,}"
    scenarios: list[tuple[str, Callable[[], None], int]] = [
        (f"service `bulk.change_states`, {n} users", service, args.repeat),
        (f'Admin Portal confirmation page ("all matching" q=bulk, {n} users)', confirm_page, args.repeat),
        (f"Admin Portal apply (POST /users/bulk/apply/, {n} users)", apply_request, args.repeat),
        (f"for comparison: `users.change_state` one by one, {n} users", one_by_one, 1),
    ]
    rows = []
    for name, run, repeat in scenarios:
        seconds, queries = measure(run, reset, repeat)
        rows.append(f"| {name} | {seconds * 1000:,.0f} ms | {queries:,} |")
        print(rows[-1], flush=True)
    from lockstep.directory.models import AuditEvent

    assert AuditEvent.objects.filter(action="user.suspend").count() >= len(targets)  # one row per user
    text = (
        f"# Bulk suspend of {n} users ({connection.vendor})\n\n"
        f"`bench/bench_bulk_action.py --users {args.users} --repeat {args.repeat}` on {today()}, {machine()}, "
        f"{connection.vendor}; {len(targets) + OTHERS:,} users in the organization, {len(targets[::2]):,} of the "
        f"{n} bound to a directory; in-process Django test client for the portal rows (full middleware and "
        f"templates). Fill took {fill_seconds:.1f} s. Median of {args.repeat} runs; queries of one run.\n\n"
        "| what | time | SQL queries |\n|---|---|---|\n" + "\n".join(rows) + "\n\n" + NOTE
    )
    out = Path(args.out)
    existing = out.read_text() if out.exists() else ""
    marker = f"# Bulk suspend of {n} users ({connection.vendor})"
    kept = [part.strip() for part in existing.split("<!-- run -->") if part.strip() and marker not in part]
    out.write_text("\n\n<!-- run -->\n\n".join([*kept, text.rstrip()]) + "\n")
    print(text)


if __name__ == "__main__":
    main()

"""The Users search at 100,000 users on SQLite and PostgreSQL: p50 and p95 of a substring search.

Each search goes through the code the Users page uses: the filter form, `list_filters.matching_users`
(the search index: an FTS5 trigram table on SQLite, a pg_trgm GIN index on PostgreSQL),
`paging.numbered_page` (the total and the page of 50) and the Microsoft 365 status of the rows;
and once more as the whole live-search request (the Django test client with HX-Request: session,
middleware, template). Each database runs in its own process on a fresh database.

    .venv/bin/python bench/bench_users_search.py [--users 100000] [--requests 100]
        [--postgres postgresql://postgres@127.0.0.1:5432/lockstep_bench_search | --postgres none]

The PostgreSQL database named there is dropped and created again (a role that may create
databases is needed); when the server cannot be reached the PostgreSQL run is skipped and said so.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from lockstep_env import bench_owner, machine, organization_and_actor, portal_client, setup_django, today

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/lockstep_bench_search"
SYLLABLES = [
    "an",
    "bel",
    "cor",
    "dan",
    "el",
    "fen",
    "gar",
    "hol",
    "is",
    "jor",
    "kal",
    "lin",
    "mor",
    "nel",
    "or",
    "per",
    "quin",
    "ros",
    "sel",
    "tor",
    "ul",
    "ven",
    "wil",
    "xan",
    "yor",
    "zel",
]
DOMAINS = ["contoso.com", "fabrikam.com", "northwind.example"]
# (what it shows, search term): a rare name, a name fragment, an email fragment, nothing.
SEARCHES = [
    ("inside a surname, rare (`owen`)", "owen"),
    ("a name fragment (`kalmor`)", "kalmor"),
    ("a short fragment, common (`ros`)", "ros"),
    ("an email domain (`@fabrikam`)", "@fabrikam"),
    ("no match (`qqqz`)", "qqqz"),
    ("two letters, scanned (`xu`)", "xu"),
]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def name(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(parts)).capitalize()


def fill(organization: Any, count: int) -> float:
    """`count` users (one in 1,000 a Bowen, a few Xus), 30% of them bound to a directory."""
    from lockstep.directory.models import User, UserState
    from lockstep.m365.models import Directory, SyncStatus, UserBinding

    rng = random.Random(8)
    states = [UserState.STAGED, UserState.ACTIVE, UserState.SUSPENDED]
    started = time.monotonic()
    batch: list[User] = []
    for i in range(count):
        first, last = name(rng, 2), ("Bowen" if i % 1000 == 7 else "Xu" if i % 5000 == 9 else name(rng, 3))
        username = f"{first}.{last}{i}".lower()
        batch.append(
            User(
                organization=organization,
                username=username,
                email=f"{username}@{DOMAINS[i % len(DOMAINS)]}",
                first_name=first,
                last_name=last,
                display_name=f"{first} {last}",
                department=f"Department {i % 40}",
                state=states[i % 3],
                immutable_id=f"bench{i:027d}",
            )
        )
        if len(batch) == 5000:
            User.objects.bulk_create(batch)
            batch = []
    User.objects.bulk_create(batch)
    directory = Directory.objects.create(
        organization=organization, name="Contoso", tenant_id="t", client_id="c", credential_kind="secret"
    )
    statuses = [SyncStatus.SYNCED] * 8 + [SyncStatus.PENDING, SyncStatus.ERROR]
    ids = list(User.objects.order_by("id").values_list("id", flat=True)[: count * 3 // 10])
    UserBinding.objects.bulk_create(
        (
            UserBinding(directory=directory, user_id=pk, status=statuses[pk % 10], applied_version=1)
            for pk in ids
        ),
        batch_size=5000,
    )
    return time.monotonic() - started


def timed(run: Any, requests: int) -> tuple[float, float, float, Any]:
    """p50 and p95 wall time and p50 CPU time of this process (ms), and the last result."""
    run()  # warm
    timings, cpu = [], []
    for _ in range(requests):
        begin, begin_cpu = time.perf_counter(), time.process_time()
        result = run()
        timings.append(time.perf_counter() - begin)
        cpu.append(time.process_time() - begin_cpu)
    return (
        statistics.median(timings) * 1000,
        percentile(timings, 0.95) * 1000,
        statistics.median(cpu) * 1000,
        result,
    )


def measure(database_url: str, users: int, requests: int) -> dict[str, Any]:
    """One database: fill it, then time each search (runs in a child process)."""
    setup_django(database_url)
    from django.db import connection
    from django.test import RequestFactory

    from lockstep.console import list_filters
    from lockstep.console.paging import numbered_page

    organization, actor = organization_and_actor()
    fill_seconds = fill(organization, users)
    with connection.cursor() as cursor:  # what autovacuum does soon after a bulk load
        cursor.execute("ANALYZE")
    owner = bench_owner(organization)
    client = portal_client(owner)

    def search(params: dict[str, str]) -> int:
        request = RequestFactory().get("/users/", params)
        request.user = owner
        form = list_filters.user_filter_form(request, with_choices=False)
        assert form.is_valid(), form.errors
        page = numbered_page(
            list_filters.matching_users(actor, form),
            number=1,
            size=50,
            query=params,
            many=lambda: list_filters.matching_users(actor, form, many=True),
        )
        list_filters.with_status(page.items, form, "user")
        return page.total

    rows = []
    for label, term in [*SEARCHES, ("`owen` and Microsoft 365 status In sync", "owen+synced")]:
        params = {"q": term.removesuffix("+synced")}
        if term.endswith("+synced"):
            params["m365_status"] = "synced"
        p50, p95, cpu, total = timed(lambda params=params: search(params), requests)
        page_p50, page_p95, _cpu, response = timed(
            lambda params=params: client.get("/users/", params, headers={"HX-Request": "true"}), requests
        )
        assert response.status_code == 200
        rows.append(
            {
                "cpu": cpu,
                "label": label,
                "matches": total,
                "p50": p50,
                "p95": p95,
                "page_p50": page_p50,
                "page_p95": page_p95,
            }
        )
    if connection.vendor == "sqlite":
        import sqlite3

        version = sqlite3.sqlite_version
    else:
        version = f"{connection.pg_version // 10000}.{connection.pg_version % 10000}"
    return {"vendor": connection.vendor, "version": str(version), "fill_seconds": fill_seconds, "rows": rows}


def fresh_postgres(url: str) -> bool:
    """Drop and create the bench database; False when the server cannot be reached."""
    import psycopg

    base, _, database = url.rpartition("/")
    try:
        with psycopg.connect(f"{base}/postgres", autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}"')
            admin.execute(f'CREATE DATABASE "{database}"')
    except psycopg.OperationalError as error:
        print(f"PostgreSQL run skipped: {error}".strip(), file=sys.stderr)
        return False
    return True


def table(result: dict[str, Any]) -> str:
    lines = [
        f"### {result['vendor']} {result['version']} (fill: {result['fill_seconds']:.0f} s)\n",
        "| search | matches | search p50 | search p95 | search CPU p50 | live-search request p50 | p95 |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        lines.append(
            f"| {row['label']} | {row['matches']:,} | {row['p50']:.1f} ms | {row['p95']:.1f} ms "
            f"| {row['cpu']:.1f} ms | {row['page_p50']:.1f} ms | {row['page_p95']:.1f} ms |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--postgres", default=os.environ.get("LOCKSTEP_BENCH_POSTGRES", DEFAULT_PG))
    parser.add_argument("--out", default=str(Path(__file__).parent / "RESULTS-search.md"))
    parser.add_argument("--measure", default=None, help=argparse.SUPPRESS)  # child: one database URL
    args = parser.parse_args()
    if args.measure is not None:
        print(json.dumps(measure(args.measure, args.users, args.requests)))
        return
    targets = [""]
    if args.postgres != "none" and fresh_postgres(args.postgres):
        targets.append(args.postgres)
    results = []
    for url in targets:
        command = [
            sys.executable,
            __file__,
            "--users",
            str(args.users),
            "--requests",
            str(args.requests),
            "--measure",
            url,
        ]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        results.append(json.loads(output.strip().splitlines()[-1]))
    load = os.getloadavg()[0]
    text = (
        f"# Users search at {args.users:,} users\n\n"
        f"`bench/bench_users_search.py --users {args.users} --requests {args.requests}` on {today()}, {machine()}, "
        f"load average {load:.1f} at the end. Target: p50 under 20 ms for a substring search.\n\n"
        "*search*: the code the Users page runs for a search (the form, the filter through the search "
        "index, the total, the first page of 50 and its Microsoft 365 status), called directly. "
        "*live-search request*: the same through Django's full stack as the live search sends it "
        "(session, middleware, the table's template), in-process. 30% of the users are bound to a directory. "
        "*search CPU*: CPU time of the Lockstep process for one search, which a busy machine does not "
        "inflate; on SQLite it is the whole search, on PostgreSQL the server's share is not in it.\n\n"
        + "\n".join(table(result) for result in results)
        + "\nWhat costs more, by design: the page shows the exact total, so a fragment found in a large "
        "share of the directory (`ros`: 18%, `@fabrikam`: a third) counts every match; the page itself "
        "is read in username order and stops after 50. A term of one or two letters has no trigram "
        "and scans `search_text` once.\n"
    )
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()

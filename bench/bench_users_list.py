"""The Users list page and the API list endpoint at 100,000 users: p50, p95, SQL queries.

Requests go through Django's full stack in-process (middleware, sessions, templates);
SQL queries are counted per request.

    .venv/bin/python bench/bench_users_list.py [--users 100000] [--requests 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from lockstep_env import bench_owner, machine, organization_and_actor, portal_client, setup_django, today


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--out", default=str(Path(__file__).parent / "RESULTS.md"))
    args = parser.parse_args()
    setup_django(args.database_url)
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from lockstep.directory.models import Group, GroupMembership, User, UserState
    from lockstep.directory.services import api_keys

    organization, actor = organization_and_actor()
    states = [UserState.STAGED, UserState.ACTIVE, UserState.SUSPENDED]
    started = time.monotonic()
    User.objects.bulk_create(
        (
            User(
                organization=organization,
                username=f"user{i:06d}",
                email=f"user{i:06d}@contoso.com",
                first_name="First",
                last_name=f"Last{i % 5000}",
                display_name=f"First Last{i}",
                state=states[i % 3],
                immutable_id=f"bench{i:027d}",
            )
            for i in range(args.users)
        ),
        batch_size=5000,
    )
    group = Group.objects.create(organization=organization, name="Everyone")
    ids = list(User.objects.values_list("id", flat=True)[:5000])
    GroupMembership.objects.bulk_create(
        [GroupMembership(group=group, user_id=i) for i in ids], batch_size=5000
    )
    fill_seconds = time.monotonic() - started
    with connection.cursor() as cursor:  # what autovacuum does soon after a bulk load
        cursor.execute("ANALYZE")

    owner = bench_owner(organization)
    portal = portal_client(owner)
    _key, secret = api_keys.create_api_key(actor=actor, name="bench")
    api = Client(HTTP_HOST="127.0.0.1", headers={"Authorization": f"Bearer {secret}"})

    scenarios = {
        "Users page, first page": (portal, "/users/"),
        "Users page, filtered by state": (portal, "/users/?state=active"),
        "Users page, search": (portal, "/users/?q=user0999"),
        "Users page, deep page (page 1000)": (portal, "/users/?page=1000"),
        "API /api/v1/users?limit=50": (api, "/api/v1/users?limit=50"),
        "API, deep page (cursor)": (api, None),
    }
    # Deep pages: follow the cursor from the middle of the table.
    middle = User.objects.order_by("username").values_list("username", "id")[args.users // 2]
    from lockstep.directory.services.users import encode_cursor

    cursor = encode_cursor([middle[0], middle[1]])
    scenarios["API, deep page (cursor)"] = (api, f"/api/v1/users?limit=50&cursor={cursor}")

    rows = []
    for name, (client, url) in scenarios.items():
        assert url is not None
        response = client.get(url)
        assert response.status_code == 200, (name, response.status_code)
        timings: list[float] = []
        queries: list[int] = []
        for _ in range(args.requests):
            with CaptureQueriesContext(connection) as captured:
                begin = time.perf_counter()
                response = client.get(url)
                timings.append(time.perf_counter() - begin)
            queries.append(len(captured))
            assert response.status_code == 200
        rows.append(
            f"| {name} | {statistics.median(timings) * 1000:.1f} ms | {percentile(timings, 0.95) * 1000:.1f} ms "
            f"| {max(queries)} |"
        )
    vendor = connection.vendor
    text = (
        f"# Users list at {args.users:,} users\n\n`bench/bench_users_list.py --users {args.users} --requests "
        f"{args.requests}` on {today()}, {machine()}, {vendor}; in-process Django test client (full middleware "
        f"and templates, no network). Fill took {fill_seconds:.1f} s.\n\n"
        "Target: at most 13 SQL queries per page and p50 under 50 ms on SQLite.\n\n"
        "| request | p50 | p95 | SQL queries |\n|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()

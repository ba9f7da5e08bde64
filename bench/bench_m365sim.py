"""Benchmark m365sim: requests/s for a simple GET, a filtered GET and a 20-request $batch, and
lookup latency by id / userPrincipalName / mail at 100,000 users.

    .venv/bin/python bench/bench_m365sim.py [--seconds 5] [--users 100000]

The simulator runs in its own process (``m365sim serve --no-throttle``, one uvicorn worker =
one core); the client is a keep-alive httpx.Client. Results go to bench/RESULTS-m365sim.md.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from m365sim.testing import SimServer

OUT = Path(__file__).with_name("RESULTS-m365sim.md")


def rate(fn: Callable[[], httpx.Response], seconds: float) -> float:
    for _ in range(20):  # warm-up
        fn()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        r = fn()
        assert r.status_code == 200, r.text
        n += 1
    return n / (time.perf_counter() - start)


def latency_ms(fn: Callable[[], httpx.Response], n: int = 300) -> float:
    for _ in range(20):
        fn()
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        assert fn().status_code == 200
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def lookups(srv: SimServer, c: httpx.Client) -> dict[str, float]:
    users = c.get("/users", params={"$top": "999", "$select": "id,userPrincipalName,mail"}).json()["value"]
    u = users[-1]
    return {
        "by id": latency_ms(lambda: c.get(f"/users/{u['id']}")),
        "by userPrincipalName": latency_ms(lambda: c.get(f"/users/{u['userPrincipalName']}")),
        "by mail ($filter)": latency_ms(
            lambda: c.get("/users", params={"$filter": f"mail eq '{u['mail']}'"})
        ),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--users", type=int, default=100_000)
    args = ap.parse_args()
    rows: list[tuple[str, str]] = []
    with SimServer(seed="demo", throttling=False, subprocess_mode=True) as srv, srv.client() as c:
        uid = c.get("/users/adele.vance@contoso.com").json()["id"]
        simple = rate(lambda: c.get(f"/users/{uid}"), args.seconds)
        filtered = rate(
            lambda: c.get(
                "/users", params={"$filter": "startsWith(displayName,'A') and accountEnabled eq true"}
            ),
            args.seconds,
        )
        batch = {
            "requests": [
                {"id": str(i), "method": "GET", "url": f"/users/{uid}?$select=id,displayName"}
                for i in range(20)
            ]
        }
        batches = rate(lambda: c.post("/$batch", json=batch), args.seconds)
        small = lookups(srv, c)
    rows += [
        ("simple GET /users/{id}", f"{simple:.0f} req/s"),
        ("filtered GET /users?$filter=startsWith(...) and ...", f"{filtered:.0f} req/s"),
        ("POST /$batch with 20 GETs", f"{batches:.0f} batches/s ({batches * 20:.0f} inner req/s)"),
    ]
    start = time.perf_counter()
    with SimServer(seed="large", users=args.users, groups=100, throttling=False, subprocess_mode=True) as srv:
        startup = time.perf_counter() - start
        with srv.client() as c:
            large = lookups(srv, c)
    lines = [
        "# m365sim benchmark",
        "",
        f"`bench/bench_m365sim.py` on {platform.machine()} / Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Server: `m365sim serve --no-throttle` "
        "(one uvicorn process, HTTPS, h11 or httptools), client: one keep-alive httpx.Client, sequential requests "
        "(so the figures include client-side cost; the machine has 2 shared cores).",
        "",
        "| measurement | result |",
        "|---|---|",
        *[f"| {a} | {b} |" for a, b in rows],
        "",
        f"Lookup latency (median of 300 sequential requests), demo seed (49 users) vs `large` seed ({args.users:,} users, "
        f"server start incl. seeding {startup:.1f} s):",
        "",
        f"| lookup | 49 users | {args.users:,} users |",
        "|---|---|---|",
        *[f"| {k} | {small[k]:.2f} ms | {large[k]:.2f} ms |" for k in small],
        "",
    ]
    OUT.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

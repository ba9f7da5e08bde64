"""Latency from a save in Lockstep to the write applied in m365sim, with an idle queue.

The sync loop runs as in `lockstep run` (a thread woken after commit); m365sim adds 20 ms
latency to every request and applies Graph's real limits.

    .venv/bin/python bench/bench_latency.py [--samples 50]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from lockstep_env import connect_directory, machine, organization_and_actor, setup_django, today


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--out", default=str(Path(__file__).parent / "RESULTS-latency.md"))
    args = parser.parse_args()
    setup_django()
    from lockstep.directory.services import users
    from lockstep.m365 import sync_loop
    from lockstep.m365.models import SyncStatus, UserBinding
    from lockstep.m365.services.bindings import bind_user
    from m365sim.testing import SimServer

    _organization, actor = organization_and_actor()
    with SimServer(seed="demo", latency_ms=20, throttling=True) as sim:
        directory = connect_directory(actor, sim)
        user = users.create_user(actor=actor, fields={"username": "lat", "email": "lat@contoso.com"})
        bind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
        stop = threading.Event()
        loop = sync_loop.SyncLoop(worker="bench", stop=stop)
        loop.start()
        deadline = time.monotonic() + 60
        while not UserBinding.objects.filter(status=SyncStatus.SYNCED).exists():
            if time.monotonic() > deadline:
                raise SystemExit("first sync did not happen")
            time.sleep(0.05)
        remote_id = UserBinding.objects.get().remote_id
        samples: list[float] = []
        for i in range(args.samples):
            title = f"Title {i}"
            start = time.monotonic()
            users.update_user(actor=actor, user_id=user.pk, changes={"job_title": title})
            while sim.sim.tenant.users[remote_id].get("jobTitle") != title:
                if time.monotonic() - start > 30:
                    raise SystemExit(f"sample {i} not applied within 30 s")
                time.sleep(0.002)
            samples.append(time.monotonic() - start)
            time.sleep(0.3)  # idle queue between samples
        stop.set()
        loop.join(timeout=10)
    samples.sort()
    p50 = statistics.median(samples)
    p95 = samples[max(0, int(len(samples) * 0.95) - 1)]
    text = (
        f"# Save-to-Microsoft-365 latency\n\n`bench/bench_latency.py --samples {args.samples}` on {today()}, "
        f"{machine()}; m365sim with 20 ms latency per request, SQLite, idle queue.\n\n"
        "| measure | result | target |\n|---|---|---|\n"
        f"| p50 | {p50 * 1000:.0f} ms | < 1 s |\n| p95 | {p95 * 1000:.0f} ms | < 3 s |\n"
        f"| max | {samples[-1] * 1000:.0f} ms | |\n"
    )
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()

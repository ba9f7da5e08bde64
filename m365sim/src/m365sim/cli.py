"""``m365sim serve``: run the simulator over HTTPS on loopback."""

from __future__ import annotations

import argparse
import signal
import sys

from m365sim import seeds
from m365sim.pki import ensure_tls


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="m365sim", description="Local Microsoft 365 tenant (Graph v1.0 + Entra token endpoint)"
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="serve over HTTPS")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8443)
    s.add_argument("--seed", default="demo", choices=["demo", "godaddy", "large"])
    s.add_argument("--users", type=int, default=None, help="users for --seed large (default 100000)")
    s.add_argument("--groups", type=int, default=None, help="groups for --seed large (default 1000)")
    s.add_argument(
        "--state", default=None, help="JSON file: loaded if present, saved on exit and on POST /_sim/save"
    )
    s.add_argument(
        "--ca-dir", default=None, help="where the CA and server cert live (default ~/.cache/m365sim)"
    )
    s.add_argument("--latency-ms", type=float, default=0.0)
    s.add_argument("--jitter-ms", type=float, default=0.0)
    s.add_argument("--no-throttle", action="store_true", help="disable throttling")
    s.add_argument(
        "--tenants",
        type=int,
        default=1,
        metavar="N",
        help="serve N tenants built from --seed (the default one + N-1 at tenant<K>.onmicrosoft.com)",
    )
    s.add_argument(
        "--replication-lag",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="replication lag: new, restored and re-membered objects read as absent/stale for SECONDS",
    )
    c = sub.add_parser("ca", help="print the CA certificate path (creating it if needed)")
    c.add_argument("--ca-dir", default=None)
    args = p.parse_args(argv)
    if args.cmd == "ca":
        print(ensure_tls(args.ca_dir).ca_file)
        return 0
    from m365sim.server import bind, make_server
    from m365sim.simulator import Simulator
    from m365sim.state import Settings

    try:
        Settings().update({"replication_lag_seconds": args.replication_lag})
    except ValueError as problem:
        p.error(f"--replication-lag: {problem}")

    sim = Simulator(seed=args.seed, users=args.users, groups=args.groups, state_file=args.state)
    sim.latency_ms, sim.latency_jitter_ms = args.latency_ms, args.jitter_ms
    sim.settings.throttling_enabled = not args.no_throttle
    sim.settings.update({"replication_lag_seconds": args.replication_lag})
    for _ in range(args.tenants - 1):
        sim.add_tenant(args.seed, args.users, args.groups)
    tls = ensure_tls(args.ca_dir)
    sock = bind(args.host, args.port)
    server = make_server(sim, sock, tls)
    base = sim.base_url
    print(f"m365sim: tenant {sim.tenant.id} ({sim.tenant.display_name}, seed {args.seed})", flush=True)
    print(f"  login base URL : {base}   (token: {base}/{sim.tenant.id}/oauth2/v2.0/token)", flush=True)
    print(f"  graph base URL : {base}/v1.0", flush=True)
    print(f"  CA certificate : {tls.ca_file}", flush=True)
    print(f"  demo client id : {seeds.DEMO_CLIENT_ID}", flush=True)
    print(f"  demo secret    : {seeds.DEMO_CLIENT_SECRET}", flush=True)
    print(f"  control API    : {base}/_sim/info", flush=True)
    for extra in list(sim.tenants.values())[1:]:
        client_id, secret = extra.client_credentials()
        print(
            f"  + tenant {extra.tenant.id} ({extra.tenant.initial_domain}) client {client_id} secret {secret}",
            flush=True,
        )
    # uvicorn shuts down on SIGTERM, then raises the signal again: with the default handler the
    # process would die there, before the state is saved. Exit through Python instead.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        server.run(sockets=[sock])
    finally:
        if args.state:
            sim.save()
    return 0


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    sys.exit(main())

"""User Portal sign-in, against Lockstep running as a real server (`lockstep run`).

(a) Sign-ins per second and their p95 at 10 and 50 concurrent clients. Each client signs in as
    its own active user, again and again: GET /portal/login/ (CSRF cookie and token), then POST
    `login`, `password`, `organization`, `csrfmiddlewaretoken`; a 302 to /portal/ is a success.
    The Argon2 cost (Django's Argon2PasswordHasher) is stated, since it is most of the time.
(b) Sign-in to password applied in Microsoft 365: users bound to a directory on m365sim's demo
    tenant, password takeover on, synced before the clock starts; each signs in once, then
    m365sim's `POST /_sim/password-check` is polled until the password is current. p50 and p95
    (goal: p50 under 1 s).

    .venv/bin/python bench/bench_portal_login.py [--clients 10 50] [--seconds 20] [--latency-users 20]
    .venv/bin/python bench/bench_portal_login.py --small     # a quick check that it still works

The server runs in its own process on a fresh SQLite file (or `--database-url`); the clients
are threads of this process, so on a small machine they compete with the server for the CPU.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).parent))
from lockstep_env import connect_directory, machine, organization_and_actor, setup_django, today

ROOT = Path(__file__).resolve().parents[1]
LOCKSTEP = str(Path(sys.executable).with_name("lockstep"))
LOGIN_PATH = "/portal/login/"
HOME_PATH = "/portal/"
CSRF_FIELD = re.compile(
    r'name="csrfmiddlewaretoken"\s+value="([^"]+)"|value="([^"]+)"\s+name="csrfmiddlewaretoken"'
)
PASSWORD = "Quiet-Harbor-{:04d}-Kestrel-7"


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="User Portal sign-in benchmarks")
    parser.add_argument("--clients", type=int, nargs="+", default=[10, 50], help="concurrent clients")
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of each throughput run")
    parser.add_argument("--latency-users", type=int, default=20, help="users for sign-in -> password applied")
    parser.add_argument("--database-url", default="", help="PostgreSQL URL (default: a fresh SQLite file)")
    parser.add_argument("--small", action="store_true", help="2 and 4 clients, 3 s, 3 users: a quick check")
    parser.add_argument("--out", help="results file (default: bench/RESULTS-portal.md; none with --small)")
    args = parser.parse_args(argv)
    if args.small:
        args.clients, args.seconds, args.latency_users = [2, 4], 3.0, 3
    if args.out is None and not args.small:
        args.out = str(Path(__file__).parent / "RESULTS-portal.md")
    if any(c < 1 for c in args.clients) or args.seconds <= 0 or args.latency_users < 1:
        parser.error("--clients, --seconds and --latency-users must be positive")
    return args


def csrf_token(html: str) -> str:
    match = CSRF_FIELD.search(html)
    if match is None:
        raise RuntimeError(f"no csrfmiddlewaretoken on {LOGIN_PATH}: is the User Portal there?")
    return match.group(1) or match.group(2)


def argon2_parameters() -> str:
    from django.contrib.auth.hashers import Argon2PasswordHasher

    h = Argon2PasswordHasher
    return f"Argon2id, time_cost {h.time_cost}, memory_cost {h.memory_cost} KiB, parallelism {h.parallelism}"


# --- the server ----------------------------------------------------------------------------


class Server:
    """`lockstep run` on the bench's data dir (same database and encryption keys)."""

    def __init__(self, data_dir: Path, database_url: str, ca_file: str | None) -> None:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        sources = [str(ROOT / "src"), str(ROOT / "m365sim" / "src"), os.environ.get("PYTHONPATH", "")]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCKSTEP_", "DJANGO_"))}
        env.update(
            LOCKSTEP_DATA_DIR=str(data_dir),
            LOCKSTEP_DATABASE_URL=database_url,
            LOCKSTEP_SECURE_COOKIES="false",  # plain http on loopback
            LOCKSTEP_TRUSTED_PROXIES="127.0.0.1",  # each client says its own address (client_address)
            LOCKSTEP_LOG_LEVEL="WARNING",
            PYTHONPATH=os.pathsep.join(filter(None, sources)),
            PYTHONUNBUFFERED="1",
        )
        if ca_file:
            env["LOCKSTEP_TRUSTED_CA_FILE"] = ca_file
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = open(data_dir / "server.log", "w+b")  # noqa: SIM115 - closed in stop()
        command = [LOCKSTEP, "run", "--no-migrate", "--listen", f"127.0.0.1:{self.port}"]
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_until_up(self, timeout: float = 60) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"lockstep run exited {self.process.returncode}:\n{self.output()}")
            try:
                httpx.get(self.base_url + "/", timeout=2)
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError(f"lockstep run did not answer within {timeout} s:\n{self.output()}")

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")[-3000:]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


# --- signing in ----------------------------------------------------------------------------


def sign_in(client: Any, organization: str, login: str, password: str) -> tuple[bool, int]:
    """One full sign-in on a fresh session; (success, final status)."""
    client.cookies.clear()
    page = client.get(LOGIN_PATH, params={"org": organization})
    if page.status_code != 200:
        return False, page.status_code
    answer = client.post(
        LOGIN_PATH,
        data={
            "login": login,
            "password": password,
            "organization": organization,
            "csrfmiddlewaretoken": csrf_token(page.text),
        },
    )
    location = urlsplit(answer.headers.get("location", "")).path
    return answer.status_code == 302 and location == HOME_PATH, answer.status_code


@dataclass
class Throughput:
    clients: int
    seconds: float
    durations: list[float] = field(default_factory=list)
    failures: dict[int, int] = field(default_factory=dict)  # status -> count

    @property
    def rate(self) -> float:
        return len(self.durations) / self.seconds


def client_address(index: int) -> str:
    """Each client signs in from its own address, as real people behind a proxy would (so the
    per-address throttle sees 50 people, not one attacker)."""
    return f"10.{index // 62500 % 250}.{index // 250 % 250}.{index % 250 + 1}"


def throughput(
    base_url: str, organization: str, accounts: list[tuple[str, str]], clients: int, seconds: float
) -> Throughput:
    import httpx

    result = Throughput(clients=clients, seconds=seconds)
    lock = threading.Lock()
    start = time.monotonic()
    stop_at = start + seconds

    def client_loop(index: int) -> None:
        login, password = accounts[index % len(accounts)]
        headers = {"X-Forwarded-For": client_address(index)}
        with httpx.Client(base_url=base_url, timeout=60, headers=headers) as client:
            while time.monotonic() < stop_at:
                began = time.monotonic()
                ok, status = sign_in(client, organization, login, password)
                took = time.monotonic() - began
                with lock:
                    if ok:
                        result.durations.append(took)
                    else:
                        result.failures[status] = result.failures.get(status, 0) + 1

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.monotonic() - start  # the last sign-ins finish after stop_at
    return result


def apply_latency(
    base_url: str, organization: str, sim: Any, people: list[tuple[str, str]]
) -> tuple[list[float], int]:
    """Seconds from the start of each sign-in to m365sim holding the password; and how many
    passwords were already current before the sign-in (those are not samples)."""
    import httpx

    samples: list[float] = []
    already = 0
    with httpx.Client(base_url=base_url, timeout=60, headers={"X-Forwarded-For": "10.9.9.9"}) as client:
        for upn, password in people:
            if sim.password_is_current(upn, password):
                already += 1
                continue
            began = time.monotonic()
            ok, status = sign_in(client, organization, upn, password)
            if not ok:
                raise RuntimeError(f"sign-in of {upn} failed with HTTP {status}")
            while not sim.password_is_current(upn, password):
                if time.monotonic() - began > 60:
                    raise RuntimeError(f"the password of {upn} was not applied within 60 s")
                time.sleep(0.01)
            samples.append(time.monotonic() - began)
            time.sleep(0.2)  # an idle queue between samples
    return samples, already


# --- set-up and report ---------------------------------------------------------------------


def create_people(actor: Any, prefix: str, count: int) -> list[tuple[str, str]]:
    from lockstep.directory.models import UserState
    from lockstep.directory.services import users

    people = []
    for i in range(count):
        password = PASSWORD.format(len(prefix) * 1000 + i)
        email = f"{prefix}{i}@contoso.com"
        fields = {"username": f"{prefix}{i}", "email": email, "first_name": "Ada", "last_name": f"Byron {i}"}
        users.create_user(actor=actor, fields=fields, state=UserState.ACTIVE, initial_password=password)
        people.append((email, password))
    return people


def wait_until_synced(count: int, timeout: float = 120) -> None:
    from lockstep.m365.models import SyncStatus, UserBinding

    deadline = time.monotonic() + timeout
    while UserBinding.objects.filter(status=SyncStatus.SYNCED).count() < count:
        if time.monotonic() > deadline:
            raise RuntimeError("the bound users were not synced to m365sim in time")
        time.sleep(0.2)


def report(args: argparse.Namespace, runs: list[Throughput], latency: list[float], already: int) -> str:
    lines = [
        "# User Portal sign-in\n",
        f"`bench/bench_portal_login.py{' --small' if args.small else ''}` on {today()}, {machine()}; "
        f"`lockstep run` on {'PostgreSQL' if args.database_url else 'SQLite'}, clients are threads "
        f"of the bench process on the same machine, each with its own address (X-Forwarded-For "
        "through a trusted proxy) and its own user.\n",
        f"Password hashing: {argon2_parameters()}.\n",
        "| concurrent clients | sign-ins/s | p50 | p95 | failed |",
        "|---|---|---|---|---|",
    ]
    for run in runs:
        p50 = percentile(run.durations, 50) * 1000 if run.durations else float("nan")
        p95 = percentile(run.durations, 95) * 1000 if run.durations else float("nan")
        failed = ", ".join(f"{n} x HTTP {s}" for s, n in sorted(run.failures.items())) or "0"
        lines.append(f"| {run.clients} | {run.rate:.1f} | {p50:.0f} ms | {p95:.0f} ms | {failed} |")
    lines += ["", "| sign-in -> password applied in m365sim | result | goal |", "|---|---|---|"]
    if latency:
        lines.append(f"| p50 ({len(latency)} users) | {percentile(latency, 50) * 1000:.0f} ms | < 1 s |")
        lines.append(f"| p95 | {percentile(latency, 95) * 1000:.0f} ms | |")
    if already:
        lines.append(f"| already current before the sign-in (not measured) | {already} users | 0 |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data_dir = setup_django(args.database_url)
    from lockstep.m365.models import PendingPassword
    from lockstep.m365.services.bindings import bind_user
    from m365sim.testing import SimServer

    organization, actor = organization_and_actor()
    if not organization.password_takeover:
        type(organization).objects.filter(pk=organization.pk).update(password_takeover=True)
    accounts = create_people(actor, "pl", max(args.clients))
    with SimServer(seed="demo", throttling=False) as sim:
        directory = connect_directory(actor, sim)
        people = create_people(actor, "lat", args.latency_users)
        server = Server(data_dir, args.database_url, sim.ca_file)
        try:
            server.wait_until_up()
            runs = [
                throughput(server.base_url, organization.slug, accounts, n, args.seconds)
                for n in args.clients
            ]
            # Their passwords were set long ago: the holds from creation are over, so only the
            # sign-in sends them (SPEC 3, takeover on), which is what this part measures.
            PendingPassword.objects.filter(user_id__in=[_user_id(upn) for upn, _ in people]).delete()
            for upn, _ in people:
                bind_user(actor=actor, user_id=_user_id(upn), directory_id=directory.pk)
            wait_until_synced(len(people))
            latency, already = apply_latency(server.base_url, organization.slug, sim, people)
        except Exception:
            print(server.output(), file=sys.stderr)
            raise
        finally:
            server.stop()
    text = report(args, runs, latency, already)
    if args.out:
        Path(args.out).write_text(text)
    print(text)
    if not all(run.durations for run in runs):
        print("FAILED: a run had no successful sign-in (see the failed column).", file=sys.stderr)
        return 1
    if not latency:
        print(
            "FAILED: no sign-in -> password applied sample (was every password current already?).",
            file=sys.stderr,
        )
        return 1
    return 0


def _user_id(email: str) -> int:
    from lockstep.directory.models import User

    return int(User.objects.values_list("pk", flat=True).get(email=email))


if __name__ == "__main__":
    sys.exit(main())

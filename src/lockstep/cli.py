"""The `lockstep` command: run, migrate, createadmin, worker, check, settings-table, permissions-table, demo, m365."""

from __future__ import annotations

import argparse
import getpass
import importlib.util
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, TypeVar

if TYPE_CHECKING:
    from lockstep.directory.models import Administrator, Organization

T = TypeVar("T")

DEFAULT_ADMIN_EMAIL = "admin@example.com"
DEFAULT_ORGANIZATION = "My Organization"
DEMO_ORGANIZATION = "Demo Organization"
DEMO_DATA_DIR = "./var/demo"
M365SIM_PORT = 8443


class CommandFailed(Exception):
    """A clear, user-facing reason the command could not do its work (exit status 1)."""


def out(text: str = "", stream: TextIO | None = None) -> None:
    print(text, file=stream or sys.stdout, flush=True)


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lockstep.settings")
    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
    except (ValueError, ImproperlyConfigured) as problem:  # a LOCKSTEP_* value that does not parse
        raise CommandFailed(f"error: configuration: {problem}") from None


def progress(iterable: Iterable[T], *, total: int | None = None, description: str = "") -> Iterable[T]:
    """A tqdm progress bar on a terminal; the plain iterable otherwise (logs, CI)."""
    if not sys.stderr.isatty():
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=description, unit="item", leave=False)


# --- migrate -------------------------------------------------------------------------------


def migrate(verbosity: int = 1) -> int:
    """Apply migrations; return how many were applied."""
    from django.core.management import call_command

    from lockstep.ops.readiness import unapplied_migrations

    pending = unapplied_migrations()
    if pending:
        call_command("migrate", interactive=False, verbosity=verbosity)
    return len(pending)


def cmd_migrate(args: argparse.Namespace) -> int:
    setup_django()
    applied = migrate(verbosity=1 if args.verbose else 0)
    out(f"Database is up to date ({applied} migration{'s' if applied != 1 else ''} applied now).")
    return 0


# --- administrators ------------------------------------------------------------------------


def format_service_error(error: Exception) -> str:
    from lockstep.directory.errors import Conflict, ValidationFailed

    if isinstance(error, ValidationFailed):
        return "\n".join(
            f"error: {field}: {message}" for field, messages in error.errors.items() for message in messages
        )
    if isinstance(error, Conflict):
        return f"error: {error.field}: {error.message}"
    return f"error: {error}"


def find_or_create_organization(name: str) -> tuple[Organization, bool]:
    from django.db.models import Q
    from django.utils.text import slugify

    from lockstep.directory.models import Organization
    from lockstep.directory.services import organizations

    existing = Organization.objects.filter(Q(name__iexact=name.strip()) | Q(slug=slugify(name))).first()
    if existing is not None:
        return existing, False
    return organizations.create_organization(name=name), True


def bootstrap_first_admin(*, email: str, organization_name: str) -> tuple[Administrator, str] | None:
    """On a database with no administrator: create the organization and an owner with a one-time password."""
    from django.db import transaction

    from lockstep.directory.models import Administrator, AdminRole
    from lockstep.directory.services import admins

    if Administrator.objects.exists():
        return None
    from lockstep.directory.errors import ServiceError

    password = admins.generate_one_time_password()
    try:
        with transaction.atomic():
            organization, _created = find_or_create_organization(organization_name)
            admin = admins.create_admin(
                organization=organization,
                email=email,
                password=password,
                role=AdminRole.OWNER,
                must_change_password=True,
            )
    except ServiceError as error:
        raise CommandFailed(
            format_service_error(error).replace("error: email:", "error: --admin-email:")
        ) from None
    return admin, password


def read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise CommandFailed("error: password: nothing was read from standard input (--password-stdin).")
        return password
    if not sys.stdin.isatty():
        raise CommandFailed(
            "error: password: no terminal to prompt on; pass it on standard input with --password-stdin."
        )
    first = getpass.getpass("Password: ")
    second = getpass.getpass("Password (again): ")
    if first != second:
        raise CommandFailed("error: password: the two passwords differ.")
    return first


def ask(value: str | None, prompt: str, flag: str) -> str:
    if value:
        return value
    if not sys.stdin.isatty():
        raise CommandFailed(f"error: {flag.lstrip('-')}: required; pass {flag}.")
    answer = input(f"{prompt}: ").strip()
    if not answer:
        raise CommandFailed(f"error: {flag.lstrip('-')}: required.")
    return answer


def cmd_createadmin(args: argparse.Namespace) -> int:
    setup_django()
    from lockstep.directory.models import AdminRole

    email = ask(args.email, "Email", "--email")
    organization_name = ask(args.organization, "Organization", "--organization")
    if args.role not in AdminRole.values:
        raise CommandFailed(
            f"error: role: must be one of: {', '.join(AdminRole.values)} (got {args.role!r})."
        )
    password = read_password(args)

    from django.db import transaction

    from lockstep.directory.errors import ServiceError
    from lockstep.directory.services import admins

    require_migrated()
    try:
        with transaction.atomic():
            organization, created = find_or_create_organization(organization_name)
            admin = admins.create_admin(
                organization=organization,
                email=email,
                password=password,
                role=args.role,
                name=args.name or "",
            )
    except ServiceError as error:
        raise CommandFailed(format_service_error(error)) from None
    org_name = organization.name
    if created:
        out(f"Created organization {org_name!r}.")
    out(f"Created {admin.role} {admin.email} in {org_name!r}.")
    return 0


def require_migrated() -> None:
    from lockstep.ops.readiness import database_reachable, unapplied_migrations

    problem = database_reachable()
    if problem:
        raise CommandFailed(f"error: database: {problem} (check LOCKSTEP_DATABASE_URL).")
    pending = unapplied_migrations()
    if pending:
        raise CommandFailed(
            f"error: database: {len(pending)} migrations are not applied; run `lockstep migrate`."
        )


# --- check, settings-table -----------------------------------------------------------------


def cmd_check(args: argparse.Namespace) -> int:
    setup_django()
    from lockstep.ops.checks import FAIL, run_checks

    results = run_checks()
    for result in results:
        out(result.line())
    failures = [r for r in results if r.status == FAIL]
    out(
        f"{len(failures)} check{'s' if len(failures) != 1 else ''} failed."
        if failures
        else "All checks passed."
    )
    return 1 if failures else 0


def cmd_settings_table(args: argparse.Namespace) -> int:
    """The README's settings table (`lockstep.config.settings_markdown`), for pasting."""
    from lockstep.config import settings_markdown

    out(settings_markdown())
    return 0


def cmd_permissions_table(args: argparse.Namespace) -> int:
    """docs/m365-setup.md §3's permission table (`lockstep.m365.permissions`), for pasting."""
    from lockstep.m365.permissions import permissions_table

    out(permissions_table().rstrip("\n"))
    return 0


# --- worker --------------------------------------------------------------------------------


def cmd_worker(args: argparse.Namespace) -> int:
    setup_django()
    require_migrated()
    from lockstep.ops.worker import LockstepWorker

    worker = LockstepWorker(
        worker_id=args.worker_id,
        queue_names=args.queue.split(","),
        interval=args.interval,
        batch=args.batch,
        max_tasks=args.max_tasks,
        startup_delay=not args.batch,
        stale_after=timedelta(seconds=args.stale_after),
    )
    worker.configure_signals()
    out(f"Worker {worker.worker_id} started (queues: {args.queue}). Stop with Ctrl+C or SIGTERM.")
    try:
        worker.serve()
    except SystemExit as leaving:  # django-tasks-db's signal handler exits this way
        return int(leaving.code or 0)
    return 0


# --- run, demo -----------------------------------------------------------------------------


def login_url(host: str, port: int) -> str:
    from django.urls import NoReverseMatch, reverse

    shown = "127.0.0.1" if host in ("0.0.0.0", "") else (f"[{host}]" if ":" in host else host)
    try:
        path = reverse("console:login")
    except (NoReverseMatch, ImportError, AttributeError):
        path = "/"
    return f"http://{shown}:{port}{path}"


Bootstrap = Callable[[], "tuple[Administrator, str] | None"]


def first_run_message(bootstrap: Bootstrap) -> Callable[[str, int], None]:
    """Once the server listens: create the first admin if there is none, print the URL and how to log in.

    The admin is created only after the address is bound, so a one-time password is never
    created without being shown.
    """
    from lockstep.directory.models import Administrator, AdminRole

    def announce(host: str, port: int) -> None:
        url = login_url(host, port)
        base = url.split("/", 3)
        root = f"{base[0]}//{base[2]}/"
        created = bootstrap()
        if created is not None:
            admin, password = created
            out(f"Lockstep is running at {root} — log in at {url} as {admin.email} with password {password}")
            out(
                "This one-time password is shown only now and is not stored anywhere; you will be asked to change it."
            )
        else:
            owner = Administrator.objects.filter(role=AdminRole.OWNER).order_by("pk").first()
            who = f" as {owner.email}" if owner else ""
            out(f"Lockstep is running at {root} — log in at {url}{who} with your password.")
            out(
                "The administrator already exists; to add one (or to get in again), use `lockstep createadmin`."
            )
        out("Stop with Ctrl+C.")

    return announce


def serve_forever(*, listen: str, bootstrap: Bootstrap) -> int:
    from django.conf import settings

    from lockstep.config import env, env_bool
    from lockstep.ops.server import ListenError, serve

    del settings  # settings are loaded; the server reads them through the WSGI app
    try:
        threads = int(env("LOCKSTEP_WEB_THREADS"))
        if threads < 1:
            raise ValueError
    except ValueError:
        raise CommandFailed("error: LOCKSTEP_WEB_THREADS: must be a whole number of at least 1.") from None
    try:
        embedded = env_bool("LOCKSTEP_EMBEDDED_WORKER")
    except ValueError as problem:
        raise CommandFailed(f"error: LOCKSTEP_EMBEDDED_WORKER: {problem}") from None
    try:
        return serve(
            listen=listen, threads=threads, embedded_worker=embedded, on_ready=first_run_message(bootstrap)
        )
    except ListenError as problem:
        raise CommandFailed(
            f"error: listen: {problem}; choose another with --listen or LOCKSTEP_LISTEN."
        ) from None


def cmd_run(args: argparse.Namespace) -> int:
    setup_django()
    from lockstep.config import env

    if args.no_migrate:
        require_migrated()  # several web processes: `lockstep migrate` runs once, before them
    else:
        applied = migrate(verbosity=0)
        if applied:
            out(f"Applied {applied} database migrations.")
    return serve_forever(
        listen=args.listen or env("LOCKSTEP_LISTEN"),
        bootstrap=lambda: bootstrap_first_admin(email=args.admin_email, organization_name=args.organization),
    )


def m365sim_available() -> bool:
    try:
        return importlib.util.find_spec("m365sim.cli") is not None
    except ModuleNotFoundError:
        return False


def start_m365sim(
    data_dir: Path, *, port: int = M365SIM_PORT, wait_seconds: float = 10.0
) -> subprocess.Popen[bytes] | None:
    """m365sim's demo tenant in a subprocess, when the package and its CLI are installed.

    Its CA goes to `<data dir>/m365sim/` (which `demo` makes Lockstep trust), its state to
    `<data dir>/m365sim.json`, its output to `<data dir>/m365sim.log`; the connection details it
    prints are shown on the terminal.
    """
    if not m365sim_available():
        out("m365sim is not installed: the demo runs without a local Microsoft 365 tenant.")
        return None
    log_path = data_dir / "m365sim.log"
    log_path.write_bytes(b"")
    command = [
        sys.executable, "-m", "m365sim.cli", "serve", "--seed", "demo", "--port", str(port),
        "--state", str(data_dir / "m365sim.json"), "--ca-dir", str(data_dir / "m365sim"),
    ]  # fmt: skip
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline and process.poll() is None:
        if "control API" in log_path.read_text(errors="replace"):
            break
        time.sleep(0.1)
    if process.poll() is not None:
        out(f"m365sim did not start (exit {process.returncode}); see {log_path}. Continuing without it.")
        return None
    details = log_path.read_text(errors="replace").strip()
    out(details or f"m365sim is starting on https://127.0.0.1:{port}/ (log: {log_path})")
    return process


DEMO_DIRECTORY = "Contoso (m365sim demo tenant)"


def connect_demo_directory(*, port: int) -> None:
    """Connect the demo organization to m365sim's demo tenant once, and verify it."""
    from lockstep.directory.actors import Actor
    from lockstep.directory.errors import ServiceError
    from lockstep.directory.models import Organization
    from lockstep.m365.models import Directory
    from lockstep.m365.services import directories

    # Imported by name: a plain import would make mypy resolve the repo's m365sim/ folder.
    seeds = importlib.import_module("m365sim.seeds")

    organization = Organization.objects.filter(name=DEMO_ORGANIZATION).first()
    if organization is None or Directory.objects.filter(organization=organization).exists():
        return
    base = f"https://127.0.0.1:{port}"
    try:
        directory, _ = directories.add_directory(
            actor=Actor.system(organization.pk, "lockstep demo"),
            fields={
                "name": DEMO_DIRECTORY,
                "tenant_id": seeds.DEMO_TENANT_ID,
                "client_id": seeds.DEMO_CLIENT_ID,
                "credential_kind": "secret",
                "client_secret": seeds.DEMO_CLIENT_SECRET,
                "cloud": "custom",
                "login_base_url": base,
                "graph_base_url": f"{base}/v1.0",
            },
        )
    except ServiceError as problem:
        out(f"Could not connect the demo directory: {problem}")
        return
    out(f"Connected the demo organization to m365sim's demo tenant: {directory.name} ({directory.health}).")


def demo_exports(data_dir: Path, *, with_ca: bool) -> str:
    """The `export` line that points another shell's `lockstep` at this demo's database."""
    names = ["LOCKSTEP_DATA_DIR"] + (["LOCKSTEP_TRUSTED_CA_FILE"] if with_ca else [])
    if os.environ.get("LOCKSTEP_DATABASE_URL"):
        names.append("LOCKSTEP_DATABASE_URL")
    values = {"LOCKSTEP_DATA_DIR": str(data_dir.resolve())}
    values.update({name: os.environ[name] for name in names if name in os.environ and name not in values})
    return "export " + " ".join(f"{name}={shlex.quote(values[name])}" for name in names if name in values)


def cmd_demo(args: argparse.Namespace) -> int:
    os.environ.setdefault("LOCKSTEP_DATA_DIR", args.data_dir)
    if not args.no_m365sim and m365sim_available():
        # Lockstep trusts the CA m365sim generates into the demo folder (start_m365sim's --ca-dir).
        ca_file = Path(os.environ["LOCKSTEP_DATA_DIR"]).resolve() / "m365sim" / "ca.pem"
        os.environ.setdefault("LOCKSTEP_TRUSTED_CA_FILE", str(ca_file))
    setup_django()
    from django.conf import settings

    from lockstep.config import env

    data_dir = Path(settings.DATA_DIR)
    out(f"Demo data folder: {data_dir}")
    applied = migrate(verbosity=0)
    if applied:
        out(f"Applied {applied} database migrations.")
    simulator = start_m365sim(data_dir, port=args.m365sim_port) if not args.no_m365sim else None
    out("To use the command line against this demo, in another terminal:")
    out(f"  {demo_exports(data_dir, with_ca=simulator is not None)}")
    out("  .venv/bin/lockstep m365 status")

    def bootstrap() -> tuple[Administrator, str] | None:
        created = bootstrap_first_admin(email=args.admin_email, organization_name=DEMO_ORGANIZATION)
        if simulator is not None:
            connect_demo_directory(port=args.m365sim_port)
        return created

    try:
        return serve_forever(listen=args.listen or env("LOCKSTEP_LISTEN"), bootstrap=bootstrap)
    finally:
        if simulator is not None:
            simulator.terminate()
            try:
                simulator.wait(timeout=5)
            except subprocess.TimeoutExpired:
                simulator.kill()


# --- parser --------------------------------------------------------------------------------


def positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise argparse.ArgumentTypeError("must be greater than zero")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lockstep", description="Lockstep: a cloud directory for Microsoft 365."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="migrate, then serve the web app with an embedded worker")
    run.add_argument("--listen", help="host:port (default: LOCKSTEP_LISTEN)")
    run.add_argument(
        "--admin-email", default=DEFAULT_ADMIN_EMAIL, help="first owner's email, on first run only"
    )
    run.add_argument(
        "--organization", default=DEFAULT_ORGANIZATION, help="first organization's name, on first run only"
    )
    run.add_argument(
        "--no-migrate",
        action="store_true",
        help="refuse to start on an unmigrated database instead of migrating",
    )
    run.set_defaults(handler=cmd_run)

    demo = commands.add_parser("demo", help="what `make run` does: a demo data folder, m365sim, then run")
    demo.add_argument("--data-dir", default=DEMO_DATA_DIR, help="used unless LOCKSTEP_DATA_DIR is set")
    demo.add_argument("--listen", help="host:port (default: LOCKSTEP_LISTEN)")
    demo.add_argument("--admin-email", default=DEFAULT_ADMIN_EMAIL)
    demo.add_argument("--no-m365sim", action="store_true", help="do not start the local Microsoft 365 tenant")
    demo.add_argument("--m365sim-port", type=positive_int, default=M365SIM_PORT, help="HTTPS port of m365sim")
    demo.set_defaults(handler=cmd_demo)

    mig = commands.add_parser("migrate", help="create or upgrade the database tables")
    mig.add_argument("-v", "--verbose", action="store_true")
    mig.set_defaults(handler=cmd_migrate)

    create = commands.add_parser("createadmin", help="create an administrator (and its organization if new)")
    create.add_argument("--email")
    create.add_argument("--organization", help="organization name or slug; created when it does not exist")
    create.add_argument("--role", default="owner", help="owner, administrator or read_only (default: owner)")
    create.add_argument("--name", help="display name")
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from the first line of stdin"
    )
    create.set_defaults(handler=cmd_createadmin)

    worker = commands.add_parser("worker", help="run a background worker (several may run at once)")
    worker.add_argument("--queue", default="*", help="comma-separated queue names, or * for all (default)")
    worker.add_argument("--interval", type=float, default=1.0, help="seconds between polls when idle")
    worker.add_argument("--batch", action="store_true", help="run the tasks that are ready, then exit")
    worker.add_argument("--max-tasks", type=positive_int, help="exit after this many tasks")
    worker.add_argument("--worker-id", help="unique id (default: host-pid-random)")
    worker.add_argument(
        "--stale-after",
        type=float,
        default=120.0,
        help="seconds without a heartbeat after which another worker's RUNNING tasks are re-queued (default 120)",
    )
    worker.set_defaults(handler=cmd_worker)

    check = commands.add_parser("check", help="check the configuration; exit 1 on any FAIL")
    check.set_defaults(handler=cmd_check)

    table = commands.add_parser("settings-table", help="print every LOCKSTEP_* setting as a markdown table")
    table.set_defaults(handler=cmd_settings_table)

    permissions = commands.add_parser(
        "permissions-table", help="print every Graph call and the permission it needs as a markdown table"
    )
    permissions.set_defaults(handler=cmd_permissions_table)

    from lockstep.m365 import cli as m365_cli  # Django is set up only when an m365 command runs

    m365_cli.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except CommandFailed as failure:
        out(str(failure), sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""`lockstep run`, `worker`, `check`, `settings-table` and `permissions-table`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from lockstep.commands.admin import bootstrap_first_admin, migrate
from lockstep.commands.common import CommandFailed, out, require_migrated, setup_django

if TYPE_CHECKING:
    from lockstep.directory.models import Administrator


def cmd_check(args: argparse.Namespace) -> int:
    """Inspect the database and data dir `run` would use (same settings), creating nothing."""
    from lockstep import config

    config.inspect_only()
    setup_django()
    from django.db import connections

    from lockstep.ops.checks import FAIL, run_checks

    try:
        results = run_checks()
    finally:
        connections.close_all()
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
        out(f"Your users sign in to the User Portal at {root}portal/")
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

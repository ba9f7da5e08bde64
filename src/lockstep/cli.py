"""The `lockstep` command: run, migrate, createadmin, worker, check, settings-table, permissions-table, demo, m365, sso.

The commands live in `lockstep.commands` (and `lockstep.m365.cli`, `lockstep.commands.sso`); this module builds the parser
and maps a `CommandFailed` to exit status 1. Django is set up only when a command runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lockstep.commands import admin, demo, demo_mail, serve, sso
from lockstep.commands.common import CommandFailed, out, positive_int
from lockstep.m365 import cli as m365_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lockstep", description="Lockstep: a cloud directory for Microsoft 365."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="migrate, then serve the web app with an embedded worker")
    run.add_argument("--listen", help="host:port (default: LOCKSTEP_LISTEN)")
    run.add_argument(
        "--admin-email", default=admin.DEFAULT_ADMIN_EMAIL, help="first owner's email, on first run only"
    )
    run.add_argument(
        "--organization",
        default=admin.DEFAULT_ORGANIZATION,
        help="first organization's name, on first run only",
    )
    run.add_argument(
        "--no-migrate",
        action="store_true",
        help="refuse to start on an unmigrated database instead of migrating",
    )
    run.set_defaults(handler=serve.cmd_run)

    demo_parser = commands.add_parser(
        "demo", help="what `make run` does: a demo data folder, m365sim, then run"
    )
    demo_parser.add_argument(
        "--data-dir", default=demo.DEMO_DATA_DIR, help="used unless LOCKSTEP_DATA_DIR is set"
    )
    demo_parser.add_argument("--listen", help="host:port (default: LOCKSTEP_LISTEN)")
    demo_parser.add_argument("--admin-email", default=admin.DEFAULT_ADMIN_EMAIL)
    demo_parser.add_argument(
        "--no-m365sim", action="store_true", help="do not start the local Microsoft 365 tenant"
    )
    demo_parser.add_argument(
        "--m365sim-port", type=positive_int, default=demo.M365SIM_PORT, help="HTTPS port of m365sim"
    )
    demo_parser.add_argument(
        "--mail-port",
        type=positive_int,
        default=demo_mail.DEMO_MAIL_PORT,
        help="SMTP port of the demo mailbox (emails saved as .eml files; not started when LOCKSTEP_EMAIL_HOST is set)",
    )
    demo_parser.set_defaults(handler=demo.cmd_demo)

    mig = commands.add_parser("migrate", help="create or upgrade the database tables")
    mig.add_argument("-v", "--verbose", action="store_true")
    mig.set_defaults(handler=admin.cmd_migrate)

    create = commands.add_parser("createadmin", help="create an administrator (and its organization if new)")
    create.add_argument("--email")
    create.add_argument("--organization", help="organization name or slug; created when it does not exist")
    create.add_argument("--role", default="owner", help="owner, administrator or read_only (default: owner)")
    create.add_argument("--name", help="display name")
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from the first line of stdin"
    )
    create.set_defaults(handler=admin.cmd_createadmin)

    worker_parser = commands.add_parser("worker", help="run a background worker (several may run at once)")
    worker_parser.add_argument(
        "--queue", default="*", help="comma-separated queue names, or * for all (default)"
    )
    worker_parser.add_argument("--interval", type=float, default=1.0, help="seconds between polls when idle")
    worker_parser.add_argument("--batch", action="store_true", help="run the tasks that are ready, then exit")
    worker_parser.add_argument("--max-tasks", type=positive_int, help="exit after this many tasks")
    worker_parser.add_argument("--worker-id", help="unique id (default: host-pid-random)")
    worker_parser.add_argument(
        "--stale-after",
        type=float,
        default=120.0,
        help="seconds without a heartbeat after which another worker's RUNNING tasks are re-queued (default 120)",
    )
    worker_parser.set_defaults(handler=serve.cmd_worker)

    check = commands.add_parser("check", help="check the configuration; exit 1 on any FAIL")
    check.set_defaults(handler=serve.cmd_check)

    table = commands.add_parser("settings-table", help="print every LOCKSTEP_* setting as a markdown table")
    table.set_defaults(handler=serve.cmd_settings_table)

    permissions = commands.add_parser(
        "permissions-table", help="print every Graph call and the permission it needs as a markdown table"
    )
    permissions.set_defaults(handler=serve.cmd_permissions_table)

    m365_cli.register(commands)
    sso.register(commands)
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

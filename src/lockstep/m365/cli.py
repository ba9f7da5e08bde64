"""`lockstep m365 verify | import | status | plan`: Microsoft 365 operations from the command line.

Directories are named by id or by name. With several organizations, `--organization` (name or
slug) says whose directory is meant. The commands act as the system actor "lockstep CLI" of
that organization, so every change has an audit row. Django is set up only when a command runs.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from lockstep.commands.common import CommandFailed, format_service_error, out, require_migrated, setup_django

if TYPE_CHECKING:
    from lockstep.directory.actors import Actor
    from lockstep.directory.models import Organization
    from lockstep.m365.models import Directory

POLL_SECONDS = 0.25


def register(subparsers: Any) -> None:
    """Add the `m365` command and its subcommands to the `lockstep` parser."""
    m365 = subparsers.add_parser("m365", help="Microsoft 365 directories: verify, import, status, plan")
    commands = m365.add_subparsers(dest="m365_command", required=True, metavar="SUBCOMMAND")

    def add(
        name: str, help_text: str, handler: Callable[[argparse.Namespace], int]
    ) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = commands.add_parser(name, help=help_text)
        parser.add_argument(
            "--organization", help="organization name or slug (needed when there are several)"
        )
        parser.set_defaults(handler=_after_setup(handler))
        return parser

    verify = add("verify", "verify a directory now: token, permissions, roles, domains", cmd_verify)
    verify.add_argument("directory", metavar="DIRECTORY", help="directory id or name")

    imp = add("import", "list a directory's users and import (take over) them", cmd_import)
    imp.add_argument("directory", metavar="DIRECTORY", help="directory id or name")
    scope = imp.add_mutually_exclusive_group()
    scope.add_argument("--all", action="store_true", help="import every listed account")
    scope.add_argument(
        "--filter", metavar="TEXT", help="import the accounts whose UPN, mail or name contains TEXT"
    )
    imp.add_argument("--state", choices=["staged", "active"], default="staged", help="state of created users")
    imp.add_argument(
        "--include-disabled", action="store_true", help="include accounts whose sign-in is blocked"
    )
    imp.add_argument("--include-unlicensed", action="store_true", help="include accounts without a licence")
    imp.add_argument(
        "--confirm-admins", action="store_true", help="also take over accounts holding admin roles"
    )

    status = add("status", "health and sync queue of one or every directory", cmd_status)
    status.add_argument(
        "directory", metavar="DIRECTORY", nargs="?", help="directory id or name (default: all)"
    )

    plan = add("plan", "the pending Microsoft 365 writes of a directory (no passwords)", cmd_plan)
    plan.add_argument("directory", metavar="DIRECTORY", help="directory id or name")
    plan.add_argument("--limit", type=int, default=1000, help="list at most this many writes (default 1000)")


# --- helpers -----------------------------------------------------------------------------------------


def _out(text: str = "", stream: TextIO | None = None) -> None:
    out(text, stream)


def _failed(message: str) -> Exception:
    return CommandFailed(message)


def _setup() -> None:
    setup_django()
    require_migrated()


def _after_setup(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Set Django up before the command runs: each command imports models in its body, which
    fails with ImproperlyConfigured outside a process where Django is already set up."""

    def run(args: argparse.Namespace) -> int:
        _setup()
        return handler(args)

    return run


def organization_for(name: str | None) -> Organization:
    from django.db.models import Q
    from django.utils.text import slugify

    from lockstep.directory.models import Organization

    if name:
        found = Organization.objects.filter(Q(name__iexact=name.strip()) | Q(slug=slugify(name))).first()
        if found is None:
            raise _failed(f"error: no organization named {name!r}.")
        return found
    organizations = list(Organization.objects.order_by("pk")[:2])
    if not organizations:
        raise _failed("error: there is no organization yet; run `lockstep createadmin` first.")
    if len(organizations) > 1:
        raise _failed("error: there are several organizations; name one with --organization.")
    return organizations[0]


def context(args: argparse.Namespace) -> tuple[Actor, Organization]:
    from lockstep.directory.actors import Actor

    _setup()
    organization = organization_for(args.organization)
    return Actor.system(organization.pk, "lockstep CLI"), organization


def directory_named(actor: Actor, ref: str) -> Directory:
    from lockstep.directory.errors import NotFound
    from lockstep.m365 import overview

    try:
        return overview.directory_for(actor, ref)
    except NotFound:
        raise _failed(f"error: no directory {ref!r} in this organization (give its id or name).") from None


def service_error(error: Exception) -> Exception:
    return _failed(format_service_error(error))


def _bar(total: int | None, description: str) -> Any:
    """A tqdm bar on a terminal; None otherwise (logs, CI)."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=description, unit="account", leave=False)


def run_with_progress(
    work: Callable[[], Any], poll: Callable[[], tuple[int, int | None, bool]], description: str
) -> Any:
    """Run `work` in a thread while a progress bar follows `poll()` -> (done, total, finished)."""
    if not sys.stderr.isatty():
        return work()  # no bar to draw: no thread either
    from django.db import connection

    outcome: dict[str, Any] = {}

    def body() -> None:
        try:
            outcome["value"] = work()
        except BaseException as problem:  # re-raised in the caller's thread
            outcome["error"] = problem
        finally:
            connection.close()

    thread = threading.Thread(target=body, name=f"lockstep-cli-{description}", daemon=True)
    thread.start()
    bar = _bar(None, description)
    try:
        while thread.is_alive():
            thread.join(POLL_SECONDS)
            if bar is not None:
                done, total, _finished = poll()
                if total is not None and bar.total != total:
                    bar.total = total
                bar.n = done
                bar.refresh()
    finally:
        if bar is not None:
            bar.close()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


# --- verify --------------------------------------------------------------------------------------------


def cmd_verify(args: argparse.Namespace) -> int:
    from lockstep.directory.errors import ServiceError
    from lockstep.m365.graph.errors import GraphError
    from lockstep.m365.models import Health
    from lockstep.m365.services import directories

    actor, _ = context(args)
    directory = directory_named(actor, args.directory)
    try:
        report = directories.verify_directory(actor=actor, directory_id=directory.pk)
    except ServiceError as error:
        raise service_error(error) from None
    except GraphError as error:
        raise _failed(f"error: {error.plain_words}") from None
    if report is None:
        raise _failed(
            f"A verification of {directory.name} is already running (started elsewhere); "
            "its result shows on the directory's page and in the API when Microsoft 365 answers."
        )
    directory.refresh_from_db()
    _out(f"Directory {directory.name} (id {directory.pk}, tenant {directory.tenant_id})")
    _out(f"  token: {'obtained' if report.token_ok else 'NOT obtained: ' + report.token_error}")
    if report.token_ok:
        if report.missing_permissions:
            for permission in report.missing_permissions:
                _out(f"  missing permission: {permission}")
        else:
            _out("  permissions: all granted")
        _out(f"  roles: {', '.join(report.roles) or 'none'}")
        for role in report.missing_roles:
            _out(f"  missing role: {role}")
    for domain in report.domains:
        notes = [
            "verified" if domain.is_verified else "UNVERIFIED",
            "federated" if domain.authentication_type == "Federated" else "managed",
        ]
        if domain.is_default:
            notes.append("default")
        if domain.is_initial:
            notes.append("initial")
        _out(f"  domain {domain.name}: {', '.join(notes)}")
    if report.is_godaddy:
        _out(f"  GoDaddy-operated tenant: {'; '.join(report.godaddy_signals)}")
    for problem in report.problems:
        _out(f"  problem: {problem}")
    _out(
        f"Health: {Health(directory.health).label}{': ' + directory.health_reason if directory.health_reason else ''}"
    )
    return 1 if directory.health == Health.RED else 0


# --- import --------------------------------------------------------------------------------------------


def cmd_import(args: argparse.Namespace) -> int:
    from lockstep.directory.errors import ServiceError
    from lockstep.m365.models import ImportBatch, ImportScan
    from lockstep.m365.services import imports

    actor, _ = context(args)
    directory = directory_named(actor, args.directory)

    def scan_progress() -> tuple[int, int | None, bool]:
        scan = ImportScan.objects.filter(directory=directory).order_by("-id").first()
        if scan is None:
            return 0, None, False
        return scan.users_seen, scan.users_total, scan.state in ("done", "failed")

    try:
        scan = run_with_progress(
            lambda: imports.scan_candidates(actor=actor, directory_id=directory.pk, wait=True),
            scan_progress,
            "listing",
        )
    except ServiceError as error:
        raise service_error(error) from None
    if scan.state != "done":
        raise _failed(f"error: listing the users of {directory.name} failed: {scan.error or scan.state}")
    _out(f"Listed {scan.users_seen} accounts of {directory.name} ({scan.admins_found} hold admin roles).")

    options: dict[str, Any] = {
        "state": args.state,
        "confirm_admins": args.confirm_admins,
        "include_unlicensed": args.include_unlicensed,
        "include_disabled": args.include_disabled,
        "filter": imports.CandidateFilter(search=args.filter or None),
    }
    try:
        preview = imports.preview_import(actor=actor, directory_id=directory.pk, limit=0, **options)
    except ServiceError as error:
        raise service_error(error) from None
    _out(
        f"Selected {preview.selected}: {preview.would_create} new Lockstep users ({args.state}), "
        f"{preview.would_bind} existing users bound, {preview.already_bound} already bound, "
        f"{len(preview.skipped)} skipped; {preview.write_count} Microsoft 365 writes (no passwords)."
    )
    for skipped in preview.skipped[:20]:
        _out(f"  skip {skipped.upn}: {skipped.reason}")
    if len(preview.skipped) > 20:
        _out(f"  ... and {len(preview.skipped) - 20} more skipped")
    if not (args.all or args.filter):
        _out("Nothing imported: pass --all, or --filter TEXT, to import.")
        return 0
    if not (preview.would_create or preview.would_bind):
        _out("Nothing to import.")
        return 0

    def batch_progress() -> tuple[int, int | None, bool]:
        batch = ImportBatch.objects.filter(directory=directory).order_by("-id").first()
        if batch is None:
            return 0, None, False
        return batch.processed, batch.requested, batch.state != "running"

    try:
        batch = run_with_progress(
            lambda: imports.start_import(actor=actor, directory_id=directory.pk, wait=True, **options),
            batch_progress,
            "importing",
        )
    except ServiceError as error:
        raise service_error(error) from None
    _out(
        f"Import batch {batch.pk} {batch.state}: {batch.created_users} users created, "
        f"{batch.bound_existing} existing users bound, {batch.skipped} skipped, {batch.failed} failed."
    )
    for problem in batch.errors[:20]:
        _out(f"  error {problem.get('upn', '')}: {problem.get('reason', '')}".rstrip())
    _out(f"It can be undone for 48 hours (Admin Portal, or POST /api/v1/imports/{batch.pk}/undo).")
    return 0 if batch.state == "done" else 1


# --- status, plan ------------------------------------------------------------------------------------


def cmd_status(args: argparse.Namespace) -> int:
    from lockstep.m365 import directory_status, overview
    from lockstep.m365.models import Directory, Health

    actor, organization = context(args)
    if args.directory:
        chosen = [directory_named(actor, args.directory)]
    else:
        chosen = list(Directory.objects.filter(organization_id=organization.pk).order_by("name"))
    if not chosen:
        _out(f"No directories in {organization.name}.")
        return 0
    down = False
    for directory in chosen:
        summary = overview.summary(directory)
        health = summary.health
        state = directory_status.state_of_directory(directory)  # what the dashboard shows
        down = down or state.level == directory_status.DOWN
        label = Health(health.health).label + ("" if health.sync_enabled else " (sync off)")
        _out(f"{directory.name} (id {directory.pk}): {label}")
        _out(f"  state: {state.label}{': ' + state.words if state.words else ''}")
        if health.health_reason:
            _out(f"  reason: {health.health_reason}")
        _out(f"  bound: {summary.users_bound} users, {summary.groups_bound} groups")
        age = overview.age_words(health.oldest_pending_age_seconds)
        _out(f"  queue depth: {health.queue_depth}; oldest pending: {age}")
        _out(f"  errors: {health.error_count}; held by the deletion brake: {health.held_count}")
        budget = health.budget_in_use
        _out(
            f"  Graph budget in use: {budget.get('resource_units', 0):.0%} of resource units, "
            f"{budget.get('writes', 0):.0%} of writes"
        )
        for row in overview.recent_errors(directory, limit=10 if args.directory else 3):
            _out(f"  error {row.kind} {row.label}: {row.message} {row.advice}".rstrip())
    return 1 if down else 0  # 1: a directory is broken or Microsoft 365 cannot be reached


def cmd_plan(args: argparse.Namespace) -> int:
    from lockstep.m365 import write_plans

    actor, _ = context(args)
    directory = directory_named(actor, args.directory)
    if args.limit < 1:
        raise _failed("error: --limit must be at least 1.")
    writes, total = write_plans.pending_writes(directory, limit=args.limit)
    _out(f"{directory.name}: {total} pending Microsoft 365 write{'s' if total != 1 else ''}.")
    for write in writes:
        _out(f"  {write.kind} {write.label}: {write.description}")
    if total > len(writes):
        _out(f"  ... and {total - len(writes)} more (use --limit)")
    return 0

"""`lockstep migrate` and `lockstep createadmin`, and the first administrator `run` creates."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING

from lockstep.commands.common import CommandFailed, format_service_error, out, require_migrated, setup_django

if TYPE_CHECKING:
    from lockstep.directory.models import Administrator, Organization

DEFAULT_ADMIN_EMAIL = "admin@example.com"
DEFAULT_ORGANIZATION = "My Organization"


def migrate(verbosity: int = 1) -> int:
    """Apply migrations; return how many were applied."""
    from django.core.management import call_command

    from lockstep.ops.readiness import database_reachable, unapplied_migrations

    problem = database_reachable()
    if problem:
        raise CommandFailed(f"error: database: {problem} (check LOCKSTEP_DATABASE_URL).")
    pending = unapplied_migrations()
    if pending:
        call_command("migrate", interactive=False, verbosity=verbosity)
    return len(pending)


def cmd_migrate(args: argparse.Namespace) -> int:
    setup_django()
    applied = migrate(verbosity=1 if args.verbose else 0)
    out(f"Database is up to date ({applied} migration{'s' if applied != 1 else ''} applied now).")
    return 0


def find_or_create_organization(name: str, *, require_admin_mfa: bool = True) -> tuple[Organization, bool]:
    """The organization of that name, or a new one; a new organization requires MFA for its
    administrators unless told otherwise (the local demo)."""
    from django.db.models import Q
    from django.utils.text import slugify

    from lockstep.directory.models import Organization
    from lockstep.directory.services import organizations

    existing = Organization.objects.filter(Q(name__iexact=name.strip()) | Q(slug=slugify(name))).first()
    if existing is not None:
        return existing, False
    created = organizations.create_organization(name=name)
    if created.require_admin_mfa != require_admin_mfa:
        created.require_admin_mfa = require_admin_mfa
        created.save(update_fields=["require_admin_mfa"])
    return created, True


def bootstrap_first_admin(
    *, email: str, organization_name: str, require_admin_mfa: bool = True
) -> tuple[Administrator, str] | None:
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
            organization, _created = find_or_create_organization(
                organization_name, require_admin_mfa=require_admin_mfa
            )
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

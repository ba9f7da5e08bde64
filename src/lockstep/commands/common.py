"""What every `lockstep` command shares: the user-facing failure, output, Django set-up."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TextIO


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


def format_service_error(error: Exception) -> str:
    from lockstep.directory.errors import Conflict, ValidationFailed

    if isinstance(error, ValidationFailed):
        return "\n".join(
            f"error: {field}: {message}" for field, messages in error.errors.items() for message in messages
        )
    if isinstance(error, Conflict):
        return f"error: {error.field}: {error.message}"
    return f"error: {error}"


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


def positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise argparse.ArgumentTypeError("must be greater than zero")
    return number

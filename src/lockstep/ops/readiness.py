"""Readiness: can this process serve? (database reachable, no unapplied migrations)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor


@dataclass(frozen=True)
class Readiness:
    ready: bool
    checks: dict[str, str]


def database_reachable(alias: str = DEFAULT_DB_ALIAS) -> str | None:
    """None when `SELECT 1` works, else the reason."""
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as problem:
        return f"database unreachable: {problem}".strip()
    return None


def unapplied_migrations(alias: str = DEFAULT_DB_ALIAS) -> list[str]:
    """`app.migration` names the code has and the database has not applied."""
    executor = MigrationExecutor(connections[alias])
    targets = executor.loader.graph.leaf_nodes()
    return [f"{m.app_label}.{m.name}" for m, _backwards in executor.migration_plan(targets)]


def readiness(alias: str = DEFAULT_DB_ALIAS) -> Readiness:
    problem = database_reachable(alias)
    if problem:
        return Readiness(False, {"database": problem, "migrations": "not checked"})
    try:
        pending = unapplied_migrations(alias)
    except DatabaseError as failure:
        return Readiness(False, {"database": "ok", "migrations": f"cannot read migration state: {failure}"})
    if pending:
        shown = ", ".join(pending[:5]) + (f" and {len(pending) - 5} more" if len(pending) > 5 else "")
        return Readiness(
            False,
            {"database": "ok", "migrations": f"{len(pending)} unapplied ({shown}); run `lockstep migrate`"},
        )
    return Readiness(True, {"database": "ok", "migrations": "ok"})

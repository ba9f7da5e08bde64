"""The index behind the Users search: any part of a name or an email, case-insensitive.

`User.search_text` is a column the database computes on every write: the lower-case username,
display name, first name, last name and company email, one per line (so a term never matches
across two of them).

- PostgreSQL: a pg_trgm GIN index on `search_text` answers `LIKE '%term%'` without a scan
  (the migration creates the extension; see docs/operations.md).
- SQLite: an FTS5 table with the trigram tokenizer mirrors `search_text` through triggers, so the
  database keeps it right for bulk writes too. A term of three characters or more is looked up
  there; a shorter one (trigrams need three) scans `search_text` with LIKE.
"""

from __future__ import annotations

import functools
from typing import Any

from django.db import DatabaseError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

USER_TABLE = "directory_user"
PG_INDEX = "user_search_trgm"
FTS_TABLE = "directory_user_search"
TRIGGERS = {
    f"{FTS_TABLE}_insert": f"""AFTER INSERT ON {USER_TABLE} BEGIN
        INSERT INTO {FTS_TABLE}(rowid, search_text) VALUES (new.id, new.search_text); END""",
    f"{FTS_TABLE}_delete": f"""AFTER DELETE ON {USER_TABLE} BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, search_text) VALUES ('delete', old.id, old.search_text); END""",
    f"{FTS_TABLE}_update": f"""AFTER UPDATE ON {USER_TABLE} WHEN old.search_text IS NOT new.search_text BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, search_text) VALUES ('delete', old.id, old.search_text);
        INSERT INTO {FTS_TABLE}(rowid, search_text) VALUES (new.id, new.search_text); END""",
}
TRIGRAM = 3  # the shortest term an index of trigrams can answer


class SearchIndexUnavailable(RuntimeError):
    """PostgreSQL refused to create the pg_trgm extension (the database role lacks the right)."""


@functools.cache
def sqlite_has_fts5() -> bool:
    import sqlite3

    with sqlite3.connect(":memory:") as probe:
        options = {row[0] for row in probe.execute("PRAGMA compile_options")}
    return "ENABLE_FTS5" in options and sqlite3.sqlite_version_info >= (3, 34, 0)  # trigram since 3.34


def _has_search_column(connection: BaseDatabaseWrapper) -> bool:
    with connection.cursor() as cursor:
        if USER_TABLE not in connection.introspection.table_names(cursor):
            return False
        columns = connection.introspection.get_table_description(cursor, USER_TABLE)
    return any(column.name == "search_text" for column in columns)


def install(connection: BaseDatabaseWrapper) -> None:
    """Create the index if missing (idempotent); on SQLite also recreate lost triggers and rebuild.

    Run by the migration and after every `migrate`: SQLite's way of altering a table (copy, drop,
    rename) drops its triggers, and this puts them back with the index rebuilt from the rows.
    """
    if not _has_search_column(connection):
        return
    if connection.vendor == "postgresql":
        _install_postgresql(connection)
    elif connection.vendor == "sqlite" and sqlite_has_fts5():
        _install_sqlite(connection)


def _install_postgresql(connection: BaseDatabaseWrapper) -> None:
    try:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError as error:
        raise SearchIndexUnavailable(
            "Lockstep's user search needs the PostgreSQL extension pg_trgm and this database role may "
            "not create it. As a superuser, run in the Lockstep database: CREATE EXTENSION pg_trgm; "
            f"then run the migration again. ({error})"
        ) from error
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE INDEX IF NOT EXISTS {PG_INDEX} ON {USER_TABLE} USING gin (search_text gin_trgm_ops)"
        )


def _install_sqlite(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5(search_text, "
            f"content='{USER_TABLE}', content_rowid='id', tokenize='trigram')"
        )
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [USER_TABLE]
        )
        present = {row[0] for row in cursor.fetchall()}
        missing = [name for name in TRIGGERS if name not in present]
        for name in missing:
            cursor.execute(f"CREATE TRIGGER {name} {TRIGGERS[name]}")
        if missing:
            cursor.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")


def uninstall(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"DROP INDEX IF EXISTS {PG_INDEX}")
        elif connection.vendor == "sqlite":
            for name in TRIGGERS:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
            cursor.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")


def _fts_phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def matching(queryset: QuerySet[Any], term: str, *, many: bool = False) -> QuerySet[Any]:
    """The users of `queryset` whose name or email contains `term` (case-insensitive; any run of
    white space, line breaks included, counts as one space: a term never spans two fields).

    `many`: the caller knows thousands match. On SQLite the page is then read in username order,
    keeping the rows found in the index, which stops after one page instead of sorting them all.
    """
    needle = " ".join(term.split()).lower()
    if not needle:
        return queryset
    if connections[queryset.db].vendor == "sqlite" and len(needle) >= TRIGRAM and sqlite_has_fts5():
        rows = RawSQL(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s", [_fts_phrase(needle)])
        if many:  # "+id" keeps SQLite from looking the rows up by id: it walks the username index
            return queryset.alias(unindexed_id=RawSQL(f'+"{USER_TABLE}"."id"', [])).filter(
                unindexed_id__in=rows
            )
        return queryset.filter(pk__in=rows)
    if connections[queryset.db].vendor == "sqlite" and not many:
        # A short term: one pass over the table, then the few found are sorted (walking the username
        # index would read every row out of order to test it).
        found = queryset.model.objects.filter(search_text__contains=needle).values("pk")
        return queryset.filter(pk__in=found)
    return queryset.filter(search_text__contains=needle)

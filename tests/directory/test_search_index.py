"""The users search index the migration creates: a pg_trgm GIN index on PostgreSQL, an FTS5
trigram table kept by triggers on SQLite (put back after a table rebuild drops the triggers)."""

from __future__ import annotations

import pytest
from django.db import connection

from lockstep.directory import search_index
from lockstep.directory.actors import Actor
from lockstep.directory.models import User
from lockstep.directory.services import user_queries

pytestmark = pytest.mark.django_db


def usernames(actor: Actor, term: str, *, many: bool = False) -> list[str]:
    found = user_queries.filter_users(actor=actor, search=term, many=many).order_by("username")
    return list(found.values_list("username", flat=True))


def add(actor: Actor, *names: str) -> None:
    User.objects.bulk_create(
        User(
            organization_id=actor.organization_id,
            username=name,
            email=f"{name}@contoso.com",
            display_name=name.title(),
            immutable_id=f"{name}-immutable",
        )
        for name in names
    )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigram index is PostgreSQL's")
def test_migration_creates_the_trigram_index_on_postgresql(actor: Actor) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        assert cursor.fetchone() is not None
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'directory_user' AND indexname = %s",
            [search_index.PG_INDEX],
        )
        (definition,) = cursor.fetchone()
    assert "USING gin (search_text gin_trgm_ops)" in definition
    add(actor, "megan", "owenby")
    assert usernames(actor, "OWEN") == ["owenby"]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the FTS5 table is SQLite's")
def test_migration_creates_the_trigram_table_and_triggers_on_sqlite(actor: Actor) -> None:
    if not search_index.sqlite_has_fts5():
        pytest.skip("this SQLite has no FTS5 trigram tokenizer: the search scans instead")
    with connection.cursor() as cursor:
        cursor.execute("SELECT sql FROM sqlite_master WHERE name = %s", [search_index.FTS_TABLE])
        (definition,) = cursor.fetchone()
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'directory_user'"
        )
        triggers = {row[0] for row in cursor.fetchall()}
    assert "tokenize='trigram'" in definition
    assert triggers == set(search_index.TRIGGERS)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite rebuilds tables and drops triggers")
def test_lost_triggers_are_put_back_and_the_index_rebuilt(actor: Actor) -> None:
    if not search_index.sqlite_has_fts5():
        pytest.skip("no FTS5 trigram tokenizer")
    add(actor, "megan")
    with connection.cursor() as cursor:  # what SQLite's copy-drop-rename of the table does
        for name in search_index.TRIGGERS:
            cursor.execute(f"DROP TRIGGER {name}")
    add(actor, "owenby")  # written while the triggers were missing
    assert usernames(actor, "owen") == []
    search_index.install(connection)  # runs after every migrate
    assert usernames(actor, "owen") == ["owenby"]
    add(actor, "bowen")
    assert usernames(actor, "owen") == ["bowen", "owenby"]


def test_the_plan_for_many_matches_finds_the_same_users(actor: Actor) -> None:
    add(actor, "megan", "owenby", "bowen", "adele")
    for term in ("owen", "OW", "e", "zzz"):
        assert usernames(actor, term, many=True) == usernames(actor, term)
    assert usernames(actor, "owen") == ["bowen", "owenby"]

"""`row_updates.save_fields` stores what `save(update_fields=...)` stores, in one statement."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from lockstep.directory.actors import Actor
from lockstep.m365.models import Directory, SyncStatus, UserBinding
from lockstep.m365.row_updates import save_fields
from lockstep.m365.services import bulk_bindings

from .test_provision_sync import new_user

FIELDS = ("remote_id", "last_applied", "status", "retry_at", "synced_at", "restore_candidate_id", "attempts")


def bound(actor: Actor, directory: Directory, count: int) -> list[UserBinding]:
    people = [new_user(actor, f"row{i}") for i in range(count)]
    bulk_bindings.bind_users(actor=actor, user_ids=[p.pk for p in people], directory_id=directory.pk)
    return list(UserBinding.objects.filter(directory=directory).order_by("pk"))


def test_saved_fields_read_back_as_save_stores_them(directory: Directory, actor: Actor) -> None:
    rows = bound(actor, directory, 3)
    now = timezone.now()
    for index, row in enumerate(rows):
        row.remote_id = f"remote-{index}"
        row.last_applied = {"jobTitle": 'Ünïcode\'s "title"', "businessPhones": [], "n": index, "none": None}
        row.status = SyncStatus.SYNCED
        row.retry_at = None if index else now + timedelta(minutes=5)
        row.synced_at = now
        row.restore_candidate_id = "" if index else "candidate"
        row.attempts = index
        row.lease_owner = "not saved"  # a field not named is left alone
    with CaptureQueriesContext(connection) as queries:
        save_fields(rows, FIELDS)
    assert len(queries) == 1  # one statement for every row
    for index, stored in enumerate(UserBinding.objects.filter(directory=directory).order_by("pk")):
        assert stored.remote_id == f"remote-{index}"
        assert stored.last_applied == rows[index].last_applied
        assert stored.status == SyncStatus.SYNCED
        assert stored.retry_at == (None if index else now + timedelta(minutes=5))
        assert stored.synced_at == now
        assert stored.attempts == index
        assert stored.restore_candidate_id == ("" if index else "candidate")
        assert stored.lease_owner == ""


def test_nothing_to_save_makes_no_statement(directory: Directory) -> None:
    with CaptureQueriesContext(connection) as queries:
        save_fields([], FIELDS)
    assert len(queries) == 0


def test_a_name_that_is_no_column_is_refused(directory: Directory, actor: Actor) -> None:
    rows = bound(actor, directory, 1)
    with pytest.raises(ValueError, match="not a column"):
        save_fields(rows, ["held_writes"])

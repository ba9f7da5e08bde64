"""Safe takeover (issue 8, point 5): an empty Lockstep value never silently clears a Microsoft 365
value. The preview says which values accounts would lose, "fill empty Lockstep fields from
Microsoft 365" (on by default) keeps them, and an undo can put the old values back, against
m365sim's demo tenant over HTTPS."""

from __future__ import annotations

from typing import Any

import pytest

from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict
from lockstep.directory.models import AuditEvent, User
from lockstep.directory.services import users
from lockstep.m365.models import Directory, ImportBatch, ImportCandidate, ImportRestore
from lockstep.m365.services import imports
from lockstep.testing.m365 import sync_until_settled
from m365sim.testing import SimServer

UPN = "nestor.wilke@contoso.com"


def remote(sim: SimServer) -> dict[str, Any]:
    found = sim.sim.tenant.find_user(UPN)
    assert found is not None
    return found


@pytest.fixture
def nestor(directory: Directory, actor: Actor, sim: SimServer) -> User:
    """A Lockstep user without a job title or mobile phone whose account has both, listed."""
    account = remote(sim)
    account["jobTitle"] = "Manager"
    account["mobilePhone"] = "+1 555 0100"
    same = {"last_name": account["surname"], "department": account["department"], "usage_location": "US"}
    user = users.create_user(
        actor=actor, fields={"username": "nestor", "email": UPN, "first_name": "Nestor", **same}
    )
    assert imports.scan_candidates(actor=actor, directory_id=directory.pk, wait=True).state == "done"
    return user


def selection() -> list[int]:
    return [ImportCandidate.objects.get(upn=UPN).pk]


def run(actor: Actor, directory: Directory, **options: Any) -> ImportBatch:
    batch = imports.start_import(
        actor=actor, directory_id=directory.pk, candidate_ids=selection(), wait=True, **options
    )
    assert batch.state == "done" and batch.bound_existing == 1, batch.errors
    return batch


def test_fill_is_on_by_default_and_keeps_the_remote_values(
    directory: Directory, actor: Actor, sim: SimServer, nestor: User
) -> None:
    preview = imports.preview_import(actor=actor, directory_id=directory.pk, candidate_ids=selection())
    assert preview.losses == {} and preview.loss_words == ""
    assert preview.fills == {"Job title": 1, "Mobile phone": 1} and preview.accounts_filled == 1
    assert preview.fill_words.startswith("1 account keeps their Job title, 1 their Mobile phone")
    assert not any("jobTitle" in (w.body or {}) for w in preview.writes)

    batch = run(actor, directory)
    nestor.refresh_from_db()
    assert (nestor.job_title, nestor.mobile_phone) == ("Manager", "+1 555 0100")
    fill = AuditEvent.objects.get(action="user.update", target_id=str(nestor.pk))
    assert fill.after == {"job_title": "Manager", "mobile_phone": "+1 555 0100"}
    bind = AuditEvent.objects.get(action="user.bind", target_id=str(nestor.pk))
    assert bind.after is not None and bind.after["filled_from_m365"] == fill.after
    assert batch.options["fill_from_m365"] is True
    sync_until_settled()
    assert (remote(sim)["jobTitle"], remote(sim)["mobilePhone"]) == ("Manager", "+1 555 0100")


def test_with_fill_off_the_preview_lists_what_would_be_lost_and_undo_can_put_it_back(
    directory: Directory, actor: Actor, sim: SimServer, nestor: User
) -> None:
    preview = imports.preview_import(
        actor=actor, directory_id=directory.pk, candidate_ids=selection(), fill_from_m365=False
    )
    assert preview.losses == {"Job title": 1, "Mobile phone": 1} and preview.accounts_losing == 1
    assert (
        preview.loss_words == "1 account would lose their Job title, 1 their Mobile phone in Microsoft 365."
    )
    assert preview.fills == {}

    batch = run(actor, directory, fill_from_m365=False)
    sync_until_settled()
    assert remote(sim).get("jobTitle") is None and remote(sim).get("mobilePhone") is None  # accepted loss

    effects = imports.undo_effects(actor=actor, batch_id=batch.pk)
    [account] = effects.accounts
    words = {c.words for c in account.changes}
    assert {"Job title: Manager → (cleared)", "Mobile phone: +1 555 0100 → (cleared)"} <= words
    assert effects.restorable == 1 and effects.users_removed == 0 and effects.bindings_removed == 1

    imports.undo_import(actor=actor, batch_id=batch.pk, restore_remote=True)
    [restore] = ImportRestore.objects.all()
    assert restore.state == "pending" and restore.values["jobTitle"] == "Manager"
    sync_until_settled()  # the sync loop writes the old values back
    restore.refresh_from_db()
    assert restore.state == "done" and "Job title: put back Manager" in restore.result
    assert (remote(sim)["jobTitle"], remote(sim)["mobilePhone"]) == ("Manager", "+1 555 0100")
    put_back = AuditEvent.objects.get(action="m365.import.restore")
    assert put_back.after is not None and put_back.after["jobTitle"] == "Manager"
    undo = AuditEvent.objects.get(action="m365.import.undo")
    assert undo.after is not None and undo.after["old_values_put_back"] == 1


def test_undo_without_restore_leaves_microsoft_365_as_lockstep_wrote_it(
    directory: Directory, actor: Actor, sim: SimServer, nestor: User
) -> None:
    batch = run(actor, directory, fill_from_m365=False)
    sync_until_settled()
    imports.undo_import(actor=actor, batch_id=batch.pk)
    sync_until_settled()
    assert remote(sim).get("jobTitle") is None
    assert not ImportRestore.objects.exists()
    with pytest.raises(Conflict):
        imports.undo_effects(actor=actor, batch_id=batch.pk)  # undone: nothing left to undo


def test_a_value_changed_in_microsoft_365_after_the_import_is_not_put_back(
    directory: Directory, actor: Actor, sim: SimServer, nestor: User
) -> None:
    batch = run(actor, directory, fill_from_m365=False)
    sync_until_settled()
    imports.undo_import(actor=actor, batch_id=batch.pk, restore_remote=True)
    remote(sim)["jobTitle"] = "Head of Sales"  # someone set it in Microsoft 365 meanwhile
    sync_until_settled()
    restore = ImportRestore.objects.get()
    assert restore.state == "done" and "left as it is" in restore.result and "Job title" in restore.result
    assert remote(sim)["jobTitle"] == "Head of Sales" and remote(sim)["mobilePhone"] == "+1 555 0100"

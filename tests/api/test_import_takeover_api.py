"""Safe takeover over the REST API: the preview's losses and fills, the fill option, the undo's
effects (GET .../undo) and `restore_remote`, against m365sim."""

from __future__ import annotations

from django.test import Client
from tests.api.conftest import JsonClient

from lockstep.directory.actors import Actor
from lockstep.directory.models import User
from lockstep.m365.models import ImportRestore
from lockstep.m365.services import directories, imports
from lockstep.testing.m365 import directory_fields, sync_until_settled, takeover_pair
from m365sim.testing import SimServer


def test_preview_fill_option_and_undo_with_restore(api: Client, actor: Actor, sim: SimServer) -> None:
    client = JsonClient(api)
    directory, _ = directories.add_directory(actor=actor, fields=directory_fields(sim))
    account, _ = takeover_pair(actor, sim)
    imports.scan_candidates(actor=actor, directory_id=directory.pk, wait=True)
    [candidate] = client.get(f"directories/{directory.pk}/candidates?search=nestor.wilke").data["items"]
    body = {"candidate_ids": [candidate["id"]]}

    kept = client.post(f"directories/{directory.pk}/imports/preview", body).data
    assert kept["losses"] == {} and kept["fills"] == {"Job title": 1}  # fill is on by default
    lost = client.post(f"directories/{directory.pk}/imports/preview", {**body, "fill_from_m365": False}).data
    assert lost["losses"] == {"Job title": 1}
    assert lost["loss_words"] == "1 account would lose their Job title in Microsoft 365."
    bad = client.post(f"directories/{directory.pk}/imports/preview", {**body, "fill_from_m365": "maybe"})
    assert bad.status_code == 422

    batch = client.post(f"directories/{directory.pk}/imports", {**body, "fill_from_m365": False}).data
    imports.run_import(batch_id=batch["id"])
    sync_until_settled()
    assert account.get("jobTitle") is None and User.objects.get(username="nestor").job_title == ""

    effects = client.get(f"imports/{batch['id']}/undo").data
    assert effects["restorable"] == 1 and effects["bindings_removed"] == 1
    [changed] = effects["accounts"]
    assert "Job title: Manager → (cleared)" in [c["words"] for c in changed["changes"]]
    undone = client.post(f"imports/{batch['id']}/undo?restore_remote=true")
    assert undone.status_code == 200 and undone.data["state"] == "undone"
    sync_until_settled()
    assert ImportRestore.objects.get().state == "done" and account["jobTitle"] == "Manager"
    assert client.get(f"imports/{batch['id']}/undo").status_code == 409

"""graph-facts §12.3 in Lockstep: ISO usage locations where a user's attributes are entered, drift
that reads absent delta properties correctly, and a `$count` with a byte-order mark."""

from __future__ import annotations

from typing import Any

import pytest

from lockstep.directory.actors import Actor
from lockstep.directory.errors import ValidationFailed
from lockstep.directory.services import users
from lockstep.directory.validation import clean_user_fields
from lockstep.m365 import drift, import_scan
from lockstep.m365.models import Directory, UserBinding
from lockstep.m365.services import bindings, imports
from lockstep.testing.m365 import wait_for_replication
from m365sim.testing import SimServer

from .test_drift import drift_round, patch_remote
from .test_provision_sync import new_user, remote, sync

# --- c. usageLocation: ISO 3166-1 alpha-2 --------------------------------------------------------


@pytest.mark.parametrize("value", ["UK", "XX", "EU", "ZZ", "U1"])
def test_usage_location_outside_iso_3166_is_refused_naming_field_and_rule(value: str) -> None:
    _, errors = clean_user_fields({"usage_location": value}, partial=True)
    [message] = errors["usage_location"]
    assert "ISO 3166-1 alpha-2" in message and value in message


@pytest.mark.parametrize("value", ["GB", "gb", "DE", "AX", "SS", " us "])
def test_usage_location_iso_codes_are_accepted(value: str) -> None:
    cleaned, errors = clean_user_fields({"usage_location": value}, partial=True)
    assert not errors and cleaned["usage_location"] == value.strip().upper()


def test_services_and_api_refuse_an_invalid_usage_location(actor: Actor, api: Any) -> None:
    with pytest.raises(ValidationFailed) as refused:
        users.create_user(
            actor=actor, fields={"username": "ukuser", "email": "uk@contoso.com", "usage_location": "UK"}
        )
    assert "usage_location" in refused.value.errors
    user = users.create_user(actor=actor, fields={"username": "gbuser", "email": "gb@contoso.com"})
    with pytest.raises(ValidationFailed):
        users.update_user(actor=actor, user_id=user.pk, changes={"usage_location": "XX"})
    response = api.post(
        "/api/v1/users",
        data={"username": "apiuser", "email": "api@contoso.com", "usage_location": "UK"},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert "ISO 3166-1 alpha-2" in response.json()["error"]["fields"]["usage_location"][0]


# --- d. delta omits never-set properties -----------------------------------------------------------


def test_remote_view_absent_means_unset_in_a_whole_object_and_unchanged_otherwise() -> None:
    known = {"jobTitle": "Engineer", "department": "R&D", "accountEnabled": True}
    tracked = ("jobTitle", "department", "accountEnabled")
    item = {"id": "r1", "accountEnabled": True}
    assert drift.remote_view(known, item, tracked, whole=True) == {
        "jobTitle": None,
        "department": None,
        "accountEnabled": True,
    }
    assert drift.remote_view(known, item, tracked, whole=False) == known
    assert drift.remote_view(known, {"jobTitle": None}, tracked, whole=False)["jobTitle"] is None


def _clear_remotely(sim: SimServer, remote_id: str, prop: str) -> None:
    patch_remote(sim, remote_id, {prop: None})  # an admin, once Microsoft 365 has the account


def test_a_full_resync_reads_an_absent_property_as_unset(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    user = new_user(actor, "absent", fields={"job_title": "Engineer"})
    bindings.bind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    sync()
    wait_for_replication(sim)  # drift starts from the account as Microsoft 365 finished creating it
    drift_round(directory)
    binding = UserBinding.objects.get(user=user)
    _clear_remotely(sim, binding.remote_id, "jobTitle")
    # the deltaLink is lost (expired, or reset by Graph): the next round is a full listing, in
    # which the cleared (now never-set) jobTitle is simply absent
    Directory.objects.filter(pk=directory.pk).update(users_delta_link="")
    result = drift_round(directory)
    assert result.full_users and result.users_bumped == 1
    binding.refresh_from_db()
    assert binding.last_applied["jobTitle"] is None
    sync()
    assert remote(sim, "absent@contoso.com")["jobTitle"] == "Engineer"  # type: ignore[index]


def test_an_incremental_round_reads_an_explicit_null(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    user = new_user(actor, "cleared", fields={"job_title": "Engineer", "department": "R&D"})
    bindings.bind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    sync()
    wait_for_replication(sim)  # drift starts from the account as Microsoft 365 finished creating it
    drift_round(directory)
    binding = UserBinding.objects.get(user=user)
    _clear_remotely(sim, binding.remote_id, "department")
    result = drift_round(directory)
    assert not result.full_users and result.users_bumped == 1
    binding.refresh_from_db()
    assert binding.last_applied["department"] is None and binding.last_applied["jobTitle"] == "Engineer"


# --- e. $count with a byte-order mark ----------------------------------------------------------------


@pytest.mark.parametrize("content", [b"\xef\xbb\xbf49", b"49", b" 49\r\n", b"\xef\xbb\xbf49\n"])
def test_parse_count_tolerates_a_byte_order_mark(content: bytes) -> None:
    assert import_scan.parse_count(content) == 49


def test_scan_reads_the_user_count_behind_a_byte_order_mark(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    assert sim.sim.settings.count_byte_order_mark  # m365sim's default
    done = imports.scan_candidates(actor=actor, directory_id=directory.pk, wait=True)
    assert done.state == "done" and done.users_total == 49

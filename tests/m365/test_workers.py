"""Real worker processes against m365sim: a SIGKILL mid-batch under faults, and two workers
sharing the work. The end state must be exact: every bound user exists once in Microsoft 365
with the right attributes, state and group memberships; nothing is lost or duplicated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import F

from lockstep.directory.actors import Actor
from lockstep.directory.models import User
from lockstep.directory.services import groups, users
from lockstep.m365.models import Directory, GroupBinding, SyncStatus, UserBinding
from lockstep.m365.services import bindings, directories
from m365sim.testing import SimServer

from .conftest import directory_fields

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

LOCKSTEP = str(Path(sys.executable).with_name("lockstep"))


def database_url() -> str:
    """The test database, for worker subprocesses."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    return f"postgresql://{user}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def start_worker(name: str, sim: SimServer) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LOCKSTEP_DATA_DIR": str(settings.DATA_DIR),  # same encryption keys as the test process
        "LOCKSTEP_DATABASE_URL": database_url(),
        "LOCKSTEP_TRUSTED_CA_FILE": sim.ca_file,
        "LOCKSTEP_M365_LEASE_SECONDS": "4",
        "LOCKSTEP_M365_DRIFT_SECONDS": "3600",
        "LOCKSTEP_LOG_LEVEL": "WARNING",
    }
    log = open(Path(settings.DATA_DIR) / f"worker-{name}.log", "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [LOCKSTEP, "worker", "--worker-id", name, "--stale-after", "5"], env=env, stdout=log, stderr=log
    )


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


@pytest.fixture
def slow_sim(settings: Any) -> Iterator[SimServer]:
    with SimServer(seed="demo", throttling=False, latency_ms=15) as server:
        settings.TRUSTED_CA_FILE = server.ca_file
        yield server


def populate(actor: Actor, directory: Directory, count: int) -> tuple[list[User], int]:
    people = [
        users.create_user(
            actor=actor,
            fields={"username": f"w{i:03d}", "email": f"w{i:03d}@contoso.com", "job_title": f"Job {i}"},
        )
        for i in range(count)
    ]
    for person in people[: count // 2]:
        users.change_state(actor=actor, user_id=person.pk, to_state="active")
    for person in people:
        bindings.bind_user(actor=actor, user_id=person.pk, directory_id=directory.pk)
    team = groups.create_group(actor=actor, fields={"name": "Crash Team"})
    groups.add_members(actor=actor, group_id=team.pk, user_ids=[p.pk for p in people[::3]])
    bindings.bind_group(actor=actor, group_id=team.pk, directory_id=directory.pk)
    return people, team.pk


def wait_until(predicate: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.25)


def converged() -> bool:
    pending = UserBinding.objects.exclude(status=SyncStatus.SYNCED).count()
    pending += GroupBinding.objects.exclude(status=SyncStatus.SYNCED).count()
    dirty = UserBinding.objects.filter(applied_version__lt=F("desired_version")).count()
    dirty += GroupBinding.objects.filter(applied_version__lt=F("desired_version")).count()
    return pending == 0 and dirty == 0


def assert_exact_end_state(sim: SimServer, people: list[User], group_id: int) -> None:
    tenant = sim.sim.tenant
    by_upn = Counter(u["userPrincipalName"].lower() for u in tenant.users.values())
    for person in people:
        person.refresh_from_db()
        assert by_upn[person.email] == 1, f"{person.email} exists {by_upn[person.email]} times"
        account = tenant.find_user(person.email)
        assert account["onPremisesImmutableId"] == person.immutable_id
        assert account["jobTitle"] == person.job_title
        assert account["accountEnabled"] is True
    binding = GroupBinding.objects.get(group_id=group_id)
    remote_groups = [g for g in tenant.groups.values() if g["displayName"] == "Crash Team"]
    assert len(remote_groups) == 1, "the group was created more than once"
    expected = set(
        UserBinding.objects.filter(user__groupmembership__group_id=group_id).values_list(
            "remote_id", flat=True
        )
    )
    assert binding.remote_id == remote_groups[0]["id"]
    assert set(tenant.members[binding.remote_id]) == expected


def test_sigkill_mid_batch_under_faults_loses_and_duplicates_nothing(
    slow_sim: SimServer, actor: Actor, workers: list[subprocess.Popen[bytes]]
) -> None:
    directory, _ = directories.add_directory(actor=actor, fields=directory_fields(slow_sim))
    people, group_id = populate(actor, directory, 60)
    faults = slow_sim.sim.faults
    faults.seed(7)
    # A dropped inner request drops its whole $batch (after applying it), so these are counts.
    faults.add("lost_response", method="POST", path=r"^/v1\.0/users$", count=3)
    faults.add("status", status=503, count=4)
    faults.add("throttle", retry_after=0.5, probability=0.03)
    # Graph's whole write allowance is there at once (Lockstep uses it), so only the round trips
    # pace the batches: make each long enough that the kill lands between the first and the last.
    slow_sim.sim.latency_ms = 400

    first = start_worker("first", slow_sim)
    workers.append(first)
    baseline = len(slow_sim.sim.tenant.users)
    wait_until(lambda: len(slow_sim.sim.tenant.users) >= baseline + 15, 90, "the first writes")
    first.send_signal(signal.SIGKILL)  # in the middle of its batches
    first.wait(timeout=10)
    assert len(slow_sim.sim.tenant.users) < baseline + len(people), "killed too late to prove anything"

    second = start_worker("second", slow_sim)
    workers.append(second)
    wait_until(converged, 180, "convergence after the kill")
    faults.clear()
    assert_exact_end_state(slow_sim, people, group_id)


def test_two_workers_share_the_work_without_double_writes(
    slow_sim: SimServer, actor: Actor, workers: list[subprocess.Popen[bytes]]
) -> None:
    directory, _ = directories.add_directory(actor=actor, fields=directory_fields(slow_sim))
    # Fill the queue before any worker runs, so both find work at once.
    people, group_id = populate(actor, directory, 80)
    workers.extend([start_worker("alpha", slow_sim), start_worker("beta", slow_sim)])
    wait_until(converged, 180, "convergence with two workers")
    creates = [r for r in slow_sim.request_log() if r["method"] == "POST" and r["path"] == "/users"]
    assert len(creates) == len(people), "a user was created (or attempted) twice"
    owners = set(UserBinding.objects.values_list("lease_owner", flat=True))
    assert owners == {""}  # every lease released
    assert_exact_end_state(slow_sim, people, group_id)

"""`lockstep worker` as a real process sends the outbox: the periodic drain finds an email whose
wake-up task was lost, and an email queued while the worker runs goes out through its drain task."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django_tasks_db.models import DBTaskResult

OPS_TESTS = str(Path(__file__).resolve().parents[1] / "ops")
if OPS_TESTS not in sys.path:
    sys.path.insert(0, OPS_TESTS)

from ops_scratch import LOCKSTEP, Scratch, scratch_installation  # noqa: E402

QUEUE = """
from django.db import transaction
from lockstep.directory.models import Organization
from lockstep.directory.services import organizations
from lockstep.mail import outbox
org = Organization.objects.first() or organizations.create_organization(name="Contoso Ltd")
with transaction.atomic():
    email = outbox.send(organization=org, kind="test", to="{to}", context={{}})
print(email.pk)
"""


def wait_for(condition: Callable[[], object], timeout: float = 30, what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def installation(tmp_path: Path, smtp_server: Any) -> Iterator[Scratch]:
    with scratch_installation(tmp_path / "data") as scratch:
        scratch.env.update(
            LOCKSTEP_EMAIL_HOST=smtp_server.host,
            LOCKSTEP_EMAIL_PORT=str(smtp_server.port),
            LOCKSTEP_EMAIL_SECURITY="none",
        )
        done = scratch.lockstep("migrate")
        assert done.returncode == 0, done.stderr
        yield scratch


def queue(scratch: Scratch, to: str) -> int:
    done = scratch.python(QUEUE.format(to=to))
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip().splitlines()[-1])


def status_of(scratch: Scratch, pk: int) -> str:
    ((status,),) = scratch.query("SELECT status FROM mail_outboundemail WHERE id = %s", [pk])
    return str(status)


def test_the_worker_sends_the_outbox(installation: Scratch, smtp_server: Any) -> None:
    smtp_server.mailbox.clear()
    lost = queue(installation, "lost-wakeup@contoso.com")
    installation.query(f"DELETE FROM {DBTaskResult._meta.db_table} RETURNING id")  # its drain task is gone
    worker = subprocess.Popen(
        [LOCKSTEP, "worker", "--interval", "0.2"],
        env=installation.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        smtp_server.mailbox.wait_for("lost-wakeup@contoso.com", timeout=30)  # the periodic drain
        wait_for(lambda: status_of(installation, lost) == "sent", what="the first email marked sent")
        fresh = queue(installation, "fresh@contoso.com")
        smtp_server.mailbox.wait_for("fresh@contoso.com", timeout=30)
        wait_for(lambda: status_of(installation, fresh) == "sent", what="the second email marked sent")
    finally:
        worker.terminate()
        worker.wait(timeout=15)
    assert len(smtp_server.mailbox.to("lost-wakeup@contoso.com")) == 1
    assert len(smtp_server.mailbox.to("fresh@contoso.com")) == 1

"""Directory verification off the web threads (issue 11, point 4): a Microsoft endpoint that
never answers costs a web request a bounded wait, an organization runs at most
LOCKSTEP_VERIFY_PER_ORGANIZATION verifications at once, and the result arrives later.

The "endpoint" here is a real TCP listener on loopback that accepts connections and never
sends a byte (a hung port), so the client's own timeouts are what end each attempt.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from waitress.server import create_server

from lockstep.directory.actors import Actor
from lockstep.directory.errors import TooBusy
from lockstep.directory.models import AuditEvent, Organization
from lockstep.m365.models import Cloud, Directory, Health
from lockstep.m365.services import directories
from lockstep.wsgi import application

pytestmark = pytest.mark.django_db(transaction=True)  # the pool thread has its own connection


class SilentServer:
    """Accepts TCP connections on loopback and never answers; counts the open ones."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections: list[socket.socket] = []
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            self.connections.append(conn)

    def open_connections(self) -> int:
        """Connections the client side has not closed yet (a closed one reads as EOF)."""
        still = 0
        for conn in self.connections:
            conn.setblocking(False)
            try:
                if conn.recv(65536, socket.MSG_PEEK) == b"":
                    continue
            except BlockingIOError:
                pass
            except OSError:
                continue
            still += 1
        return still

    def close(self) -> None:
        self._stop.set()
        for conn in self.connections:
            conn.close()
        self.sock.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


@pytest.fixture
def fast_limits(settings: Any) -> None:
    settings.M365_VERIFY_TIMEOUT_SECONDS = 2.0
    settings.M365_VERIFY_WAIT_SECONDS = 0.3
    settings.M365_VERIFY_PER_ORGANIZATION = 2


def hung_fields(silent: SilentServer, name: str) -> dict[str, Any]:
    """A custom-cloud directory whose Microsoft endpoints are the hung port."""
    base = f"https://127.0.0.1:{silent.port}"
    return {
        "name": name,
        "tenant_id": "contoso.onmicrosoft.com",
        "client_id": "00000000-0000-0000-0000-000000000001",
        "credential_kind": "secret",
        "client_secret": "not-a-real-secret",
        "cloud": Cloud.CUSTOM,
        "login_base_url": base,
        "graph_base_url": f"{base}/v1.0",
    }


def hung_directory(actor: Actor, silent: SilentServer, name: str) -> Directory:
    directory, _ = directories.add_directory(actor=actor, fields=hung_fields(silent, name), verify_now=False)
    return directory


def wait_until(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the background verification never finished"
        time.sleep(0.1)


def finished(directory: Directory) -> bool:
    directory.refresh_from_db()
    return directory.verification_started_at is None


def other_actor(org: Organization) -> Actor:
    other = Organization.objects.create(name="Fabrikam", slug="fabrikam")
    return Actor(kind="admin", organization_id=other.pk, role="owner", id="x", label="x")


def test_a_hung_endpoint_answers_still_running_then_stores_the_result_later(
    actor: Actor, org: Organization, silent: SilentServer, fast_limits: None
) -> None:
    first = hung_directory(actor, silent, "First")
    report = directories.verify_directory(actor=actor, directory_id=first.pk, wait=0.3)
    assert report is None  # Microsoft did not answer within the wait: the run goes on
    first.refresh_from_db()
    assert first.verification_started_at is not None and first.health == Health.UNKNOWN
    assert silent.accepted >= 1  # the run really is waiting on the hung port

    # a second request for the same directory joins the running one: no new run, no refusal
    assert directories.verify_directory(actor=actor, directory_id=first.pk, wait=0.3) is None

    wait_until(lambda: finished(first))
    assert first.health == Health.RED
    assert first.verification["token_ok"] is False and "No token" in first.health_reason
    # the late result is audited like one that came in time
    events = AuditEvent.objects.filter(action="directory.verify", target_id=str(first.pk))
    assert events.count() == 1, list(events.values("action", "target_id"))


def test_an_organization_runs_at_most_its_limit_of_verifications(
    actor: Actor, org: Organization, silent: SilentServer, fast_limits: None
) -> None:
    first, second, third = (hung_directory(actor, silent, name) for name in ("One", "Two", "Three"))
    assert directories.verify_directory(actor=actor, directory_id=first.pk, wait=0.3) is None
    assert (
        directories.verify_directory(actor=actor, directory_id=second.pk, wait=0.3) is None
    )  # the limit itself
    with pytest.raises(TooBusy) as refused:  # one beyond
        directories.verify_directory(actor=actor, directory_id=third.pk, wait=0.3)
    assert (
        "LOCKSTEP_VERIFY_PER_ORGANIZATION" in refused.value.message and refused.value.field == "directory_id"
    )
    third.refresh_from_db()
    assert third.verification_started_at is None and third.verified_at is None  # nothing half-started

    # another organization is not held back by this one's runs
    fabrikam = other_actor(org)
    theirs = hung_directory(fabrikam, silent, "Theirs")
    assert directories.verify_directory(actor=fabrikam, directory_id=theirs.pk, wait=0.3) is None

    wait_until(lambda: finished(first) and finished(second))
    assert directories.verify_directory(actor=actor, directory_id=third.pk, wait=0.3) is None  # room again
    wait_until(lambda: finished(third) and finished(theirs))


def test_a_directory_added_while_microsoft_hangs_is_kept_and_verified_in_the_background(
    actor: Actor, silent: SilentServer, fast_limits: None
) -> None:
    fields = hung_fields(silent, "Slow")
    directory, _ = directories.add_directory(actor=actor, fields=fields)
    directory.refresh_from_db()
    assert directory.verification_started_at is not None
    wait_until(lambda: finished(directory))
    assert directory.health == Health.RED and directory.verified_at is not None


def test_ten_verifications_of_a_hung_port_leave_the_web_threads_free(
    api_key_secret: str, actor: Actor, silent: SilentServer, fast_limits: None, settings: Any
) -> None:
    """Over real HTTP, through waitress with four threads as `lockstep run` serves: ten verify
    requests against a port that never answers, then /healthz still answers at once."""
    settings.ALLOWED_HOSTS = ["*"]
    ids = [hung_directory(actor, silent, f"Hung {n}").pk for n in range(5)]
    server = create_server(application, listen="127.0.0.1:0", threads=4)
    port = server.effective_port  # type: ignore[union-attr]
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {api_key_secret}"}
    try:

        def verify(directory_id: int) -> int:
            url = f"{base}/api/v1/directories/{directory_id}/verify"
            return httpx.post(url, headers=headers, timeout=20).status_code

        with ThreadPoolExecutor(max_workers=10) as pool:
            statuses = list(pool.map(verify, [ids[n % 5] for n in range(10)]))
            health = httpx.get(f"{base}/healthz", timeout=5)
        assert health.status_code == 200
        assert silent.open_connections() >= 1  # the verifications were still hanging meanwhile
        assert sorted(set(statuses)) == [202, 429], statuses
        assert statuses.count(202) >= 2  # two runs (and requests that joined them)
        running = Directory.objects.filter(pk__in=ids, verification_started_at__isnull=False)
        assert running.count() == 2  # the organization's limit, never more
        wait_until(
            lambda: not Directory.objects.filter(pk__in=ids, verification_started_at__isnull=False).exists()
        )
    finally:
        server.close()


def test_the_admin_portal_says_a_new_directory_is_still_being_verified(
    admin_client: Any, silent: SilentServer, fast_limits: None
) -> None:
    form = hung_fields(silent, "Slow")
    page = admin_client.post("/directories/new/", form, follow=True).content.decode()
    assert "Directory Slow added. Verification is running" in page and "added and verified" not in page
    assert 'id="verification-running"' in page
    directory = Directory.objects.get(name="Slow")
    wait_until(lambda: finished(directory))
    page = admin_client.get(f"/directories/{directory.pk}/").content.decode()
    assert 'id="verification-running"' not in page and "No token" in page

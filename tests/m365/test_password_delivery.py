"""Password delivery to Microsoft 365 (SPEC 3): admin-set and self-service changes after the account
exists, the takeover at a User Portal sign-in (on and off), the email domain deciding which
directory gets it, expiry, federated domains, and the `user_bound` event, against m365sim."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from lockstep.directory import events
from lockstep.directory.actors import Actor
from lockstep.directory.models import Organization, User, UserState
from lockstep.directory.services import users
from lockstep.m365 import engine, password_delivery, portal_status, sync_loop
from lockstep.m365 import tasks as m365_tasks
from lockstep.m365.health import user_binding_health
from lockstep.m365.models import Directory, ImportCandidate, PendingPassword, SyncStatus, UserBinding
from lockstep.m365.services import bindings, bulk_bindings, directories, imports
from lockstep.ops import background
from lockstep.testing.m365 import directory_fields
from m365sim.testing import SimServer

from .test_provision_sync import new_user, sync

INITIAL = "Typed-By-Admin-42x"
CHANGED = "Changed-By-Admin-77q"
OWN = "Chosen-By-Me-91z"


def account_id(user: User, directory: Directory) -> str:
    return UserBinding.objects.get(user=user, directory=directory).remote_id


def present(user: User, password: str) -> None:
    """What the User Portal does at a correct sign-in."""
    with transaction.atomic():
        events.emit(
            events.password_presented,
            organization_id=user.organization_id,
            user_id=user.pk,
            password=password,
        )


def bound_without_password_delivered(actor: Actor, directory: Directory, name: str) -> User:
    """A user with a Lockstep password whose account was created with a password nobody knows
    (the initial password expired before the binding)."""
    user = new_user(actor, name, initial_password=INITIAL, state=UserState.ACTIVE)
    password_delivery.expire_held_passwords(now=timezone.now() + timedelta(hours=25))
    bindings.bind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    sync()
    return user


def test_an_admin_set_password_reaches_the_existing_account(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    user = new_user(actor, "amara", initial_password=INITIAL)
    bindings.bind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    sync()
    assert sim.password_is_current("amara@contoso.com", INITIAL)
    users.set_password(actor=actor, user_id=user.pk, password=CHANGED)
    assert UserBinding.objects.get(user=user).password_pending
    sync()
    assert sim.password_is_current("amara@contoso.com", CHANGED)
    # delivered as a passwordProfile update that does not force a change at the next sign-in
    assert not sim.password_must_change("amara@contoso.com")
    binding = UserBinding.objects.get(user=user)
    assert not binding.password_pending and binding.password_synced_at is not None
    assert binding.first_sync_notice_pending
    assert not PendingPassword.objects.exists()  # delivered everywhere: erased


def test_a_users_own_change_reaches_the_account(directory: Directory, actor: Actor, sim: SimServer) -> None:
    user = new_user(actor, "bruno", initial_password=INITIAL)
    bindings.bind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    sync()
    users.set_password(actor=Actor.for_user(user), user_id=user.pk, password=OWN, how="change")
    sync()
    assert sim.password_is_current("bruno@contoso.com", OWN)
    assert not sim.password_must_change("bruno@contoso.com")


def test_the_plaintext_is_held_encrypted(directory: Directory, actor: Actor) -> None:
    user = new_user(actor, "cyra", initial_password=INITIAL)
    bindings.bind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    held = PendingPassword.objects.get(user=user)
    assert INITIAL not in held.ciphertext
    assert held.expires_at - held.created_at == timedelta(hours=24)


def test_takeover_on_sends_the_password_at_the_first_sign_in_only(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    fresh = bound_without_password_delivered(actor, directory, "dario")
    assert not sim.password_is_current("dario@contoso.com", INITIAL)
    assert user_binding_health(UserBinding.objects.get(user=fresh)).status == SyncStatus.WAITING_LOGIN
    present(fresh, INITIAL)
    assert UserBinding.objects.get(user=fresh).password_pending
    sync()
    assert sim.password_is_current("dario@contoso.com", INITIAL)
    binding = UserBinding.objects.get(user=fresh)
    assert binding.password_synced_at is not None and not binding.password_pending
    assert user_binding_health(binding).status == SyncStatus.SYNCED
    assert portal_status.take_first_sync_notice(fresh) == [directory.name]
    assert portal_status.take_first_sync_notice(fresh) == []  # once

    # an account that already got its Lockstep password gets nothing at a later sign-in
    sim.sim.tenant.passwords[account_id(fresh, directory)] = "Set-Elsewhere-55k"
    present(fresh, INITIAL)
    assert not PendingPassword.objects.exists()  # not even held
    assert not UserBinding.objects.get(user=fresh).password_pending
    sync()
    assert sim.password_is_current("dario@contoso.com", "Set-Elsewhere-55k")


def test_takeover_off_sends_nothing_at_sign_in_but_sends_a_change(
    directory: Directory, actor: Actor, sim: SimServer, org: Organization
) -> None:
    org.password_takeover = False
    org.save(update_fields=["password_takeover"])
    user = bound_without_password_delivered(actor, directory, "elke")
    binding = UserBinding.objects.get(user=user)
    assert user_binding_health(binding).status == SyncStatus.SYNCED  # no sign-in will send it
    present(user, INITIAL)
    assert not PendingPassword.objects.exists()
    assert not UserBinding.objects.get(user=user).password_pending
    sync()
    assert not sim.password_is_current("elke@contoso.com", INITIAL)
    users.set_password(actor=Actor.for_user(user), user_id=user.pk, password=OWN, how="change")
    sync()
    assert sim.password_is_current("elke@contoso.com", OWN)


@pytest.fixture(scope="module")
def other_sim_server(sim_server: SimServer) -> Iterator[SimServer]:
    """A second tenant (largecorp.com), trusting the same test CA as the first."""
    with SimServer(
        seed="large", users=3, groups=0, throttling=False, ca_dir=Path(sim_server.ca_file).parent
    ) as server:
        yield server


def test_only_the_directory_of_the_email_domain_gets_the_password(
    directory: Directory, actor: Actor, sim: SimServer, other_sim_server: SimServer
) -> None:
    other_sim_server.reset("large", users=3, groups=0)
    other, _ = directories.add_directory(
        actor=actor, fields=directory_fields(other_sim_server, name="Largecorp 365")
    )
    user = new_user(actor, "fenna", domain="largecorp.com")
    bindings.bind_user(actor=actor, user_id=user.pk, directory_id=other.pk)
    sync()
    old_id = account_id(user, other)
    assert old_id
    # the company email moves to contoso.com: the user is bound to Contoso too
    users.update_user(actor=actor, user_id=user.pk, changes={"email": "fenna@contoso.com"})
    bindings.bind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    users.set_password(actor=actor, user_id=user.pk, password=CHANGED)
    assert UserBinding.objects.get(user=user, directory=directory).password_pending
    assert not UserBinding.objects.get(user=user, directory=other).password_pending
    sync()
    assert sim.password_is_current("fenna@contoso.com", CHANGED)
    assert not other_sim_server.password_is_current(old_id, CHANGED)
    stale = UserBinding.objects.get(user=user, directory=other)
    assert stale.status == SyncStatus.NOT_SYNCED and not stale.password_pending
    assert not PendingPassword.objects.exists()  # the other tenant's binding never blocks erasure
    words = {row.name: row.password_words for row in portal_status.bound_directories(user)}
    assert words["Largecorp 365"] == "Not needed: your email address is not one of this directory's domains."
    assert words[directory.name].startswith("Your password was delivered on ")


def test_an_undelivered_password_expires_with_visible_words(
    directory: Directory,
    actor: Actor,
    sim: SimServer,
    api: Client,
    admin_client: Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user = new_user(actor, "gus", initial_password=INITIAL)
    bindings.bind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    sync()
    users.set_password(actor=actor, user_id=user.pk, password=CHANGED)
    held = PendingPassword.objects.get(user=user)
    # the periodic job at the edge: one second before the hold ends nothing goes, at its end it does
    monkeypatch.setattr(background, "clock", lambda: held.expires_at - timedelta(seconds=1))
    m365_tasks.expire_held_passwords()
    assert PendingPassword.objects.filter(user=user).exists()
    monkeypatch.setattr(background, "clock", lambda: held.expires_at)
    m365_tasks.expire_held_passwords()
    assert not PendingPassword.objects.filter(user=user).exists()
    binding = UserBinding.objects.get(user=user)
    assert not binding.password_pending and binding.password_expired_at == held.expires_at
    sync()
    assert sim.password_is_current("gus@contoso.com", INITIAL)  # the expired one never went out

    body: dict[str, Any] = api.get(f"/api/v1/users/{user.pk}/bindings/{directory.pk}").json()
    assert body["password_status"] == "expired"
    assert "next User Portal sign-in sends it" in body["password_words"]
    page = admin_client.get(f"/users/{user.pk}/").content.decode()
    assert "The held password expired on" in page
    words = portal_status.bound_directories(user)[0].password_words
    assert words == "Your password did not reach Microsoft 365 in time: sign in again to send it."

    present(user, CHANGED)  # signing in again sends it, and clears the mark
    sync()
    assert sim.password_is_current("gus@contoso.com", CHANGED)
    binding.refresh_from_db()
    assert binding.password_expired_at is None and binding.password_synced_at is not None
    assert (
        api.get(f"/api/v1/users/{user.pk}/bindings/{directory.pk}").json()["password_status"] == "delivered"
    )


def test_a_federated_domain_never_gets_a_password(actor: Actor, sim: SimServer, api: Client) -> None:
    sim.reset("godaddy")
    federated, _ = directories.add_directory(
        actor=actor, fields=directory_fields(sim, name="Bakery 365", godaddy_override=True)
    )
    user = new_user(actor, "hana", domain="bellowsbakery.com", initial_password=INITIAL)
    bindings.bind_user(actor=actor, user_id=user.pk, directory_id=federated.pk)
    assert not UserBinding.objects.get(user=user).password_pending
    sync()
    binding = UserBinding.objects.get(user=user)
    assert binding.remote_id, binding.last_error
    assert not sim.password_is_current(binding.remote_id, INITIAL)  # created with a random one
    users.set_password(actor=actor, user_id=user.pk, password=CHANGED)
    present(user, CHANGED)
    binding.refresh_from_db()
    assert not binding.password_pending and not PendingPassword.objects.exists()
    sim.clear_request_log()
    sync()
    assert not sim.password_is_current(binding.remote_id, CHANGED)
    body = api.get(f"/api/v1/users/{user.pk}/bindings/{federated.pk}").json()
    assert body["password_status"] == "federated"
    assert "signs in through Lockstep" in body["password_words"]
    assert portal_status.bound_directories(user)[0].password_words == (
        "Not needed: you sign in to Microsoft 365 through Lockstep."
    )


@pytest.fixture
def bound_events() -> Iterator[list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        seen.append({k: kwargs[k] for k in ("organization_id", "user_id", "directory_id")})

    events.user_bound.connect(receiver, dispatch_uid="test.user_bound")
    yield seen
    events.user_bound.disconnect(dispatch_uid="test.user_bound")


def test_user_bound_is_emitted_once_per_new_binding(
    directory: Directory, actor: Actor, bound_events: list[dict[str, Any]]
) -> None:
    one = new_user(actor, "ines")
    bindings.bind_user(actor=actor, user_id=one.pk, directory_id=directory.pk)
    assert bound_events == [
        {"organization_id": one.organization_id, "user_id": one.pk, "directory_id": directory.pk}
    ]
    two, three = new_user(actor, "jon"), new_user(actor, "kai")
    result = bulk_bindings.bind_users(
        actor=actor, user_ids=[one.pk, two.pk, three.pk], directory_id=directory.pk
    )
    assert len(result.skipped) == 1  # already bound: no second event
    assert [e["user_id"] for e in bound_events[1:]] == [two.pk, three.pk]
    bindings.unbind_user(actor=actor, user_id=two.pk, directory_id=directory.pk)
    bindings.bind_user(actor=actor, user_id=two.pk, directory_id=directory.pk)  # bound again
    assert [e["user_id"] for e in bound_events] == [one.pk, two.pk, three.pk, two.pk]


def test_a_failed_bind_emits_nothing(
    directory: Directory, actor: Actor, bound_events: list[dict[str, Any]]
) -> None:
    outsider = new_user(actor, "lena", domain="northwind.example")
    with pytest.raises(Exception, match="not a verified domain"):
        bindings.bind_user(actor=actor, user_id=outsider.pk, directory_id=directory.pk)
    assert bound_events == []


def test_an_import_emits_user_bound_for_each_account_it_binds(
    directory: Directory, actor: Actor, sim: SimServer, bound_events: list[dict[str, Any]]
) -> None:
    matched = users.create_user(
        actor=actor, fields={"username": "nestor", "email": "nestor.wilke@contoso.com", "job_title": "CTO"}
    )
    done = imports.scan_candidates(actor=actor, directory_id=directory.pk, wait=True)
    assert done.state == "done", done.error
    wanted = ["tina.muller@contoso.com", "nestor.wilke@contoso.com", "allan.sherman@contoso.com"]
    selection = list(ImportCandidate.objects.filter(upn__in=wanted).values_list("id", flat=True))
    batch = imports.start_import(actor=actor, directory_id=directory.pk, wait=True, candidate_ids=selection)
    assert batch.state == "done", batch.errors
    tina = User.objects.get(email="tina.muller@contoso.com")
    assert sorted(e["user_id"] for e in bound_events) == sorted([matched.pk, tina.pk])  # the admin is skipped
    assert {e["directory_id"] for e in bound_events} == {directory.pk}
    # adopted accounts keep their password until the first sign-in (takeover on)
    users.set_password(actor=actor, user_id=matched.pk, password=CHANGED)
    sync()
    assert sim.password_is_current("nestor.wilke@contoso.com", CHANGED)


def test_unbinding_drops_the_wait_and_binding_again_starts_over(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    user = new_user(actor, "mira", initial_password=INITIAL, state=UserState.ACTIVE)
    bindings.bind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    sync()
    assert UserBinding.objects.get(user=user).password_synced_at is not None
    users.set_password(actor=actor, user_id=user.pk, password=CHANGED)
    bindings.unbind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    assert not UserBinding.objects.get(user=user).password_pending
    assert not PendingPassword.objects.exists()  # nowhere left to go: erased at once
    sync()
    bindings.bind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    sync()
    binding = UserBinding.objects.get(user=user)
    assert binding.password_synced_at is None  # a new binding: never received a password
    present(user, CHANGED)
    sync()
    assert sim.password_is_current(binding.remote_id or "mira@contoso.com", CHANGED)


class ChangingDuringWrite:
    """A Graph port that lets the user pick a new password while the pass's write is on the wire."""

    def __init__(self, port: Any, change: Any) -> None:
        self.port, self.change = port, change

    def write(self, requests: list[Any]) -> list[Any]:
        outcomes = self.port.write(requests)
        if self.change is not None:
            self.change()
            self.change = None
        return outcomes

    def __getattr__(self, name: str) -> Any:
        return getattr(self.port, name)


@pytest.mark.lag_sensitive(
    reason="times a password between two passes: under lag the account's read-back retries first"
)
def test_a_password_set_during_a_pass_still_goes_out(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    user = new_user(actor, "nora", initial_password=INITIAL)
    bindings.bind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    sync()
    users.set_password(actor=actor, user_id=user.pk, password=CHANGED)
    ports = sync_loop.PortCache()
    try:
        port = ChangingDuringWrite(
            ports.port_for(directory),
            lambda: users.set_password(
                actor=Actor.for_user(user), user_id=user.pk, password=OWN, how="change"
            ),
        )
        engine.run_user_pass(directory, port)  # type: ignore[arg-type]
    finally:
        ports.close()
    assert sim.password_is_current("nora@contoso.com", CHANGED)
    binding = UserBinding.objects.get(user=user)
    assert binding.password_pending  # the newer one waits for the next pass, not erased
    assert PendingPassword.objects.filter(user=user).exists()
    sync()
    assert sim.password_is_current("nora@contoso.com", OWN)
    assert not PendingPassword.objects.exists()

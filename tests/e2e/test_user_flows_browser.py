"""SPEC 3's user flows end to end: the email reaches a real SMTP server (aiosmtpd), the browser
follows its link, sets the password, signs in to the User Portal, sees the notice, and m365sim
says the password is now the account's current one.

Each test is one flow of the table in SPEC 3 (plus password takeover off). Lockstep runs as a
live server in a thread; the test drains the outbox (`mail.delivery.drain`) and runs the sync
engine (`sync_until_settled`) where a worker would, so each step is deterministic.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from lockstep.directory.actors import Actor
from lockstep.directory.models import Administrator, Organization, User, UserState
from lockstep.directory.services import users
from lockstep.m365.models import Directory, PendingPassword, UserBinding
from lockstep.m365.services import bindings, directories
from lockstep.mail.delivery import drain
from lockstep.portal.services import invitations
from lockstep.testing.browser import admin_page, browser_context, watch
from lockstep.testing.m365 import TAKEOVER_UPN, directory_fields, sync_until_settled
from lockstep.testing.smtp import Mailbox, ReceivedMail
from m365sim.seed_parts import DEMO_PASSWORD
from m365sim.testing import SimServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Amber-Harbor-Violin-73"
NEW_PASSWORD = "Copper-Willow-Falcon-58"
NOTICE = "Your password has been updated in Microsoft 365."


@pytest.fixture
def directory(sim: SimServer, actor: Actor) -> Directory:
    created, _ = directories.add_directory(actor=actor, fields=directory_fields(sim))
    return created


@pytest.fixture
def base(live_server: Any, settings: Any) -> str:
    """Links in emails point at the live server."""
    settings.BASE_URL = live_server.url
    return str(live_server.url)


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    with browser_context(browser, live_server) as context:
        watched = watch(context.new_page(), live_server.url)
        yield watched.page
        if watched.page.url.startswith(live_server.url):
            assert watched.csp_violations() == []


def _person(actor: Actor, *, state: str, password: str | None = None, **fields: str) -> User:
    return users.create_user(
        actor=actor,
        fields={
            "username": "nora",
            "email": "nora.quinn@contoso.com",
            "alternate_email": "nora.home@example.net",
            "first_name": "Nora",
            "last_name": "Quinn",
            **fields,
        },
        state=state,
        initial_password=password,
    )


def _bind_and_sync(actor: Actor, user: User, directory: Directory) -> UserBinding:
    bindings.bind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    sync_until_settled()
    binding = UserBinding.objects.get(user=user, directory=directory)
    assert binding.remote_id, binding.last_error
    return binding


def _one_mail(mailbox: Mailbox, address: str) -> ReceivedMail:
    drain()
    (mail,) = mailbox.wait_for(address)
    assert mail.html and mail.text, "both an HTML and a text part"
    return mail


def _link(mail: ReceivedMail, path: str) -> str:
    (link,) = {link for link in mail.links() if f"/portal/{path}" in link}
    assert re.fullmatch(rf"http://[^/]+/portal/{path}/([A-Za-z0-9_-]{{20,}}/)?(\?org=[a-z0-9-]+)?", link), (
        link
    )
    return link


def _set_password_from(page: Any, link: str, button: str, password: str = PASSWORD) -> None:
    from playwright.sync_api import expect

    page.goto(link)
    page.get_by_label("New password", exact=True).fill(password)
    page.get_by_label("New password, again").fill(password)
    page.get_by_role("button", name=button).click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def _sign_in(page: Any, base: str, password: str = PASSWORD, login: str = "nora") -> None:
    from playwright.sync_api import expect

    if "/portal/login/" not in page.url:
        page.goto(f"{base}/portal/login/")
    page.get_by_label("Username or email").fill(login)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Hello, Nora Quinn")).to_be_visible()


def _notice_after_sync(page: Any) -> None:
    """The engine delivers the held password; the home page then says so, once."""
    from playwright.sync_api import expect

    sync_until_settled()
    page.reload()
    expect(page.get_by_text(NOTICE)).to_be_visible()
    page.reload()
    expect(page.get_by_text(NOTICE)).to_have_count(0)


def test_staged_without_password_activation_email_sets_it_and_sign_in_syncs(
    actor: Actor, directory: Directory, sim: SimServer, mailbox: Mailbox, page: Any, base: str
) -> None:
    nora = _person(actor, state=UserState.STAGED)
    binding = _bind_and_sync(actor, nora, directory)
    # Staged and absent from Microsoft 365: created enabled, with a password nobody knows.
    account = sim.sim.tenant.find_user(binding.remote_id)
    assert account["accountEnabled"] is True
    assert not sim.password_is_current(binding.remote_id, PASSWORD)

    users.change_state(actor=actor, user_id=nora.pk, to_state=UserState.ACTIVE)
    invitations.send_activation(actor=actor, user_ids=[nora.pk])
    mail = _one_mail(mailbox, "nora.home@example.net")  # the alternate email
    assert mailbox.to("nora.quinn@contoso.com") == []
    _set_password_from(page, _link(mail, "activate"), "Set my password")
    _sign_in(page, base)
    _notice_after_sync(page)
    assert sim.password_is_current(binding.remote_id, PASSWORD)
    assert not sim.password_must_change(binding.remote_id)  # forceChangePasswordNextSignIn false


def test_staged_with_password_welcome_email_then_sign_in(
    actor: Actor, directory: Directory, sim: SimServer, mailbox: Mailbox, page: Any, base: str
) -> None:
    """The password the admin chose went with the new account; the first sign-in tells the user."""
    from playwright.sync_api import expect

    nora = _person(actor, state=UserState.STAGED, password=PASSWORD)
    binding = _bind_and_sync(actor, nora, directory)
    assert sim.password_is_current(binding.remote_id, PASSWORD)
    users.change_state(actor=actor, user_id=nora.pk, to_state=UserState.ACTIVE)
    invitations.send_activation(actor=actor, user_ids=[nora.pk])
    mail = _one_mail(mailbox, "nora.quinn@contoso.com")
    assert "nora" in mail.text  # the welcome email names the username to sign in with
    page.goto(_link(mail, "login"))
    _sign_in(page, base)
    expect(page.get_by_text(NOTICE)).to_be_visible()
    page.reload()
    expect(page.get_by_text(NOTICE)).to_have_count(0)


def test_staged_and_absent_first_sign_in_through_a_forgotten_password_reset(
    actor: Actor, directory: Directory, sim: SimServer, mailbox: Mailbox, page: Any, base: str
) -> None:
    """Created with a random password; the user who never got an email asks for a reset."""
    from playwright.sync_api import expect

    nora = _person(actor, state=UserState.STAGED)
    binding = _bind_and_sync(actor, nora, directory)
    assert binding.password_synced_at is None
    users.change_state(actor=actor, user_id=nora.pk, to_state=UserState.ACTIVE)
    page.goto(f"{base}/portal/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Username or company email").fill("nora.quinn@contoso.com")
    page.get_by_role("button", name="Email me a reset link").click()
    expect(page.get_by_role("heading", name=re.compile("Check your email"))).to_be_visible()
    drain()
    (mail, *_) = mailbox.wait_for("nora.quinn@contoso.com")
    _set_password_from(page, _link(mail, "reset"), "Change my password")
    _sign_in(page, base)
    _notice_after_sync(page)
    assert sim.password_is_current(binding.remote_id, PASSWORD)


def test_staged_and_already_present_is_adopted_and_keeps_its_password_until_sign_in(
    actor: Actor, directory: Directory, sim: SimServer, mailbox: Mailbox, page: Any, base: str
) -> None:
    account = sim.sim.tenant.find_user(TAKEOVER_UPN)
    nora = _person(
        actor,
        state=UserState.STAGED,
        username="nestor",
        email=TAKEOVER_UPN,
        first_name="Nora",
        last_name="Quinn",
        alternate_email="nestor.home@example.net",
    )
    binding = _bind_and_sync(actor, nora, directory)
    assert binding.remote_id == account["id"] and binding.adopted
    assert sim.password_is_current(account["id"], DEMO_PASSWORD), "no password dispatched"
    users.change_state(actor=actor, user_id=nora.pk, to_state=UserState.ACTIVE)
    invitations.send_activation(actor=actor, user_ids=[nora.pk])
    _set_password_from(
        page, _link(_one_mail(mailbox, "nestor.home@example.net"), "activate"), "Set my password"
    )
    _sign_in(page, base, login="nestor")
    _notice_after_sync(page)
    assert sim.password_is_current(account["id"], PASSWORD)
    assert not sim.password_is_current(account["id"], DEMO_PASSWORD)


def test_active_with_password_gets_the_added_email_and_sign_in_syncs_then_a_change_syncs_too(
    actor: Actor, directory: Directory, sim: SimServer, mailbox: Mailbox, page: Any, base: str
) -> None:
    from playwright.sync_api import expect

    nora = _person(actor, state=UserState.ACTIVE, password=PASSWORD)
    PendingPassword.objects.filter(user=nora).delete()  # set long ago: its hold is over
    binding = _bind_and_sync(actor, nora, directory)
    assert not sim.password_is_current(binding.remote_id, PASSWORD)
    mail = _one_mail(mailbox, "nora.quinn@contoso.com")
    assert directory.name in mail.text and directory.name in mail.html
    page.goto(_link(mail, "login"))
    _sign_in(page, base)
    _notice_after_sync(page)
    assert sim.password_is_current(binding.remote_id, PASSWORD)

    # The user changes it in the User Portal: it reaches Microsoft 365 as well.
    page.get_by_role("link", name="Change your password").click()
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status")).to_contain_text("changed")
    sync_until_settled()
    assert sim.password_is_current(binding.remote_id, NEW_PASSWORD)
    drain()
    assert any("changed" in m.subject.lower() for m in mailbox.to("nora.quinn@contoso.com")[1:])


def test_active_without_password_syncs_once_an_admin_sets_one_and_the_user_signs_in(
    actor: Actor,
    owner: Administrator,
    directory: Directory,
    sim: SimServer,
    mailbox: Mailbox,
    browser: Any,
    live_server: Any,
    page: Any,
    base: str,
) -> None:
    from playwright.sync_api import expect

    nora = _person(actor, state=UserState.ACTIVE)
    binding = _bind_and_sync(actor, nora, directory)
    drain()
    assert mailbox.to("nora.quinn@contoso.com") == [], "nothing to tell a user without a password"
    with admin_page(browser, live_server, owner) as admin:
        admin.page.goto(f"{live_server.url}/users/{nora.pk}/password/")
        admin.page.get_by_label("New password").fill(PASSWORD)
        admin.page.get_by_role("button", name="Set password").click()
        expect(admin.page.get_by_role("heading", name="nora")).to_be_visible()
    _sign_in(page, base)
    _notice_after_sync(page)
    assert sim.password_is_current(binding.remote_id, PASSWORD)
    drain()
    assert [m.subject for m in mailbox.to("nora.quinn@contoso.com")], "the password-changed email"


def test_takeover_off_binding_sends_a_reset_email_and_sign_in_alone_sends_nothing(
    actor: Actor,
    org: Organization,
    directory: Directory,
    sim: SimServer,
    mailbox: Mailbox,
    page: Any,
    base: str,
) -> None:
    Organization.objects.filter(pk=org.pk).update(password_takeover=False)
    nora = _person(actor, state=UserState.ACTIVE, password=PASSWORD)
    PendingPassword.objects.filter(user=nora).delete()  # set long ago: its hold is over
    binding = _bind_and_sync(actor, nora, directory)
    mail = _one_mail(mailbox, "nora.quinn@contoso.com")
    assert directory.name in mail.text
    reset = _link(mail, "reset")
    _sign_in(page, base)  # with takeover off, signing in sends nothing
    sync_until_settled()
    assert not sim.password_is_current(binding.remote_id, PASSWORD)
    page.get_by_role("button", name="Sign out").click()
    _set_password_from(page, reset, "Change my password", NEW_PASSWORD)
    sync_until_settled()
    assert sim.password_is_current(binding.remote_id, NEW_PASSWORD)

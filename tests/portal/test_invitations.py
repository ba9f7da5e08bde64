"""Sending the activation / welcome email to one user or many, and "can sign in yet?"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from lockstep.directory.actors import Actor
from lockstep.directory.errors import PermissionDenied, ValidationFailed
from lockstep.directory.models import AuditEvent, Organization, User
from lockstep.directory.services import users
from lockstep.mail.models import OutboundEmail
from lockstep.portal.models import EmailedLink, LinkPurpose, SignInThrottle
from lockstep.portal.services import emails, invitations, links, readiness
from lockstep.testing.sent_emails import SentEmail, capture

pytestmark = pytest.mark.django_db

GOOD = "Tr1cky-Kangaroo-Lamp"


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[SentEmail]:
    return capture(monkeypatch)


def _user(
    actor: Actor, name: str, *, state: str = "active", password: str | None = None, alt: str = ""
) -> User:
    return users.create_user(
        actor=actor,
        fields={"username": name, "email": f"{name}@contoso.com", "alternate_email": alt},
        state=state,
        initial_password=password,
    )


def test_each_user_gets_the_email_their_state_calls_for(actor: Actor, sent: list[SentEmail]) -> None:
    adele = _user(actor, "adele", alt="adele@home.example")  # no password, an alternate email
    bianca = _user(actor, "bianca")  # no password, no alternate email
    carlos = _user(actor, "carlos", password=GOOD)
    dana = _user(actor, "dana", state="staged")
    erin = _user(actor, "erin", state="suspended")
    ids = [u.pk for u in (erin, dana, carlos, bianca, adele)]
    result = invitations.send_activation(actor=actor, user_ids=ids)
    assert [(o.username, o.sent, o.to, o.reason) for o in result.outcomes] == [
        ("adele", "activation", "adele@home.example", ""),
        ("bianca", "activation", "bianca@contoso.com", ""),
        ("carlos", "welcome", "carlos@contoso.com", ""),
        ("dana", "skipped", "", "Staged: activate the user first."),
        ("erin", "skipped", "", "Suspended: unsuspend the user first."),
    ]
    assert result.changed == [adele.pk, bianca.pk, carlos.pk]
    assert [(s.username, s.reason) for s in result.skipped] == [
        ("dana", "Staged: activate the user first."),
        ("erin", "Suspended: unsuspend the user first."),
    ]
    assert [(e.kind, e.to) for e in sent] == [
        ("activation", "adele@home.example"),
        ("activation", "bianca@contoso.com"),
        ("welcome", "carlos@contoso.com"),
    ]
    assert sent[2].context["username"] == "carlos"
    audit = AuditEvent.objects.filter(action__startswith="user.send_").order_by("pk")
    assert [(a.action, a.target_label, a.after) for a in audit] == [
        ("user.send_activation_email", "adele", {"to": "adele@home.example"}),
        ("user.send_activation_email", "bianca", {"to": "bianca@contoso.com"}),
        ("user.send_welcome_email", "carlos", {"to": "carlos@contoso.com"}),
    ]


def test_the_activation_link_opens_the_activation_page_once(actor: Actor, sent: list[SentEmail]) -> None:
    adele = _user(actor, "adele")
    invitations.send_activation(actor=actor, user_ids=[adele.pk])
    email = sent[0]
    token = email.context["link"].rstrip("/").rsplit("/", 1)[1]
    link = EmailedLink.objects.get()
    assert email.context["expires_at"] == link.expires_at and link.purpose == LinkPurpose.ACTIVATION
    assert links.consume(token, LinkPurpose.ACTIVATION).user == adele


def test_sending_again_voids_the_first_link(actor: Actor, sent: list[SentEmail]) -> None:
    adele = _user(actor, "adele")
    invitations.send_activation(actor=actor, user_ids=[adele.pk])
    invitations.send_activation(actor=actor, user_ids=[adele.pk])
    first, second = (e.context["link"].rstrip("/").rsplit("/", 1)[1] for e in sent)
    with pytest.raises(links.LinkRefused):
        links.peek(first, LinkPurpose.ACTIVATION)
    links.peek(second, LinkPurpose.ACTIVATION)


def test_read_only_and_unknown_ids_send_nothing(
    actor: Actor, read_only_actor: Actor, other_org: Organization, sent: list[SentEmail]
) -> None:
    other_owner_actor = Actor.system(other_org.pk)
    adele = _user(actor, "adele")
    with pytest.raises(PermissionDenied):
        invitations.send_activation(actor=read_only_actor, user_ids=[adele.pk])
    with pytest.raises(ValidationFailed) as failed:
        invitations.send_activation(actor=actor, user_ids=[adele.pk, 999999])
    assert "do not exist: 999999" in failed.value.errors["user_ids"][0]
    with pytest.raises(ValidationFailed):  # another organization's user looks like a missing one
        invitations.send_activation(actor=other_owner_actor, user_ids=[adele.pk])
    assert sent == [] and EmailedLink.objects.count() == 0


def test_can_sign_in_says_why_not(actor: Actor) -> None:
    staged = _user(actor, "staged", state="staged", password=GOOD)
    suspended = _user(actor, "suspended", state="suspended", password=GOOD)
    nopass = _user(actor, "nopass")
    ready = _user(actor, "ready", password=GOOD)
    assert readiness.can_sign_in(staged) == (
        False,
        "No, because the user is staged: activate the user first.",
    )
    assert readiness.can_sign_in(suspended) == (False, "No, because the user is suspended.")
    assert readiness.can_sign_in(nopass)[0] is False
    assert "no password yet" in readiness.can_sign_in(nopass)[1]
    assert readiness.can_sign_in(ready) == (True, "Yes.")


def test_a_lock_stops_sign_in_until_it_ends(actor: Actor) -> None:
    ready = _user(actor, "ready", password=GOOD)
    until = timezone.now() + timedelta(minutes=15)
    lock = SignInThrottle.objects.create(scope="account", key=str(ready.pk), failures=10, locked_until=until)
    can, words = readiness.can_sign_in(ready)
    assert not can and f"locked after failed attempts until {until:%Y-%m-%d %H:%M} UTC" in words
    SignInThrottle.objects.create(scope="source", key="203.0.113.9", failures=50, locked_until=until)
    lock.locked_until = timezone.now() - timedelta(seconds=1)  # the lock has ended
    lock.save()
    assert readiness.can_sign_in(ready) == (True, "Yes.")  # a locked client address is not the account
    assert readiness.for_users([ready]) == {ready.pk: (True, "Yes.")}


def test_last_email_is_the_newest(actor: Actor, sent: list[SentEmail]) -> None:
    adele, bianca = _user(actor, "adele"), _user(actor, "bianca")
    invitations.send_activation(actor=actor, user_ids=[adele.pk])
    users.set_password(actor=actor, user_id=adele.pk, password=GOOD)
    found = emails.last_emails([adele.pk, bianca.pk])
    assert list(found) == [adele.pk]
    newest = OutboundEmail.objects.filter(user=adele).latest("pk")
    assert newest.kind == "password_changed"
    assert (found[adele.pk].kind, found[adele.pk].status, found[adele.pk].status_words) == (
        "password_changed",
        "queued",
        emails.status_words_of(newest),
    )
    assert found[adele.pk].kind_words == "Password changed" and found[adele.pk].at == newest.created_at


def test_status_words_for_each_status(actor: Actor, sent: list[SentEmail]) -> None:
    adele = _user(actor, "adele")
    invitations.send_activation(actor=actor, user_ids=[adele.pk])
    email = OutboundEmail.objects.get()
    for status in ("queued", "retrying", "sent", "failed"):
        email.status, email.attempts, email.last_error = status, 3, "451 try later"
        email.sent_at = timezone.now() if status == "sent" else None
        email.save()
        words = emails.last_emails([adele.pk])[adele.pk].status_words
        assert words == emails.status_words_of(email) and words
        if status in ("retrying", "failed"):
            assert "451 try later" in words

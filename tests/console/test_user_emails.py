"""The Admin Portal's send-activation button, last email and "can sign in" on the user page, and
the Users list's bulk "Send activation email"."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from lockstep.directory.actors import Actor
from lockstep.directory.models import AuditEvent, User
from lockstep.directory.services import users
from lockstep.mail.models import OutboundEmail
from lockstep.portal.models import EmailedLink
from lockstep.portal.services import emails
from lockstep.testing.sent_emails import SentEmail, capture

MakeUser = Callable[..., User]
GOOD = "Tr1cky-Kangaroo-Lamp"


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[SentEmail]:
    return capture(monkeypatch)


def _detail(client: Client, user: User) -> str:
    return client.get(reverse("console:user_detail", args=[user.pk])).content.decode()


def test_detail_offers_the_activation_email_and_says_why_sign_in_is_not_possible(
    admin_client: Client, make_user: MakeUser, actor: Actor, sent: list[SentEmail]
) -> None:
    adele = make_user("adele", alternate_email="adele@home.example")
    users.change_state(actor=actor, user_id=adele.pk, to_state="active")
    html = _detail(admin_client, adele)
    assert "Send activation email…</summary>" in html
    assert "Emails adele@home.example a link to set a password" in html
    assert "No, because the user has no password yet" in html
    assert "None sent yet." in html

    done = admin_client.post(reverse("console:user_send_activation", args=[adele.pk]), follow=True)
    page = done.content.decode()
    assert "Activation email on its way to adele@home.example." in page
    queued = emails.status_words_of(OutboundEmail.objects.get(kind="activation"))
    assert "Activation, " in page and f"UTC: {queued}" in page
    assert [(e.kind, e.to) for e in sent] == [("activation", "adele@home.example")]
    assert (
        AuditEvent.objects.filter(action="user.send_activation_email", target_id=str(adele.pk)).count() == 1
    )


def test_detail_offers_the_welcome_email_when_the_user_has_a_password(
    admin_client: Client, make_user: MakeUser, actor: Actor, sent: list[SentEmail]
) -> None:
    adele = make_user("adele")
    users.change_state(actor=actor, user_id=adele.pk, to_state="active")
    users.set_password(actor=actor, user_id=adele.pk, password=GOOD)
    html = _detail(admin_client, adele)
    assert "Send welcome email…</summary>" in html and 'Can sign in</dt><dd class="sign-in-yes">Yes.' in html
    assert "Password changed, " in html  # the last email: set_password sent one
    admin_client.post(reverse("console:user_send_activation", args=[adele.pk]))
    assert [e.kind for e in sent] == ["password_changed", "welcome"]


def test_a_staged_user_gets_no_button_and_a_post_sends_nothing(
    admin_client: Client, make_user: MakeUser, sent: list[SentEmail]
) -> None:
    dana = make_user("dana")
    html = _detail(admin_client, dana)
    assert "Send activation email" not in html
    assert "No activation or welcome email can be sent yet. Staged: activate the user first." in html
    done = admin_client.post(reverse("console:user_send_activation", args=[dana.pk]), follow=True)
    assert "No email sent to dana: Staged: activate the user first." in done.content.decode()
    assert sent == [] and EmailedLink.objects.count() == 0


def test_read_only_admin_sees_the_facts_but_cannot_send(
    read_only_client: Client, make_user: MakeUser, actor: Actor, sent: list[SentEmail]
) -> None:
    adele = make_user("adele")
    users.change_state(actor=actor, user_id=adele.pk, to_state="active")
    html = _detail(read_only_client, adele)
    assert "No, because the user has no password yet" in html and "Send activation email" not in html
    assert read_only_client.post(reverse("console:user_send_activation", args=[adele.pk])).status_code == 403
    assert sent == []


def test_bulk_send_activation_confirm_then_apply(
    admin_client: Client, make_user: MakeUser, actor: Actor, sent: list[SentEmail]
) -> None:
    adele, carlos, dana = make_user("adele"), make_user("carlos"), make_user("dana")
    users.change_state(actor=actor, user_id=adele.pk, to_state="active")
    users.change_state(actor=actor, user_id=carlos.pk, to_state="active")
    users.set_password(actor=actor, user_id=carlos.pk, password=GOOD)
    sent.clear()
    ids = [adele.pk, carlos.pk, dana.pk]
    list_html = admin_client.get(reverse("console:users")).content.decode()
    assert 'name="action" value="send_activation">Send activation email…</button>' in list_html

    confirm = admin_client.post(reverse("console:users_bulk"), {"action": "send_activation", "user_ids": ids})
    html = confirm.content.decode()
    assert confirm.status_code == 200
    assert "1 user without a password gets an activation email" in html
    assert "1 user who already has a password gets a welcome email" in html
    assert "Staged: activate the user first." in html and "Email 2 users</button>" in html
    assert sent == []

    csv = ",".join(str(i) for i in ids)
    done = admin_client.post(
        reverse("console:users_bulk_apply"), {"action": "send_activation", "user_ids_csv": csv}
    )
    page = done.content.decode()
    assert done.status_code == 200 and "2 users emailed. 1 left as it was." in page
    assert sorted((e.kind, e.to) for e in sent) == [
        ("activation", "adele@contoso.com"),
        ("welcome", "carlos@contoso.com"),
    ]


def test_bulk_send_activation_with_nobody_active(
    admin_client: Client, make_user: MakeUser, sent: list[SentEmail]
) -> None:
    dana = make_user("dana")
    confirm = admin_client.post(
        reverse("console:users_bulk"), {"action": "send_activation", "user_ids": [dana.pk]}
    )
    html = confirm.content.decode()
    assert "Nothing to send: none of the selected users is active" in html and "disabled" in html

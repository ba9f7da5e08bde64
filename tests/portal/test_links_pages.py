"""The activation, reset and forgotten-password pages over HTTP (Django's test client)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from lockstep.directory.actors import Actor
from lockstep.directory.models import AuditEvent, User
from lockstep.directory.services import passwords, users
from lockstep.portal.models import EmailedLink, LinkPurpose
from lockstep.portal.services import links
from lockstep.testing.sent_emails import SentEmail, capture

pytestmark = pytest.mark.django_db

GOOD = "Tr1cky-Kangaroo-Lamp"


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[SentEmail]:
    return capture(monkeypatch)


@pytest.fixture
def adele(actor: Actor) -> User:
    return users.create_user(
        actor=actor,
        fields={
            "username": "adele",
            "email": "adele@contoso.com",
            "alternate_email": "adele@home.example",
            "first_name": "Adele",
            "last_name": "Vance",
        },
        state="active",
    )


def _set(client: Client, url: str, password: str, again: str | None = None) -> Any:
    return client.post(url, {"password": password, "password_again": password if again is None else again})


def test_activation_page_says_who_you_are(adele: User) -> None:
    token = links.issue(user=adele, purpose=LinkPurpose.ACTIVATION)
    page = Client().get(f"/portal/activate/{token}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Activate your account" in html and "adele@contoso.com" in html and "Adele Vance" in html
    assert "Contoso Ltd" in html and 'name="password_again"' in html
    assert "Must be 8 to 256 characters long." in html
    assert "no-store" in page["Cache-Control"]


def test_activation_sets_the_password_audits_and_sends_to_sign_in(adele: User, sent: list[SentEmail]) -> None:
    token = links.issue(user=adele, purpose=LinkPurpose.ACTIVATION)
    client = Client()
    done = _set(client, f"/portal/activate/{token}/", GOOD)
    assert done.status_code == 302
    assert done["Location"] == f"/portal/login/?org={adele.organization.slug}"
    adele.refresh_from_db()
    assert passwords.verify_user_password(adele, GOOD)
    audit = AuditEvent.objects.get(action="user.set_password")
    assert (audit.actor_kind, audit.actor_id, audit.target_id) == ("user", str(adele.pk), str(adele.pk))
    assert EmailedLink.objects.get().used_at is not None
    assert [(e.kind, e.to, e.context["how"]) for e in sent] == [
        ("password_changed", "adele@contoso.com", "activation")
    ]
    assert [str(m) for m in get_messages(done.wsgi_request)] == [
        "Your password is set. Sign in with it to finish: that also sends it to Microsoft 365."
    ]
    # Not signed in: the portal still asks for the sign-in.
    assert client.get("/portal/")["Location"].startswith("/portal/login/")


def test_policy_errors_are_named_beside_the_field_and_the_link_stays_usable(adele: User) -> None:
    token = links.issue(user=adele, purpose=LinkPurpose.ACTIVATION)
    url = f"/portal/activate/{token}/"
    weak = _set(Client(), url, "adele2024")
    html = weak.content.decode()
    assert weak.status_code == 200
    assert 'id="id_password_error"' in html and "Must contain at least 3 of these 4 kinds" in html
    differ = _set(Client(), url, GOOD, GOOD + "x").content.decode()
    assert "The two passwords differ" in differ.split('id="id_password_again_error"')[1].split("</ul>")[0]
    adele.refresh_from_db()
    assert not adele.has_password and EmailedLink.objects.get().used_at is None
    assert _set(Client(), url, GOOD).status_code == 302


def test_a_used_link_shows_what_to_do(adele: User) -> None:
    token = links.issue(user=adele, purpose=LinkPurpose.ACTIVATION)
    assert _set(Client(), f"/portal/activate/{token}/", GOOD).status_code == 302
    for again in (
        Client().get(f"/portal/activate/{token}/"),
        _set(Client(), f"/portal/activate/{token}/", GOOD),
    ):
        html = again.content.decode()
        assert again.status_code == 410
        assert "This link was already used" in html and "Ask your administrator" in html
    adele.refresh_from_db()
    assert AuditEvent.objects.filter(action="user.set_password").count() == 1


def test_an_unknown_link_is_404_with_words() -> None:
    page = Client().get("/portal/reset/not-a-real-token/")
    html = page.content.decode()
    assert page.status_code == 404
    assert "This link is not valid" in html and "Ask for a new password reset email" in html


def test_an_expired_reset_link_offers_a_new_one(adele: User) -> None:
    token = links.issue(user=adele, purpose=LinkPurpose.PASSWORD_RESET)
    link = EmailedLink.objects.get()
    link.expires_at = link.created_at  # already past
    link.save()
    page = Client().get(f"/portal/reset/{token}/")
    html = page.content.decode()
    assert page.status_code == 410 and "This link expired on" in html
    assert f'href="/portal/forgot/?org={adele.organization.slug}"' in html


def test_reset_page_sets_the_password_with_how_reset(adele: User, sent: list[SentEmail]) -> None:
    token = links.issue(user=adele, purpose=LinkPurpose.PASSWORD_RESET)
    assert "Choose a new password" in Client().get(f"/portal/reset/{token}/").content.decode()
    done = _set(Client(), f"/portal/reset/{token}/", GOOD)
    assert done.status_code == 302 and done["Location"].startswith("/portal/login/")
    adele.refresh_from_db()
    assert passwords.verify_user_password(adele, GOOD)
    assert [(e.kind, e.context["how"]) for e in sent] == [("password_changed", "reset")]


def test_an_activation_token_does_not_open_the_reset_page(adele: User) -> None:
    token = links.issue(user=adele, purpose=LinkPurpose.ACTIVATION)
    assert Client().get(f"/portal/reset/{token}/").status_code == 404


def _forgot(login: str, org: str = "") -> Any:
    client = Client()
    assert client.get("/portal/forgot/").status_code == 200
    return client.post(
        "/portal/forgot/" + (f"?org={org}" if org else ""), {"login": login, "organization": org}
    )


def test_forgot_answers_the_same_whether_or_not_the_account_exists(
    adele: User, actor: Actor, sent: list[SentEmail]
) -> None:
    users.create_user(actor=actor, fields={"username": "staged", "email": "staged@contoso.com"})
    nobody = _forgot("nobody@contoso.com")
    assert (EmailedLink.objects.count(), len(sent)) == (0, 0)
    staged = _forgot("staged")  # exists, but not active: nothing either
    assert (EmailedLink.objects.count(), len(sent)) == (0, 0)
    known = _forgot("adele@contoso.com")
    assert (EmailedLink.objects.count(), len(sent)) == (1, 2)
    assert nobody.status_code == staged.status_code == known.status_code == 200
    assert nobody.content == staged.content == known.content
    assert "Check your email" in known.content.decode()
    assert nobody.cookies.keys() == known.cookies.keys()


def test_forgot_emails_the_company_and_the_alternate_address_a_working_link(
    adele: User, sent: list[SentEmail]
) -> None:
    _forgot("ADELE", org=adele.organization.slug)
    assert [(e.kind, e.to, e.context["directory_name"]) for e in sent] == [
        ("password_reset", "adele@contoso.com", ""),
        ("password_reset", "adele@home.example", ""),
    ]
    url = sent[0].context["link"]
    assert url == sent[1].context["link"] and "/portal/reset/" in url
    token = url.rstrip("/").rsplit("/", 1)[1]
    assert links.peek(token, LinkPurpose.PASSWORD_RESET).user == adele


def test_forgot_in_another_organization_finds_nobody(
    adele: User, other_org: Any, sent: list[SentEmail]
) -> None:
    _forgot("adele", org=other_org.slug)
    assert sent == []


def test_asking_again_within_a_minute_sends_nothing_more(adele: User, sent: list[SentEmail]) -> None:
    first, second = _forgot("adele"), _forgot("adele")
    assert first.content == second.content
    assert len(sent) == 2 and EmailedLink.objects.count() == 1


def test_forgot_needs_a_login(adele: User) -> None:
    page = Client().post("/portal/forgot/", {"login": ""})
    assert page.status_code == 200 and 'id="id_login_error"' in page.content.decode()
    assert "This field is required." in page.content.decode()

"""Which email each event of SPEC 3 sends (the events are emitted directly, as the engine does).

- user_bound, password takeover on: an active user with a password gets the added-to-directory email;
- user_bound, takeover off: the same user gets a password reset email for that directory;
- a staged user or one without a password gets nothing on binding;
- password_set by change, reset, activation or an admin: the password changed email; "initial": none.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction

from lockstep.directory import events
from lockstep.directory.actors import Actor
from lockstep.directory.models import Organization, User
from lockstep.directory.services import users
from lockstep.m365.models import Directory, DirectoryDomain
from lockstep.portal.models import EmailedLink, LinkPurpose
from lockstep.portal.services import links
from lockstep.testing.sent_emails import SentEmail, capture

pytestmark = pytest.mark.django_db

GOOD = "Tr1cky-Kangaroo-Lamp"


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[SentEmail]:
    return capture(monkeypatch)


def _directory(org: Organization, name: str) -> Directory:
    return Directory.objects.create(
        organization=org, name=name, tenant_id=name, client_id="c", credential_kind="secret"
    )


def _user(actor: Actor, name: str, *, state: str = "active", password: str | None = GOOD) -> User:
    return users.create_user(
        actor=actor,
        fields={"username": name, "email": f"{name}@contoso.com", "alternate_email": f"{name}@home.example"},
        state=state,
        initial_password=password,
    )


def _bind(user: User, directory: Directory) -> None:
    events.emit(
        events.user_bound, organization_id=user.organization_id, user_id=user.pk, directory_id=directory.pk
    )


def test_takeover_on_binding_an_active_user_with_a_password_sends_added_to_directory(
    actor: Actor, org: Organization, sent: list[SentEmail]
) -> None:
    assert org.password_takeover  # the default
    adele = _user(actor, "adele")
    sent.clear()
    _bind(adele, _directory(org, "Contoso 365"))
    assert [(e.kind, e.to, e.context["directory_name"]) for e in sent] == [
        ("added_to_directory", "adele@contoso.com", "Contoso 365")
    ]
    assert sent[0].context["portal_url"].endswith(f"/portal/login/?org={org.slug}")
    assert EmailedLink.objects.count() == 0


def test_takeover_off_binding_sends_a_reset_link_for_each_directory(
    actor: Actor, org: Organization, sent: list[SentEmail]
) -> None:
    org.password_takeover = False
    org.save()
    adele = _user(actor, "adele")
    sent.clear()
    first, second = _directory(org, "Contoso 365"), _directory(org, "Contoso Labs")
    _bind(adele, first)
    _bind(adele, second)
    assert [(e.kind, e.to, e.context["directory_name"]) for e in sent] == [
        ("password_reset", "adele@contoso.com", "Contoso 365"),
        ("password_reset", "adele@contoso.com", "Contoso Labs"),
    ]
    assert sorted(EmailedLink.objects.values_list("purpose", "directory_id")) == sorted(
        [(LinkPurpose.PASSWORD_RESET, first.pk), (LinkPurpose.PASSWORD_RESET, second.pk)]
    )
    for email in sent:  # both links open the reset page until one is used
        token = email.context["link"].rstrip("/").rsplit("/", 1)[1]
        assert links.peek(token, LinkPurpose.PASSWORD_RESET).user == adele


def test_a_reset_link_sent_on_binding_lasts_as_long_as_an_activation_link(
    actor: Actor, org: Organization, sent: list[SentEmail], settings: object
) -> None:
    org.password_takeover = False
    org.save()
    adele = _user(actor, "adele")
    _bind(adele, _directory(org, "Contoso 365"))
    on_binding = EmailedLink.objects.get(purpose=LinkPurpose.PASSWORD_RESET, directory_id__isnull=False)
    assert on_binding.expires_at - on_binding.created_at == timedelta(hours=settings.ACTIVATION_LINK_HOURS)  # type: ignore[attr-defined]
    links.issue(user=adele, purpose=LinkPurpose.PASSWORD_RESET)  # asked for on the forgot page
    asked = EmailedLink.objects.get(purpose=LinkPurpose.PASSWORD_RESET, directory_id__isnull=True)
    assert asked.expires_at - asked.created_at == timedelta(minutes=settings.RESET_LINK_MINUTES)  # type: ignore[attr-defined]


def test_takeover_off_a_user_of_a_federated_domain_gets_no_reset_link_on_binding(
    actor: Actor, org: Organization, sent: list[SentEmail]
) -> None:
    org.password_takeover = False
    org.save()
    directory = _directory(org, "Contoso 365")
    DirectoryDomain.objects.create(
        directory=directory, name="contoso.com", is_verified=True, authentication_type="Federated"
    )
    adele = _user(actor, "adele")
    sent.clear()
    _bind(adele, directory)
    assert [(e.kind, e.context["directory_name"]) for e in sent] == [("added_to_directory", "Contoso 365")]
    assert EmailedLink.objects.count() == 0


@pytest.mark.parametrize("takeover", [True, False])
def test_binding_a_staged_user_or_one_without_a_password_sends_nothing(
    actor: Actor, org: Organization, sent: list[SentEmail], takeover: bool
) -> None:
    org.password_takeover = takeover
    org.save()
    directory = _directory(org, "Contoso 365")
    _bind(_user(actor, "staged", state="staged"), directory)
    _bind(_user(actor, "nopass", password=None), directory)
    _bind(_user(actor, "suspended", state="suspended"), directory)
    assert sent == []
    assert EmailedLink.objects.count() == 0


def test_binding_email_rolls_back_with_the_binding(
    actor: Actor, org: Organization, sent: list[SentEmail]
) -> None:
    from lockstep.mail.models import OutboundEmail

    adele = _user(actor, "adele")
    before = OutboundEmail.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        _bind(adele, _directory(org, "Contoso 365"))
        raise RuntimeError("the bind failed")
    assert OutboundEmail.objects.count() == before


@pytest.mark.parametrize("how", ["change", "reset", "activation", "admin"])
def test_password_set_sends_password_changed(actor: Actor, sent: list[SentEmail], how: str) -> None:
    adele = _user(actor, "adele", password=None)
    users.set_password(actor=actor, user_id=adele.pk, password=GOOD, how=how)
    assert [(e.kind, e.to, e.context["how"]) for e in sent] == [
        ("password_changed", "adele@contoso.com", how)
    ]


def test_the_initial_password_sends_no_password_changed_email(actor: Actor, sent: list[SentEmail]) -> None:
    _user(actor, "adele", password=GOOD)
    assert sent == []

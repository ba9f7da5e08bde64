"""Signing in to the User Portal: username or email, the organization, the generic failure."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from tests.portal.conftest import USER_PASSWORD, portal_session, portal_sign_in

from lockstep.directory import events
from lockstep.directory.actors import Actor
from lockstep.directory.models import Organization, User, UserState
from lockstep.directory.services import admins, users
from lockstep.portal import signin

pytestmark = pytest.mark.django_db


def _signed_in(client: Client) -> bool:
    return client.get("/portal/").status_code == 200


@pytest.mark.parametrize("login", ["adele", "ADELE", "adele@contoso.com", "Adele@Contoso.COM"])
def test_sign_in_by_username_or_email_in_any_case(person: User, login: str) -> None:
    client = Client()
    response = portal_sign_in(client, login)
    assert response.status_code == 302 and response["Location"] == "/portal/"
    assert _signed_in(client)


def test_home_needs_sign_in() -> None:
    response = Client().get("/portal/")
    assert response.status_code == 302
    assert response["Location"].startswith("/portal/login/?next=/portal/")


@pytest.mark.parametrize(
    ("case", "password"),
    [("wrong password", "Not-The-Password-1"), ("unknown", USER_PASSWORD)],
)
def test_failures_share_generic_words(person: User, case: str, password: str) -> None:
    client = Client()
    login = "nobody" if case == "unknown" else "adele"
    response = portal_sign_in(client, login, password)
    assert response.status_code == 200
    assert signin.FAILED_WORDS in response.content.decode()
    assert not _signed_in(client)


@pytest.mark.parametrize("state", [UserState.STAGED, UserState.SUSPENDED])
def test_users_who_may_not_sign_in_get_the_same_words(make_person: Callable[..., User], state: str) -> None:
    make_person("bruno", state=state)
    client = Client()
    response = portal_sign_in(client, "bruno")
    assert signin.FAILED_WORDS in response.content.decode()
    assert not _signed_in(client)


def test_active_user_without_password_gets_the_same_words(make_person: Callable[..., User]) -> None:
    make_person("carla", password=None)
    response = portal_sign_in(Client(), "carla", "")
    assert response.status_code == 200
    response = portal_sign_in(Client(), "carla", "Anything-At-All-9")
    assert signin.FAILED_WORDS in response.content.decode()


def test_no_candidate_still_verifies_a_dummy_hash(monkeypatch: pytest.MonkeyPatch, db: None) -> None:
    checked: list[str] = []
    real = signin.check_password

    def spy(password: str, encoded: str) -> bool:
        checked.append(encoded)
        return real(password, encoded)

    monkeypatch.setattr(signin, "check_password", spy)
    portal_sign_in(Client(), "nobody", "Whatever-Pass-1")
    assert len(checked) == 1 and checked[0].startswith("argon2")


def test_right_password_emits_password_presented_in_a_transaction(person: User) -> None:
    seen: list[dict[str, object]] = []

    def receiver(**kwargs: object) -> None:
        from django.db import connection

        seen.append({**kwargs, "in_atomic": connection.in_atomic_block})

    events.password_presented.connect(receiver)
    try:
        portal_sign_in(Client(), "adele")
        portal_sign_in(Client(), "adele", "Wrong-Password-77")
    finally:
        events.password_presented.disconnect(receiver)
    assert len(seen) == 1
    assert seen[0]["user_id"] == person.pk and seen[0]["password"] == USER_PASSWORD
    assert seen[0]["in_atomic"] is True


@pytest.fixture
def twin(other_org: Organization, db: None) -> Callable[[str], User]:
    """The same username in a second organization, with the password given."""
    owner = admins.create_admin(
        organization=other_org, email="o@fabrikam.com", password="Correct-Horse-Battery-9"
    )
    fab = Actor.for_admin(owner)

    def make(password: str) -> User:
        user = users.create_user(
            actor=fab,
            fields={"username": "adele", "email": "adele@fabrikam.com", "first_name": "Adele"},
            initial_password=password,
        )
        return users.change_state(actor=fab, user_id=user.pk, to_state=UserState.ACTIVE)

    return make


def test_same_login_in_two_organizations_signs_in_the_one_whose_password_matches(
    person: User, twin: Callable[[str], User]
) -> None:
    other = twin("Different-Secret-Words-5")
    client = Client()
    assert portal_sign_in(client, "adele", "Different-Secret-Words-5").status_code == 302
    assert portal_session(client)["portal_user_id"] == other.pk
    client = Client()
    assert portal_sign_in(client, "adele").status_code == 302
    assert portal_session(client)["portal_user_id"] == person.pk


def test_same_login_and_password_in_two_organizations_asks_which(
    person: User, twin: Callable[[str], User], org: Organization
) -> None:
    other = twin(USER_PASSWORD)
    client = Client()
    response = portal_sign_in(client, "adele")
    assert response.status_code == 200
    html = response.content.decode()
    assert signin.CHOOSE_ORGANIZATION_WORDS in html
    assert f'value="{org.slug}"' in html and f'value="{other.organization.slug}"' in html
    response = portal_sign_in(client, "adele", organization=other.organization.slug)
    assert response.status_code == 302
    assert portal_session(client)["portal_user_id"] == other.pk


def test_org_slug_from_the_link_fills_the_hidden_field(org: Organization) -> None:
    html = Client().get(f"/portal/login/?org={org.slug}").content.decode()
    assert f'name="organization" value="{org.slug}"' in html
    assert 'href="/portal/forgot/"' in html


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/portal/profile/", "/portal/profile/"),
        ("/users/", "/portal/"),
        ("https://evil.example/portal/", "/portal/"),
        ("//evil.example/portal/", "/portal/"),
        ("/portal/logout/", "/portal/"),
    ],
)
def test_next_leads_only_to_portal_pages(person: User, next_url: str, expected: str) -> None:
    response = portal_sign_in(Client(), "adele", next=next_url)
    assert response["Location"] == expected


def test_logout_is_post_only_and_ends_the_session(portal_client: Client) -> None:
    assert portal_client.get("/portal/logout/").status_code == 405
    response = portal_client.post("/portal/logout/")
    assert response.status_code == 302 and response["Location"] == "/portal/login/"
    assert not _signed_in(portal_client)

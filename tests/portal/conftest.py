"""User Portal fixtures: active users with a password, and signing in through the pages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from lockstep.directory.actors import Actor
from lockstep.directory.models import User, UserState
from lockstep.directory.services import users

USER_PASSWORD = "Quiet-Meadow-Lantern-42"


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Failures of logins that name no account are counted in the cache: start with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def make_person(actor: Actor) -> Callable[..., User]:
    """make_person("adele", state=..., password=...) through the services (active by default)."""

    def make(
        username: str = "adele",
        *,
        password: str | None = USER_PASSWORD,
        state: str = UserState.ACTIVE,
        by: Actor | None = None,
        **fields: Any,
    ) -> User:
        who = by or actor
        base = {
            "username": username,
            "email": f"{username}@contoso.com",
            "first_name": username.capitalize(),
            "last_name": "Vance",
        }
        user = users.create_user(actor=who, fields={**base, **fields}, initial_password=password)
        if state != UserState.STAGED:
            users.change_state(actor=who, user_id=user.pk, to_state=state)
        user.refresh_from_db()
        return user

    return make


@pytest.fixture
def person(make_person: Callable[..., User]) -> User:
    return make_person("adele")


def portal_sign_in(client: Client, login: str, password: str = USER_PASSWORD, **extra: str) -> Any:
    return client.post("/portal/login/", {"login": login, "password": password, **extra})


@pytest.fixture
def portal_client(person: User) -> Client:
    client = Client()
    response = portal_sign_in(client, "adele")
    assert response.status_code == 302, response.content
    return client


def portal_session(client: Client) -> Any:
    """The client's User Portal session (Django's `client.session` is the Admin Portal's)."""
    from importlib import import_module

    from django.conf import settings

    store = import_module(settings.SESSION_ENGINE).SessionStore
    morsel = client.cookies.get(settings.PORTAL_SESSION_COOKIE_NAME)
    return store(morsel.value if morsel else None)

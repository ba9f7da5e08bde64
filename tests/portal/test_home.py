"""The home page: the one-time first-sync notice and each bound directory with its words."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from lockstep.directory.models import User
from lockstep.m365.models import Directory, DirectoryDomain, UserBinding

pytestmark = pytest.mark.django_db
NOTICE = "Your password has been updated in Microsoft 365."


def _bind(user: User, name: str, **binding: object) -> UserBinding:
    directory = Directory.objects.create(
        organization=user.organization,
        name=name,
        tenant_id=f"tenant-{name}",
        client_id="client",
        credential_kind="secret",
        cloud="global",
    )
    DirectoryDomain.objects.create(directory=directory, name="contoso.com", is_verified=True)
    return UserBinding.objects.create(
        directory=directory, user=user, remote_id=f"r-{name}", remote_upn=user.email, **binding
    )


def test_the_first_sync_notice_shows_once(portal_client: Client, person: User) -> None:
    _bind(person, "Contoso 365", first_sync_notice_pending=True, password_synced_at=timezone.now())
    first = portal_client.get("/portal/").content.decode()
    assert NOTICE in first and "Contoso 365" in first
    assert NOTICE not in portal_client.get("/portal/").content.decode()


def test_each_bound_directory_with_its_words_and_a_sign_in_link(portal_client: Client, person: User) -> None:
    _bind(person, "Contoso 365", password_pending=True)
    _bind(person, "Fabrikam 365", unbound=True)
    html = portal_client.get("/portal/").content.decode()
    assert NOTICE not in html
    assert "Contoso 365" in html and "Fabrikam 365" not in html
    assert "adele@contoso.com" in html
    assert "Your password is on its way to Microsoft 365." in html
    assert 'href="https://www.office.com/login"' in html
    assert "Sign in to Microsoft 365 (Contoso 365)" in html

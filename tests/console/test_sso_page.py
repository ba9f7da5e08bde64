"""The Admin Portal's SSO page of a directory, against m365sim: what each role sees and does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from lockstep.directory.actors import Actor
from lockstep.directory.models import Administrator
from lockstep.m365.models import Directory
from lockstep.m365.services import directories
from lockstep.testing.m365 import directory_fields
from lockstep.testing.sessions import signed_in_client
from lockstep.testing.sso_world import READY_DOMAIN, bound_active_user, only_lockstep_accounts
from lockstep.testing.url_catalogue import post_form_actions


@pytest.fixture
def directory(sim: Any, actor: Actor) -> Iterator[Directory]:
    created, _ = directories.add_directory(actor=actor, fields=directory_fields(sim))
    yield created


def page(client: Client, directory: Directory) -> str:
    response = client.get(reverse("directories:sso", args=[directory.pk]))
    assert response.status_code == 200
    return response.content.decode()


def messages_of(response: Any) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in response.context["messages"]]


def url(name: str, directory: Directory, *rest: str) -> str:
    return reverse(f"directories:{name}", args=[directory.pk, *rest])


def test_the_page_shows_domains_blockers_and_their_users(admin_client: Client, directory: Directory) -> None:
    detail = admin_client.get(reverse("directories:detail", args=[directory.pk])).content.decode()
    assert f'href="{url("sso", directory)}"' in detail  # the directory's tabs link it
    html = page(admin_client, directory)
    assert 'data-domain="fabrikam.com"' in html and 'data-domain="contoso.com"' in html
    assert "The tenant's initial domain cannot be federated" in html
    assert "/fabrikam.com/metadata</code>" in html
    assert 'data-code="unmanaged_users"' in html and 'data-code="no_test_sign_in"' in html
    assert "@fabrikam.com</li>" in html  # the users a blocker lists
    assert "Federate is off while anything above blocks it." in html
    assert html.count('disabled aria-describedby="why-') >= 2  # federate is off for each blocked domain
    assert url("sso_key_next", directory) in post_form_actions(html)


def test_an_administrator_sees_no_owner_action_and_is_refused_one(
    plain_admin: Administrator, directory: Directory
) -> None:
    client = signed_in_client(plain_admin)
    actions = post_form_actions(page(client, directory))
    assert url("sso_test", directory, READY_DOMAIN) in actions
    assert url("sso_immutable_ids", directory, READY_DOMAIN) in actions
    owner_only = {
        url("sso_federate", directory, READY_DOMAIN),
        url("sso_key_next", directory),
        url("sso_key_promote", directory),
        url("sso_signed_requests", directory, READY_DOMAIN),
    }
    assert not owner_only & set(actions)
    for target in [*owner_only, url("sso_roll_back", directory, READY_DOMAIN)]:
        refused = client.post(target)
        assert refused.status_code == 403, target
    assert client.get(url("sso_roll_back", directory, READY_DOMAIN)).status_code == 403


def test_test_sign_in_federate_in_progress_and_roll_back(
    sim: Any, actor: Actor, admin_client: Client, directory: Directory
) -> None:
    only_lockstep_accounts(sim)
    bound_active_user(actor, directory, "nina")
    tested = admin_client.post(url("sso_test", directory, READY_DOMAIN), follow=True)
    assert ("success", "Test sign-in for fabrikam.com passed (as nina@fabrikam.com).") in messages_of(tested)
    html = tested.content.decode()
    assert "Ready: nothing blocks federating fabrikam.com." in html

    federated = admin_client.post(url("sso_federate", directory, READY_DOMAIN), follow=True)
    assert any(
        level == "success" and "fabrikam.com federated" in text for level, text in messages_of(federated)
    )
    html = federated.content.decode()
    assert "sso-in-progress" in html and "Roll back fabrikam.com" in html
    assert "Signed sign-in requests: not required" in html
    assert url("sso_signed_requests", directory, READY_DOMAIN) in post_form_actions(html)
    signed = admin_client.post(
        url("sso_signed_requests", directory, READY_DOMAIN), {"required": "on"}, follow=True
    )
    assert any(
        level == "success" and "Signed sign-in requests for fabrikam.com saved" in text
        for level, text in messages_of(signed)
    )
    assert "Signed sign-in requests: required" in signed.content.decode()
    assert sim.sim.tenant.domains[READY_DOMAIN].federation["isSignedAuthenticationRequestRequired"] is True
    unsigned = admin_client.post(url("sso_signed_requests", directory, READY_DOMAIN), follow=True)
    assert "Signed sign-in requests: not required" in unsigned.content.decode()
    assert sim.sim.tenant.domains[READY_DOMAIN].federation["isSignedAuthenticationRequestRequired"] is False

    confirm = admin_client.get(url("sso_roll_back", directory, READY_DOMAIN)).content.decode()
    assert "Users of fabrikam.com will need a Microsoft 365 password" in confirm
    rolled = admin_client.post(url("sso_roll_back", directory, READY_DOMAIN), follow=True)
    assert any(level == "success" and "rolled back to managed" in text for level, text in messages_of(rolled))
    assert "rolled back (managed)" in rolled.content.decode()


def test_a_failed_test_and_a_refused_federation_are_error_messages(
    admin_client: Client, directory: Directory
) -> None:
    tested = admin_client.post(url("sso_test", directory, "contoso.com"), follow=True)
    assert [level for level, _ in messages_of(tested)] == ["error"]
    assert "Test sign-in for contoso.com failed" in messages_of(tested)[0][1]
    refused = admin_client.post(url("sso_federate", directory, "contoso.com"), follow=True)
    (level, text), *_ = messages_of(refused)
    assert level == "error" and text.startswith("contoso.com not federated: ")


def test_key_rotation_from_the_page(admin_client: Client, directory: Directory) -> None:
    published = admin_client.post(url("sso_key_next", directory), follow=True)
    assert any(level == "success" and "published" in text for level, text in messages_of(published))
    assert "<td>next</td>" in published.content.decode()
    promoted = admin_client.post(url("sso_key_promote", directory), follow=True)
    assert any(level == "success" and "promoted" in text for level, text in messages_of(promoted))
    again = admin_client.post(url("sso_key_promote", directory), follow=True)
    assert [level for level, _ in messages_of(again)] == ["error"]

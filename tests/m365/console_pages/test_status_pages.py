"""The dashboard, the directory list and the banner tell the same truth; status partials poll
only while something is on its way (Django test client, no Microsoft 365 needed)."""

from __future__ import annotations

import re
from typing import Any

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from lockstep.directory.actors import Actor
from lockstep.directory.models import Organization, User
from lockstep.directory.services import users
from lockstep.m365 import reachability
from lockstep.m365.models import Directory, GroupBinding, Health, HeldWrite, SyncStatus, UserBinding


def make_directory(org: Organization, name: str = "Contoso 365", **fields: Any) -> Directory:
    return Directory.objects.create(
        organization=org,
        name=name,
        tenant_id=f"tenant-{name}",
        client_id="client",
        credential_kind="secret",
        cloud="custom",
        health=fields.pop("health", Health.OK),
        **fields,
    )


def bound(directory: Directory, user: User, **fields: Any) -> UserBinding:
    defaults: dict[str, Any] = {"remote_id": f"r-{user.pk}", "status": SyncStatus.SYNCED}
    defaults.update(applied_version=1, desired_version=1)
    defaults.update(fields)
    return UserBinding.objects.create(directory=directory, user=user, **defaults)


def hold(directory: Directory, user: User, count: int) -> None:
    for n in range(count):
        person = users.create_user(
            actor=Actor.system(directory.organization_id, "test"),
            fields={"username": f"held{n}", "email": f"held{n}@contoso.com"},
        )
        binding = bound(directory, person, status=SyncStatus.HELD, desired_version=2)
        HeldWrite.objects.create(directory=directory, binding=binding, operation="disable")


def text(response: Any) -> str:
    assert response.status_code == 200
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def card(html: str) -> str:
    return html[html.index('id="directory-cards"') :]


def test_dashboard_card_green(admin_client: Client, org: Organization, actor: Actor) -> None:
    directory = make_directory(org, last_sync_at=timezone.now())
    adele = users.create_user(actor=actor, fields={"username": "adele", "email": "adele@contoso.com"})
    bound(directory, adele)
    html = admin_client.get(reverse("console:index")).content.decode()
    assert "No Microsoft 365 directories are connected yet" not in html
    assert 'class="directory-card state-ok"' in html
    assert "hx-trigger" not in card(html)  # nothing pending: no polling
    assert "status-banner" not in html
    words = text(admin_client.get(reverse("console:index")))
    assert "Contoso 365 Healthy" in words and "1 user, 0 groups" in words


def test_held_writes_are_amber_on_dashboard_list_and_banner(
    admin_client: Client, org: Organization, actor: Actor
) -> None:
    directory = make_directory(org)
    adele = users.create_user(actor=actor, fields={"username": "adele", "email": "adele@contoso.com"})
    hold(directory, adele, 4)
    dashboard = admin_client.get(reverse("console:index")).content.decode()
    assert 'class="directory-card state-attention"' in dashboard
    assert "4 writes are held by the deletion brake" in dashboard
    assert "hx-trigger" not in card(dashboard)  # held writes wait for a person: no polling
    listing = text(admin_client.get(reverse("directories:list")))
    assert "Needs attention" in listing and "Healthy" not in listing
    users_page = admin_client.get(reverse("console:users")).content.decode()
    assert 'class="status-banner status-attention"' in users_page
    assert f'href="{reverse("directories:detail", args=[directory.pk])}"' in users_page


def test_unreachable_is_red_everywhere_until_it_answers(admin_client: Client, org: Organization) -> None:
    directory = make_directory(
        org, unreachable_since=timezone.now(), unreachable_reason=reachability.CONNECTION_WORDS
    )
    dashboard = admin_client.get(reverse("console:index")).content.decode()
    assert 'class="directory-card state-down"' in dashboard
    assert "Cannot reach Microsoft 365" in dashboard
    assert "Cannot reach Microsoft 365" in text(admin_client.get(reverse("directories:list")))
    groups_page = admin_client.get(reverse("console:groups")).content.decode()
    assert 'class="status-banner status-down"' in groups_page and "sync is not working" in groups_page
    Directory.objects.filter(pk=directory.pk).update(unreachable_since=None, unreachable_reason="")
    assert "status-banner" not in admin_client.get(reverse("console:groups")).content.decode()


def test_banner_costs_one_query_whatever_the_number_of_directories(
    admin_client: Client, org: Organization, actor: Actor
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def banner_queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            html = admin_client.get(reverse("console:audit")).content.decode()
        assert "status-banner" in html
        return sum('FROM "m365_directory"' in q["sql"] for q in captured.captured_queries)

    adele = users.create_user(actor=actor, fields={"username": "adele", "email": "adele@contoso.com"})
    hold(make_directory(org, "A"), adele, 1)
    one = banner_queries()
    for name in "BCDE":
        make_directory(org, name, unreachable_since=timezone.now())
    assert banner_queries() == one == 1


def test_user_section_polls_while_pending_and_stops_when_synced(
    admin_client: Client, org: Organization, actor: Actor
) -> None:
    directory = make_directory(org)
    adele = users.create_user(actor=actor, fields={"username": "adele", "email": "adele@contoso.com"})
    binding = bound(directory, adele, remote_id="", status=SyncStatus.PENDING, applied_version=0)
    url = reverse("directories:user_status", args=[adele.pk])
    pending = admin_client.get(url).content.decode()
    assert f'hx-get="{url}"' in pending and 'hx-trigger="every 2s"' in pending and "Pending" in pending
    page = admin_client.get(reverse("console:user_detail", args=[adele.pk])).content.decode()
    assert f'hx-get="{url}"' in page  # the user's page starts polling by itself
    UserBinding.objects.filter(pk=binding.pk).update(
        status=SyncStatus.SYNCED, applied_version=1, remote_id="r-1"
    )
    settled = admin_client.get(url).content.decode()
    assert "hx-trigger" not in settled, settled
    assert "Waiting for first portal login" in settled  # a staged user: settled until that login


def test_parked_error_does_not_poll(admin_client: Client, org: Organization, actor: Actor) -> None:
    directory = make_directory(org)
    adele = users.create_user(actor=actor, fields={"username": "adele", "email": "adele@contoso.com"})
    bound(directory, adele, status=SyncStatus.ERROR, desired_version=2, last_error="Refused.")
    html = admin_client.get(reverse("directories:user_status", args=[adele.pk])).content.decode()
    assert "hx-trigger" not in html


def test_group_section_polls_while_pending(admin_client: Client, org: Organization, actor: Actor) -> None:
    from lockstep.directory.services import groups

    directory = make_directory(org)
    staff = groups.create_group(actor=actor, fields={"name": "staff"})
    binding = GroupBinding.objects.create(directory=directory, group=staff)
    url = reverse("directories:group_status", args=[staff.pk])
    assert 'hx-trigger="every 2s"' in admin_client.get(url).content.decode()
    GroupBinding.objects.filter(pk=binding.pk).update(
        status=SyncStatus.SYNCED, applied_version=1, remote_id="g-1"
    )
    assert "hx-trigger" not in admin_client.get(url).content.decode()


def test_dashboard_cards_poll_while_a_change_is_on_its_way(
    admin_client: Client, org: Organization, actor: Actor
) -> None:
    directory = make_directory(org)
    adele = users.create_user(actor=actor, fields={"username": "adele", "email": "adele@contoso.com"})
    binding = bound(directory, adele, desired_version=2)
    url = reverse("directories:cards")
    assert f'hx-get="{url}"' in admin_client.get(reverse("console:index")).content.decode()
    UserBinding.objects.filter(pk=binding.pk).update(applied_version=2)
    assert "hx-trigger" not in admin_client.get(url).content.decode()

"""The Groups list: search inside names, the Microsoft 365 status column and filter, totals and
page numbers at the page size."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from lockstep.directory.actors import Actor
from lockstep.directory.models import Group
from lockstep.directory.services import groups
from lockstep.m365.models import Directory, GroupBinding, SyncStatus

URL = "/groups/"


def names(client: Client, **params: Any) -> list[str]:
    page = client.get(URL, params)
    assert page.status_code == 200
    return re.findall(r'<a href="/groups/\d+/">([^<]+)</a></td>', page.content.decode())


def directory(actor: Actor, name: str) -> Directory:
    return Directory.objects.create(
        organization_id=actor.organization_id,
        name=name,
        tenant_id=f"{name}-tenant",
        client_id="client",
        credential_kind="secret",
    )


def group(actor: Actor, name: str) -> Group:
    return groups.create_group(actor=actor, fields={"name": name})


def test_search_matches_inside_the_name_whatever_the_case(admin_client: Client, actor: Actor) -> None:
    for name in ("Retail Leads", "Sales", "Leadership"):
        group(actor, name)
    assert names(admin_client, q="LEAD") == ["Leadership", "Retail Leads"]
    assert names(admin_client, q="ail le") == ["Retail Leads"]
    html = admin_client.get(URL, {"q": "nothing"}).content.decode()
    assert "No groups match." in html


def test_status_column_and_filter(admin_client: Client, actor: Actor) -> None:
    contoso = directory(actor, "Contoso")
    synced, dirty, failed, held = (group(actor, n) for n in ("Synced", "Dirty", "Failed", "Held"))
    group(actor, "Local")
    GroupBinding.objects.create(directory=contoso, group=synced, status=SyncStatus.SYNCED, applied_version=1)
    GroupBinding.objects.create(directory=contoso, group=dirty, status=SyncStatus.SYNCED, desired_version=2)
    GroupBinding.objects.create(directory=contoso, group=failed, status=SyncStatus.ERROR)
    GroupBinding.objects.create(directory=contoso, group=held, status=SyncStatus.HELD)

    assert names(admin_client, m365_status="synced") == ["Synced"]
    assert names(admin_client, m365_status="pending") == ["Dirty"]
    assert names(admin_client, m365_status="error") == ["Failed"]
    assert names(admin_client, m365_status="held") == ["Held"]
    assert names(admin_client, m365_status="unbound") == ["Local"]
    assert names(admin_client, m365_status="unbound", q="syn") == []
    html = admin_client.get(URL).content.decode()
    assert '<th scope="col">Microsoft 365</th>' in html
    assert '<span class="m365 m365-synced">In sync</span>' in html
    assert '<span class="m365 m365-unbound">Not bound</span>' in html
    assert '<span class="m365 m365-held">Held by the deletion brake</span>' in html

    fabrikam = directory(actor, "Fabrikam")
    GroupBinding.objects.create(directory=fabrikam, group=synced, status=SyncStatus.ERROR)
    html = admin_client.get(URL).content.decode()
    assert "Contoso: In sync" in html and "Fabrikam: Error" in html
    assert names(admin_client, m365_status="error", directory=contoso.pk) == ["Failed"]
    assert names(admin_client, m365_status="error", directory=fabrikam.pk) == ["Synced"]


@pytest.mark.parametrize(("count", "pages"), [(50, 1), (51, 2)])
def test_totals_and_page_numbers_at_the_page_size(
    admin_client: Client, actor: Actor, count: int, pages: int
) -> None:
    Group.objects.bulk_create(
        Group(organization_id=actor.organization_id, name=f"g{n:03d}") for n in range(count)
    )
    html = admin_client.get(URL).content.decode()
    assert f'<span class="total">{count} groups' in html
    assert re.findall(r'aria-label="Page (\d+)"', html) == ([] if pages == 1 else ["1", "2"])
    assert names(admin_client, page=pages)[-1] == f"g{count - 1:03d}"
    if pages == 2:
        assert names(admin_client, page=2) == ["g050"]

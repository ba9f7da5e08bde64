"""GET /users with the Users page's filters: substring search, department, domain, Microsoft 365
status (in one directory), combined with cursor pages; bad values are 422 naming the field."""

from __future__ import annotations

from collections.abc import Callable
from typing import get_args

from tests.api.conftest import JsonClient

from lockstep.api.users import M365StatusName
from lockstep.directory.actors import Actor
from lockstep.directory.models import User
from lockstep.m365.list_status import ListStatus
from lockstep.m365.models import Directory, SyncStatus, UserBinding

MakeUser = Callable[..., User]


def usernames(client: JsonClient, query: str) -> list[str]:
    response = client.get(f"users?{query}")
    assert response.status_code == 200, response.data
    return [item["username"] for item in response.data["items"]]


def test_search_department_domain_and_status(client_a: JsonClient, actor: Actor, make_user: MakeUser) -> None:
    megan = make_user("megan", last_name="Bowen", display_name="Megan Bowen", department="Sales")
    make_user("owen", department="Sales", email="owen@fabrikam.com")
    make_user("adele", department="Retail")
    tenant = Directory.objects.create(
        organization_id=actor.organization_id,
        name="Contoso",
        tenant_id="t",
        client_id="c",
        credential_kind="secret",
    )
    UserBinding.objects.create(directory=tenant, user=megan, status=SyncStatus.SYNCED, applied_version=1)

    assert usernames(client_a, "search=OWEN") == ["megan", "owen"]
    assert usernames(client_a, "department=Sales&domain=fabrikam.com") == ["owen"]
    assert usernames(client_a, "m365_status=synced") == ["megan"]
    assert usernames(client_a, f"m365_status=unbound&directory_id={tenant.pk}") == ["adele", "owen"]
    assert usernames(client_a, f"directory_id={tenant.pk}") == ["megan"]
    first = client_a.get("users?search=e&limit=1").data
    assert [u["username"] for u in first["items"]] == ["adele"]
    assert usernames(client_a, f"search=e&limit=2&cursor={first['next_cursor']}") == ["megan", "owen"]


def test_bad_filters_are_422_naming_the_field(client_a: JsonClient) -> None:
    response = client_a.get("users?m365_status=lost")
    assert response.status_code == 422 and "m365_status" in str(response.data)
    response = client_a.get("users?directory_id=999999")
    assert response.status_code == 422 and "directory" in str(response.data)
    response = client_a.get("users?search=" + "x" * 201)
    assert response.status_code == 422 and "search" in str(response.data)


def test_the_api_offers_exactly_the_list_statuses() -> None:
    assert set(get_args(M365StatusName)) == set(ListStatus.values)

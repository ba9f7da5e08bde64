"""The Users list: substring search, state/group/department/domain and Microsoft 365 status
filters and their combinations, totals, page numbers at their edges, the live search, the
CSV export of the same filters, and no N+1."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from lockstep.directory.actors import Actor
from lockstep.directory.models import User, UserState
from lockstep.directory.services import groups, users
from lockstep.m365.models import Directory, SyncStatus, UserBinding

MakeUser = Callable[..., User]
URL = "/users/"


def names(client: Client, **params: Any) -> list[str]:
    """Usernames in the table, in order."""
    page = client.get(URL, params)
    assert page.status_code == 200
    return re.findall(r'<a href="/users/\d+/">([^<]+)</a></td>', page.content.decode())


def bulk_users(actor: Actor, count: int, prefix: str = "user", **fields: Any) -> None:
    """`count` users straight into the table (the database computes the search columns)."""
    User.objects.bulk_create(
        User(
            organization_id=actor.organization_id,
            username=f"{prefix}{n:04d}",
            email=f"{prefix}{n:04d}@contoso.com",
            display_name=f"{prefix.title()} {n}",
            immutable_id=f"{prefix}{n:04d}immutable",
            **fields,
        )
        for n in range(count)
    )


def make_directory(actor: Actor, name: str) -> Directory:
    return Directory.objects.create(
        organization_id=actor.organization_id,
        name=name,
        tenant_id=f"{name}-tenant",
        client_id="client",
        credential_kind="secret",
    )


def bind(user: User, directory: Directory, status: str, *, dirty: bool = False, **extra: Any) -> UserBinding:
    return UserBinding.objects.create(
        directory=directory,
        user=user,
        status=status,
        desired_version=2 if dirty else 1,
        applied_version=1,
        **extra,
    )


def test_list_shows_users_links_and_live_search(admin_client: Client, make_user: MakeUser) -> None:
    make_user("adele", department="Retail")
    make_user("alex")
    html = admin_client.get(URL).content.decode()
    assert "adele@contoso.com" in html and "alex@contoso.com" in html
    assert "(+) Manual user entry" in html
    assert 'hx-get="/users/"' in html and 'hx-target="#user-results"' in html
    assert "Microsoft 365" not in html  # no directory connected: no status column or filter


def test_search_matches_inside_names_and_emails_whatever_the_case(
    admin_client: Client, make_user: MakeUser
) -> None:
    make_user("megan", first_name="Megan", last_name="Bowen", display_name="Megan Bowen")
    make_user("owen.x", first_name="Owen", last_name="Xu", email="o.xu@fabrikam.com")
    make_user("adele", first_name="Adele", last_name="Vance")
    make_user("ab", first_name="Cd", last_name="Ef", display_name="Cd Ef")
    make_user("rsted", first_name="Ørjan", last_name="Ørsted", display_name="Ørjan Ørsted")
    assert names(admin_client, q="owen") == ["megan", "owen.x"]  # inside the last name; start of username
    assert names(admin_client, q="BOWEN") == ["megan"]
    assert names(admin_client, q="gan bo") == ["megan"]  # across a space of the display name
    assert names(admin_client, q="@FABRIKAM.") == ["owen.x"]  # inside the email
    assert names(admin_client, q="ance") == ["adele"]
    assert names(admin_client, q="ØRSTED") == ["rsted"]  # not only ASCII letters
    assert names(admin_client, q="  vance  ") == ["adele"]
    # Short terms (fewer than three characters) match too.
    assert names(admin_client, q="xu") == ["owen.x"]
    assert names(admin_client, q="E") == ["ab", "adele", "megan", "owen.x", "rsted"]
    # Never across two fields ("ab" then "Cd Ef"), and wildcards are plain characters.
    assert names(admin_client, q="abcd") == []
    assert names(admin_client, q="b\ncd") == []
    assert names(admin_client, q="%") == [] and names(admin_client, q="_") == []
    assert names(admin_client, q='o"w') == []


def test_search_sees_changes_made_in_bulk(admin_client: Client, actor: Actor) -> None:
    bulk_users(actor, 3, prefix="zed")
    assert names(admin_client, q="zed0001") == ["zed0001"]
    User.objects.filter(username="zed0001").update(display_name="Nadia Quill")
    assert names(admin_client, q="quill") == ["zed0001"]
    User.objects.filter(username="zed0002").delete()
    assert names(admin_client, q="zed") == ["zed0000", "zed0001"]


def test_filters_and_their_combinations(admin_client: Client, actor: Actor, make_user: MakeUser) -> None:
    adele = make_user("adele", department="Retail")
    alex = make_user("alex", department="Retail", email="alex@fabrikam.com")
    make_user("megan", department="Sales", email="megan@Fabrikam.com")
    make_user("nodept")
    users.change_state(actor=actor, user_id=alex.pk, to_state=UserState.ACTIVE)
    group = groups.create_group(actor=actor, fields={"name": "Leads"})
    groups.add_members(actor=actor, group_id=group.pk, user_ids=[adele.pk, alex.pk])

    assert names(admin_client, department="Retail") == ["adele", "alex"]
    assert names(admin_client, domain="fabrikam.com") == ["alex", "megan"]
    assert names(admin_client, domain="@FABRIKAM.COM") == ["alex", "megan"]
    assert names(admin_client, state="staged") == ["adele", "megan", "nodept"]
    assert names(admin_client, department="Retail", domain="contoso.com") == ["adele"]
    assert names(admin_client, department="Retail", state="active") == ["alex"]
    assert names(admin_client, group=group.pk, domain="fabrikam.com") == ["alex"]
    assert names(admin_client, q="a", department="Sales") == ["megan"]
    assert names(admin_client, q="a", department="Sales", state="active") == []
    # The drop-downs offer the departments and domains in use.
    html = admin_client.get(URL).content.decode()
    assert re.findall(
        r'<option value="([^"]*)"', html.split('name="department"')[1].split("</select>")[0]
    ) == [
        "",
        "Retail",
        "Sales",
    ]
    assert '<option value="fabrikam.com">fabrikam.com</option>' in html


def test_bad_filters_are_named_beside_their_field(admin_client: Client) -> None:
    response = admin_client.get(URL, {"state": "gone", "q": "x" * 201})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Select a valid choice" in html.split('id="id_state_error"')[1].split("</ul>")[0]
    assert "at most 200 characters" in html.split('id="id_q_error"')[1].split("</ul>")[0]


@pytest.mark.parametrize(("count", "pages"), [(50, 1), (51, 2), (100, 2), (101, 3)])
def test_totals_and_page_count_at_the_page_size(
    admin_client: Client, actor: Actor, count: int, pages: int
) -> None:
    bulk_users(actor, count)
    html = admin_client.get(URL).content.decode()
    total = f"{count} users" + (", showing 1 to 50" if pages > 1 else "")
    assert f'<span class="total">{total}</span>' in html
    links = re.findall(r'aria-label="Page (\d+)"', html)
    assert links == ([str(n) for n in range(1, pages + 1)] if pages > 1 else [])
    last = names(admin_client, page=pages)
    assert last[-1] == f"user{count - 1:04d}" and len(last) == count - (pages - 1) * 50


def test_page_numbers_navigate_and_keep_the_filters(admin_client: Client, actor: Actor) -> None:
    bulk_users(actor, 51, department="Retail")
    bulk_users(actor, 5, prefix="other", department="Sales")
    first = admin_client.get(URL, {"department": "Retail"}).content.decode()
    assert "51 users, showing 1 to 50" in first
    second_url = re.search(r'<a href="([^"]+)" aria-label="Page 2">', first)
    assert second_url and "department=Retail" in second_url.group(1)
    second = admin_client.get(URL + second_url.group(1).replace("&amp;", "&")).content.decode()
    assert names(admin_client, department="Retail", page=2) == ["user0050"]
    assert "51 users, showing 51 to 51" in second
    assert 'aria-current="page" aria-label="Page 2"' in second and 'rel="prev"' in second
    assert 'rel="next"' not in second
    # Past the last page: the last page; not a number: said beside the filters.
    assert names(admin_client, department="Retail", page=9) == ["user0050"]
    assert "Enter a whole number" in admin_client.get(URL, {"page": "two"}).content.decode()


def test_page_links_skip_the_middle_of_many_pages(admin_client: Client, actor: Actor) -> None:
    bulk_users(actor, 1234)
    html = admin_client.get(URL, {"page": 6}).content.decode()
    assert '<span class="total">1,234 users, showing 251 to 300</span>' in html
    nav = html.split('<nav class="pager"')[1].split("</nav>")[0]
    shown = re.findall(r'aria-label="Page (\d+)"|(…)', nav)
    assert ["".join(item) for item in shown] == ["1", "…", "4", "5", "6", "7", "8", "…", "25"]


def test_microsoft_365_status_column_and_filter(
    admin_client: Client, make_user: MakeUser, actor: Actor
) -> None:
    tenant = make_directory(actor, "Contoso")
    people = {
        name: make_user(name)
        for name in (
            "synced",
            "dirty",
            "pending",
            "error",
            "restore",
            "held",
            "unbinding",
            "notsynced",
            "free",
        )
    }
    bind(people["synced"], tenant, SyncStatus.SYNCED)
    bind(people["dirty"], tenant, SyncStatus.SYNCED, dirty=True)
    bind(people["pending"], tenant, SyncStatus.PENDING)
    bind(people["error"], tenant, SyncStatus.ERROR)
    bind(people["restore"], tenant, SyncStatus.RESTORE_OFFERED)
    bind(people["held"], tenant, SyncStatus.HELD, unbound=True)
    bind(people["unbinding"], tenant, SyncStatus.SYNCED, unbound=True)
    bind(people["notsynced"], tenant, SyncStatus.NOT_SYNCED)

    assert names(admin_client, m365_status="synced") == ["synced"]
    assert names(admin_client, m365_status="pending") == ["dirty", "pending", "unbinding"]
    assert names(admin_client, m365_status="error") == ["error", "restore"]
    assert names(admin_client, m365_status="held") == ["held"]
    assert names(admin_client, m365_status="not_synced") == ["notsynced"]
    assert names(admin_client, m365_status="unbound") == ["free"]
    assert names(admin_client, m365_status="pending", q="unb") == ["unbinding"]

    html = admin_client.get(URL).content.decode()
    assert '<th scope="col">Microsoft 365</th>' in html
    assert (
        '<span class="m365 m365-synced">In sync, waiting for first login</span>' in html
    )  # staged, no password
    assert '<span class="m365 m365-unbound">Not bound</span>' in html
    assert '<span class="m365 m365-held">Held by the deletion brake</span>' in html
    assert '<span class="m365 m365-pending">Unbinding</span>' in html
    assert '<span class="m365 m365-error">Restore offered</span>' in html
    assert "Contoso:" not in html  # one directory: no name needed
    assert 'name="directory"' not in html

    response = admin_client.get(URL, {"m365_status": "lost"})
    assert "Select a valid choice" in response.content.decode().split('id="id_m365_status_error"')[1]


def test_status_per_directory_when_there_are_several(
    admin_client: Client, make_user: MakeUser, actor: Actor, other_org: Any
) -> None:
    contoso, fabrikam = make_directory(actor, "Contoso"), make_directory(actor, "Fabrikam")
    both, one = make_user("both"), make_user("one")
    make_user("none")
    bind(both, contoso, SyncStatus.SYNCED)
    bind(both, fabrikam, SyncStatus.ERROR)
    bind(one, fabrikam, SyncStatus.SYNCED)

    html = admin_client.get(URL).content.decode()
    assert '<span class="m365 m365-synced">Contoso: In sync, waiting for first login</span>' in html
    assert '<span class="m365 m365-error">Fabrikam: Error</span>' in html
    assert 'name="directory"' in html
    assert names(admin_client, m365_status="error") == ["both"]
    assert names(admin_client, m365_status="synced") == ["both", "one"]
    assert names(admin_client, m365_status="synced", directory=fabrikam.pk) == ["one"]
    assert names(admin_client, m365_status="unbound", directory=contoso.pk) == ["none", "one"]
    assert names(admin_client, directory=contoso.pk) == ["both"]  # bound there, any status
    foreign = Directory.objects.create(
        organization=other_org, name="Elsewhere", tenant_id="t", client_id="c", credential_kind="secret"
    )
    response = admin_client.get(URL, {"directory": foreign.pk})
    assert "Select a valid choice" in response.content.decode().split('id="id_directory_error"')[1]


def test_live_search_returns_only_the_table_with_the_same_filters(
    admin_client: Client, make_user: MakeUser
) -> None:
    make_user("megan", last_name="Bowen", department="Sales")
    make_user("adele", department="Retail")
    response = admin_client.get(URL, {"q": "owe", "department": "Sales"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "megan" in html and "adele" not in html and "<html" not in html
    assert '<span class="total">1 user</span>' in html
    assert "HX-Request" in response["Vary"]
    restore = admin_client.get(URL, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert b"<html" in restore.content


def test_query_count_does_not_grow_with_the_page(
    admin_client: Client, actor: Actor, django_assert_max_num_queries: Any
) -> None:
    tenant = make_directory(actor, "Contoso")
    bulk_users(actor, 120)
    group = groups.create_group(actor=actor, fields={"name": "Everyone"})
    everyone = list(User.objects.all())
    groups.add_members(actor=actor, group_id=group.pk, user_ids=[u.pk for u in everyone])
    for user in everyone[:80]:
        bind(user, tenant, SyncStatus.SYNCED)
    for params in (
        {},
        {"page": 2},
        {"q": "user00", "state": "staged", "group": group.pk, "m365_status": "synced"},
        {"department": "x", "domain": "contoso.com", "m365_status": "unbound"},
    ):
        with django_assert_max_num_queries(14):  # + the status banner (one query)
            assert admin_client.get(URL, params).status_code == 200
    with django_assert_max_num_queries(11):  # the live search lists no departments or domains
        admin_client.get(URL, {"q": "user"}, headers={"HX-Request": "true"})


def test_csv_export_honours_every_filter(admin_client: Client, actor: Actor, make_user: MakeUser) -> None:
    tenant = make_directory(actor, "Contoso")
    megan = make_user("megan", last_name="Bowen", department="Sales", job_title="=HYPERLINK(1)")
    make_user("owen", department="Sales", email="owen@fabrikam.com")
    make_user("adele", department="Retail")
    bind(megan, tenant, SyncStatus.SYNCED)

    def exported(**params: Any) -> list[dict[str, str]]:
        response = admin_client.get(reverse("console:users_export"), params)
        assert response.status_code == 200 and response.streaming
        assert response["Content-Type"].startswith("text/csv")
        assert "attachment" in response["Content-Disposition"]
        body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
        return list(csv.DictReader(io.StringIO(body)))

    assert [r["username"] for r in exported(q="owen")] == ["megan", "owen"]
    assert [r["username"] for r in exported(q="owen", domain="fabrikam.com")] == ["owen"]
    assert [r["username"] for r in exported(department="Sales", m365_status="unbound")] == ["owen"]
    rows = exported(m365_status="synced")
    assert [r["username"] for r in rows] == ["megan"]
    assert rows[0]["job_title"] == "'=HYPERLINK(1)"  # no formula injection
    assert rows[0]["immutable_id"] and "password_hash" not in rows[0] and "search_text" not in rows[0]
    # The page's export link carries the filters; a filter it cannot use is refused, not dropped.
    page = admin_client.get(URL, {"q": "owen", "department": "Sales"}).content.decode()
    assert 'href="/users/export.csv?q=owen&amp;department=Sales"' in page
    refused = admin_client.get(reverse("console:users_export"), {"m365_status": "lost"})
    assert refused.status_code == 400 and b"m365_status" in refused.content

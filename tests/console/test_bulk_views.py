"""Bulk actions through the Users list over HTTP: confirm, apply, "all matching", roles, errors."""

from __future__ import annotations

from collections.abc import Callable

from django.test import Client
from django.urls import reverse

from lockstep.directory.actors import Actor
from lockstep.directory.models import AuditEvent, GroupMembership, Organization, User
from lockstep.directory.services import groups, users

MakeUser = Callable[..., User]


def test_list_has_checkboxes_and_the_bulk_bar(admin_client: Client, make_user: MakeUser) -> None:
    adele = make_user("adele")
    html = admin_client.get(reverse("console:users"), {"q": "ade"}).content.decode()
    assert f'form="bulk-form" name="user_ids" value="{adele.pk}"' in html
    assert 'name="query" value="q=ade"' in html
    assert reverse("console:users_import") in html


def test_suspend_selected_users_confirm_then_apply(admin_client: Client, make_user: MakeUser) -> None:
    adele, megan, nestor = make_user("adele"), make_user("megan"), make_user("nestor")
    confirm = admin_client.post(
        reverse("console:users_bulk"), {"action": "suspend", "user_ids": [adele.pk, megan.pk], "query": "q=a"}
    )
    html = confirm.content.decode()
    assert confirm.status_code == 200
    assert (
        "Suspending 2 users: none of them is bound to Microsoft 365, so they are only suspended in Lockstep."
        in html
    )
    assert f'name="user_ids_csv" value="{adele.pk},{megan.pk}"' in html
    assert "Suspend 2 users</button>" in html
    assert set(User.objects.values_list("state", flat=True)) == {"staged"}  # nothing yet

    done = admin_client.post(
        reverse("console:users_bulk_apply"),
        {"action": "suspend", "user_ids_csv": f"{adele.pk},{megan.pk}", "query": "q=a"},
    )
    assert done.status_code == 200 and "2 users suspended." in done.content.decode()
    assert dict(User.objects.values_list("username", "state")) == {
        "adele": "suspended",
        "megan": "suspended",
        "nestor": "staged",
    }
    assert AuditEvent.objects.filter(action="user.suspend").count() == 2
    assert f'href="{reverse("console:users")}?q=a"' in done.content.decode()
    del nestor


def test_all_matching_the_search_across_pages(admin_client: Client, make_user: MakeUser) -> None:
    for n in range(55):  # more than one page of the list
        make_user(f"sales{n:02d}")
    make_user("other")
    confirm = admin_client.post(
        reverse("console:users_bulk"),
        {"action": "activate", "scope": "matching", "query": "q=sales&cursor=x"},
    ).content.decode()
    assert "Activate: 55 users selected" in confirm
    ids = User.objects.filter(username__startswith="sales").values_list("pk", flat=True)
    csv_ids = ",".join(str(i) for i in sorted(ids))
    admin_client.post(reverse("console:users_bulk_apply"), {"action": "activate", "user_ids_csv": csv_ids})
    assert User.objects.filter(state="active").count() == 55
    assert User.objects.get(username="other").state == "staged"


def test_add_to_group_asks_for_the_group_first(
    admin_client: Client, actor: Actor, make_user: MakeUser
) -> None:
    adele = make_user("adele")
    group = groups.create_group(actor=actor, fields={"name": "Retail"})
    ask = admin_client.post(reverse("console:users_bulk"), {"action": "add_to_group", "user_ids": [adele.pk]})
    assert 'name="group"' in ask.content.decode() and "Retail" in ask.content.decode()
    missing = admin_client.post(
        reverse("console:users_bulk"),
        {"action": "add_to_group", "user_ids_csv": str(adele.pk), "target_chosen": "1", "group": ""},
    )
    assert "Choose a group." in missing.content.decode()
    confirm = admin_client.post(
        reverse("console:users_bulk"),
        {"action": "add_to_group", "user_ids_csv": str(adele.pk), "group": group.pk},
    ).content.decode()
    assert "Retail is not bound to Microsoft 365, so nothing changes there." in confirm
    admin_client.post(
        reverse("console:users_bulk_apply"),
        {"action": "add_to_group", "user_ids_csv": str(adele.pk), "group": group.pk},
    )
    assert GroupMembership.objects.filter(group=group, user=adele).exists()


def test_nothing_selected_or_foreign_users_change_nothing(
    admin_client: Client, make_user: MakeUser, other_org: Organization
) -> None:
    adele = make_user("adele")
    theirs = users.create_user(
        actor=Actor.system(other_org.pk), fields={"username": "theirs", "email": "theirs@fabrikam.com"}
    )
    empty = admin_client.post(reverse("console:users_bulk"), {"action": "suspend"})
    assert empty.status_code == 422 and "Select at least one user." in empty.content.decode()
    foreign = admin_client.post(
        reverse("console:users_bulk_apply"), {"action": "suspend", "user_ids_csv": f"{adele.pk},{theirs.pk}"}
    )
    assert foreign.status_code == 422 and "Nothing was changed" in foreign.content.decode()
    assert "theirs" not in foreign.content.decode()
    assert set(User.objects.values_list("state", flat=True)) == {"staged"}


def test_read_only_admin_gets_no_bar_and_403(read_only_client: Client, make_user: MakeUser) -> None:
    adele = make_user("adele")
    html = read_only_client.get(reverse("console:users")).content.decode()
    assert "bulk-form" not in html and "Import CSV" not in html
    for name, data in (
        ("console:users_bulk", {"action": "suspend", "user_ids": [adele.pk]}),
        ("console:users_bulk_apply", {"action": "suspend", "user_ids_csv": str(adele.pk)}),
    ):
        assert read_only_client.post(reverse(name), data).status_code == 403
    assert User.objects.get().state == "staged"


def test_group_page_adds_several_members_at_once(
    admin_client: Client, actor: Actor, make_user: MakeUser
) -> None:
    adele, megan, nestor = make_user("adele"), make_user("megan"), make_user("nestor")
    group = groups.create_group(actor=actor, fields={"name": "Retail"})
    groups.add_members(actor=actor, group_id=group.pk, user_ids=[nestor.pk])
    detail = reverse("console:group_detail", args=[group.pk])
    fragment = admin_client.get(
        detail,
        {"q": "nes", "user_ids": [adele.pk]},
        headers={"HX-Request": "true", "HX-Target": "candidates"},
    ).content.decode()
    assert f'value="{adele.pk}" id="add-{adele.pk}" checked' in fragment  # ticked before this search
    assert "nestor" in fragment and "(already a member)" in fragment
    response = admin_client.post(
        reverse("console:group_member_add", args=[group.pk]), {"user_ids": [adele.pk, megan.pk, nestor.pk]}
    )
    assert response.status_code == 302
    page = admin_client.get(detail).content.decode()
    assert "2 users added to Retail: adele, megan." in page
    assert "nestor is already a member of Retail." in page
    assert GroupMembership.objects.filter(group=group).count() == 3
    assert AuditEvent.objects.filter(action="group.add_member").count() == 2
    nothing = admin_client.post(reverse("console:group_member_add", args=[group.pk]), {})
    assert nothing.status_code == 302
    assert "Tick at least one user to add." in admin_client.get(detail).content.decode()

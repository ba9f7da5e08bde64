"""Groups pages: list, create, edit, delete, members."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.test import Client
from django.urls import reverse

from lockstep.directory.actors import Actor
from lockstep.directory.models import Group, GroupMembership, User
from lockstep.directory.services import groups

MakeUser = Callable[..., User]


def error_beside(html: str, field: str) -> str:
    match = re.search(rf'id="id_{field}_error"[^>]*>(.*?)</ul>', html, re.S)
    assert match
    return match.group(1)


def test_create_list_edit_delete(admin_client: Client) -> None:
    assert admin_client.get(reverse("console:group_new")).status_code == 200
    response = admin_client.post(reverse("console:group_new"), {"name": "Retail", "description": "Shops"})
    group = Group.objects.get(name="Retail")
    assert response["Location"] == reverse("console:group_detail", args=[group.pk])
    listing = admin_client.get(reverse("console:groups")).content.decode()
    assert "Retail" in listing and "Shops" in listing
    assert "Retail" not in admin_client.get(reverse("console:groups"), {"q": "zzz"}).content.decode()
    edit = reverse("console:group_edit", args=[group.pk])
    assert b'value="Retail"' in admin_client.get(edit).content
    assert admin_client.post(edit, {"name": "Retail EU", "description": ""}).status_code == 302
    group.refresh_from_db()
    assert group.name == "Retail EU"
    delete = reverse("console:group_delete", args=[group.pk])
    assert admin_client.get(delete).status_code == 200
    assert admin_client.post(delete).status_code == 302
    assert not Group.objects.exists()


def test_group_errors_beside_fields(admin_client: Client, actor: Actor) -> None:
    groups.create_group(actor=actor, fields={"name": "Retail"})
    duplicate = admin_client.post(reverse("console:group_new"), {"name": "retail", "description": ""})
    assert duplicate.status_code == 200 and "already exists" in error_beside(
        duplicate.content.decode(), "name"
    )
    empty = admin_client.post(reverse("console:group_new"), {"name": "", "description": ""})
    assert "required" in error_beside(empty.content.decode(), "name")
    long = admin_client.post(reverse("console:group_new"), {"name": "x" * 257, "description": ""})
    assert "at most 256" in error_beside(long.content.decode(), "name")
    assert Group.objects.count() == 1


def test_find_add_and_remove_members(admin_client: Client, actor: Actor, make_user: MakeUser) -> None:
    adele = make_user("adele")
    make_user("megan")
    group = groups.create_group(actor=actor, fields={"name": "Retail"})
    detail = reverse("console:group_detail", args=[group.pk])
    found = admin_client.get(detail, {"q": "adele@"}).content.decode()
    assert "adele@contoso.com" in found and "megan@contoso.com" not in found
    fragment = admin_client.get(
        detail, {"q": "ade"}, headers={"HX-Request": "true", "HX-Target": "candidates"}
    )
    assert b"<html" not in fragment.content and b"adele" in fragment.content
    add = reverse("console:group_member_add", args=[group.pk])
    assert admin_client.post(add, {"user_id": adele.pk}).status_code == 302
    assert list(groups.list_members(actor=actor, group_id=group.pk)) == [adele]
    page = admin_client.get(detail).content.decode()
    assert "adele" in page and "added to Retail" in page
    admin_client.post(add, {"user_id": adele.pk})
    assert GroupMembership.objects.count() == 1
    assert admin_client.post(add, {"user_id": "abc"}).status_code == 404
    remove = reverse("console:group_member_remove", args=[group.pk, adele.pk])
    assert admin_client.post(remove).status_code == 302
    assert not GroupMembership.objects.exists()


def test_member_list_pages(admin_client: Client, actor: Actor, make_user: MakeUser) -> None:
    group = groups.create_group(actor=actor, fields={"name": "Everyone"})
    members = [make_user(f"user{n:03d}") for n in range(105)]
    groups.add_members(actor=actor, group_id=group.pk, user_ids=[u.pk for u in members])
    page = admin_client.get(reverse("console:group_detail", args=[group.pk])).content.decode()
    assert "user099" in page and "user100" not in page and 'rel="next"' in page

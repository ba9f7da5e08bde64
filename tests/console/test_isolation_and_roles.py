"""Every console URL, exercised programmatically (issue 2, point 11, and read-only admins).

The catalogue below says how to call each URL pattern of `lockstep.console.urls`. A pattern the
catalogue does not know fails `test_every_console_url_is_in_the_catalogue`, so a new view cannot
escape these tests.

- Isolation: an administrator of organization A gets 404 for every object of organization B,
  on GET and on POST (POST-only views answer GET with 405 whatever the object, so nothing leaks),
  and whatever A creates lands in A: B is left exactly as it was.
- Roles: a read-only administrator sees every page, gets no write forms, and every write is a 403.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, reverse
from django.utils import timezone

from lockstep.console import urls as console_urls
from lockstep.directory.actors import Actor
from lockstep.directory.models import (
    Administrator,
    AdminRole,
    ApiKey,
    AuditEvent,
    Group,
    GroupMembership,
    Organization,
    User,
)
from lockstep.directory.services import admins, api_keys, groups, users
from lockstep.mail import outbox
from lockstep.mail.models import EmailKind, EmailStatus, OutboundEmail
from lockstep.portal.models import SignInThrottle, ThrottleScope
from lockstep.testing.url_catalogue import Route, post_form_actions

PASSWORD = "Tr1cky-Kangaroo-Lamp"


@dataclass
class World:
    """The objects of one organization that URLs point at."""

    org: Organization
    admin: Administrator
    user: User
    group: Group
    key: ApiKey
    email: OutboundEmail
    lock: SignInThrottle

    def ids(self) -> dict[str, int]:
        return {
            "user": self.user.pk,
            "group": self.group.pk,
            "admin": self.admin.pk,
            "key": self.key.pk,
            "email": self.email.pk,
            "lock": self.lock.pk,
        }


def build_world(org: Organization, slug: str) -> World:
    owner = admins.create_admin(
        organization=org, email=f"owner@{slug}.com", password=PASSWORD, role=AdminRole.OWNER
    )
    actor = Actor.for_admin(owner)
    user = users.create_user(
        actor=actor, fields={"username": f"{slug}-user", "email": f"person@{slug}.com", "first_name": "Pat"}
    )
    group = groups.create_group(actor=actor, fields={"name": f"{slug}-group"})
    groups.add_members(actor=actor, group_id=group.pk, user_ids=[user.pk])
    key, _secret = api_keys.create_api_key(actor=actor, name=f"{slug}-key")
    email = outbox.send(organization=org, kind=EmailKind.TEST, to=f"person@{slug}.com", context={}, user=user)
    OutboundEmail.objects.filter(pk=email.pk).update(status=EmailStatus.FAILED)  # one a writer may resend
    lock = SignInThrottle.objects.create(
        organization=org,
        scope=ThrottleScope.ACCOUNT,
        key=str(user.pk),
        label=user.username,
        failures=5,
        locked_until=timezone.now() + timedelta(minutes=15),
    )
    return World(org, owner, user, group, key, email, lock)


def user_fields(ids: dict[str, int]) -> dict[str, Any]:
    return {"username": "newbie", "email": "newbie@contoso.com", "first_name": "New", "state": "staged"}


CATALOGUE: dict[str, Route] = {
    "index": Route(),
    "login": Route(sign_in=True, post=lambda ids: {"email": "x@example.com", "password": "wrong-Wrong-1"}),
    "mfa": Route(sign_in=True, post=lambda ids: {"code": "000000"}),
    "mfa_enrol": Route(sign_in=True, post=lambda ids: {"code": "000000"}),
    "logout": Route(sign_in=True, post_only=True),
    "recovery_codes": Route(sign_in=True, post_only=True),
    "own_password": Route(sign_in=True, post=lambda ids: {"current_password": "wrong", "new_password": "x"}),
    "users": Route(),
    "users_export": Route(),
    "user_new": Route(creates=True, write_page=True, post=user_fields),
    "users_bulk": Route(post_only=True, post=lambda ids: {"action": "suspend", "user_ids": [ids["user"]]}),
    "users_bulk_apply": Route(
        post_only=True, post=lambda ids: {"action": "suspend", "user_ids_csv": str(ids["user"])}
    ),
    "users_import": Route(write_page=True),
    "users_import_preview": Route(write_page=True),
    "users_import_confirm": Route(post_only=True),
    "users_import_errors": Route(write_page=True),
    "users_import_template": Route(),
    "user_detail": Route(args=lambda ids: [ids["user"]]),
    "user_edit": Route(
        write_page=True,
        args=lambda ids: [ids["user"]],
        post=lambda ids: {"username": "renamed", "email": "r@x.com"},
    ),
    "user_state": Route(
        args=lambda ids: [ids["user"]], post=lambda ids: {"to_state": "active"}, post_only=True
    ),
    "user_password": Route(
        write_page=True, args=lambda ids: [ids["user"]], post=lambda ids: {"password": PASSWORD}
    ),
    "user_delete": Route(write_page=True, args=lambda ids: [ids["user"]]),
    "user_send_activation": Route(args=lambda ids: [ids["user"]], post_only=True),
    "groups": Route(),
    "group_new": Route(
        creates=True, write_page=True, post=lambda ids: {"name": "New group", "description": ""}
    ),
    "group_detail": Route(args=lambda ids: [ids["group"]]),
    "group_edit": Route(
        write_page=True,
        args=lambda ids: [ids["group"]],
        post=lambda ids: {"name": "Renamed", "description": ""},
    ),
    "group_delete": Route(write_page=True, args=lambda ids: [ids["group"]]),
    "group_member_add": Route(
        args=lambda ids: [ids["group"]], post=lambda ids: {"user_id": ids["user"]}, post_only=True
    ),
    "group_member_remove": Route(args=lambda ids: [ids["group"], ids["user"]], post_only=True),
    "settings": Route(
        creates=True,
        post=lambda ids: {"name": "Renamed Org", "password_min_length": "8", "password_min_classes": "3"},
    ),
    "administrators": Route(
        creates=True,
        post=lambda ids: {
            "email": "added@contoso.com",
            "name": "",
            "role": "administrator",
            "password": PASSWORD,
        },
    ),
    "administrator_role": Route(
        args=lambda ids: [ids["admin"]], post=lambda ids: {"role": "read_only"}, post_only=True
    ),
    "administrator_active": Route(
        args=lambda ids: [ids["admin"]], post=lambda ids: {"active": "0"}, post_only=True
    ),
    "administrator_remove": Route(args=lambda ids: [ids["admin"]], post_only=True),
    "api_keys": Route(creates=True, post=lambda ids: {"name": "new-key", "role": "administrator"}),
    "api_key_revoke": Route(args=lambda ids: [ids["key"]], post_only=True),
    "settings_email": Route(
        creates=True,
        post=lambda ids: {"email_sender_name": "Contoso IT", "email_brand_color": "#AA3300"},
    ),
    "settings_email_test": Route(post_only=True, post=lambda ids: {"to": "someone@example.com"}),
    "settings_outbox": Route(),
    "settings_email_resend": Route(args=lambda ids: [ids["email"]], post_only=True),
    "sign_in_locks": Route(),
    "sign_in_lock_clear": Route(args=lambda ids: [ids["lock"]], post_only=True),
    "audit": Route(),
    "audit_export": Route(),
}

OBJECT_ROUTES = {name: route for name, route in CATALOGUE.items() if route.args}
PAGE_ROUTES = {name: route for name, route in CATALOGUE.items() if not route.args and not route.post_only}


def snapshot(org: Organization) -> dict[str, Any]:
    """Everything of an organization that a console request could change."""
    org.refresh_from_db()
    return {
        "org": {f.name: getattr(org, f.name) for f in Organization._meta.fields},
        "users": list(User.objects.filter(organization=org).order_by("pk").values()),
        "groups": list(Group.objects.filter(organization=org).order_by("pk").values()),
        "members": list(GroupMembership.objects.filter(group__organization=org).values_list("group", "user")),
        "admins": list(
            Administrator.objects.filter(organization=org).order_by("pk").values("pk", "email", "role")
        ),
        "keys": list(
            ApiKey.objects.filter(organization=org).order_by("pk").values("pk", "name", "revoked_at")
        ),
        "audit": AuditEvent.objects.filter(organization=org).count(),
        "emails": list(
            OutboundEmail.objects.filter(organization=org).order_by("pk").values("pk", "status", "attempts")
        ),
        "locks": list(SignInThrottle.objects.filter(organization=org).values_list("pk", "locked_until")),
    }


def test_every_console_url_is_in_the_catalogue() -> None:
    names = set()
    for pattern in console_urls.urlpatterns:
        assert isinstance(pattern, URLPattern), f"{pattern!r}: nested includes need catalogue support"
        assert pattern.name, f"{pattern.pattern} has no name"
        names.add(pattern.name)
    unknown = names - set(CATALOGUE)
    assert not unknown, f"console URLs the isolation test does not know how to exercise: {sorted(unknown)}"
    assert not set(CATALOGUE) - names, "catalogue names URLs that no longer exist"


@pytest.fixture
def world_a(org: Organization) -> World:
    return build_world(org, "contoso")


@pytest.fixture
def world_b(other_org: Organization) -> World:
    return build_world(other_org, "fabrikam")


@pytest.fixture
def client_a(world_a: World, signed_in_client: Callable[[Administrator], Client]) -> Client:
    return signed_in_client(world_a.admin)


@pytest.mark.parametrize("name", sorted(OBJECT_ROUTES))
def test_objects_of_another_organization_are_404(
    name: str, world_a: World, world_b: World, client_a: Client
) -> None:
    route = OBJECT_ROUTES[name]
    assert route.args
    before = snapshot(world_b.org)
    url_b = reverse(f"console:{name}", args=route.args(world_b.ids()))
    url_a = reverse(f"console:{name}", args=route.args(world_a.ids()))
    get = client_a.get(url_b)
    if route.post_only:
        assert get.status_code == 405 and client_a.get(url_a).status_code == 405
    else:
        assert get.status_code == 404, url_b
        assert world_b.user.username.encode() not in get.content
    post = client_a.post(url_b, route.post(world_b.ids()))
    assert post.status_code == 404, (url_b, post.status_code)
    assert snapshot(world_b.org) == before


@pytest.mark.parametrize(
    ("name", "args", "post"),
    [
        # A's own group, B's user: in the URL and in the form.
        ("group_member_remove", lambda a, b: [a.group.pk, b.user.pk], {}),
        ("group_member_add", lambda a, b: [a.group.pk], "b-user"),
    ],
)
def test_mixing_own_and_foreign_objects_is_404(
    name: str,
    args: Callable[[World, World], list[int]],
    post: Any,
    world_a: World,
    world_b: World,
    client_a: Client,
) -> None:
    before_a, before_b = snapshot(world_a.org), snapshot(world_b.org)
    data = {"user_id": world_b.user.pk} if post == "b-user" else post
    response = client_a.post(reverse(f"console:{name}", args=args(world_a, world_b)), data)
    assert response.status_code == 404
    assert snapshot(world_a.org) == before_a and snapshot(world_b.org) == before_b


def test_pages_never_show_another_organizations_data(
    world_a: World, world_b: World, client_a: Client
) -> None:
    foreign = [
        world_b.user.username,
        world_b.user.email,
        world_b.group.name,
        world_b.admin.email,
        world_b.key.name,
        world_b.org.name,
    ]
    # Search terms are prefixes of B's values (the page echoes the term, never the whole value).
    queries = [
        {},
        {"q": "fabrikam-u"},
        {"q": "person@fab"},
        {"group": world_b.group.pk},
        {"target": "fabrikam-g"},
        {"target": str(world_b.user.pk)},
        {"action": "user."},
    ]
    for name, route in PAGE_ROUTES.items():
        if route.sign_in:
            continue
        for params in queries:
            response = client_a.get(reverse(f"console:{name}"), params)
            refused = name == "users_export" and response.status_code == 400  # B's group is no filter of A's
            assert response.status_code in (200, 302) or refused, name
            body = b"".join(response.streaming_content) if response.streaming else response.content  # type: ignore[attr-defined]
            for text in foreign:
                assert text.encode() not in body, (name, params, text)


@pytest.mark.parametrize(
    "name",
    sorted(n for n, r in PAGE_ROUTES.items() if not r.sign_in and r.post is not CATALOGUE["index"].post),
)
def test_creating_lands_in_own_organization(
    name: str, world_a: World, world_b: World, client_a: Client
) -> None:
    before_b = snapshot(world_b.org)
    before_a = snapshot(world_a.org)
    response = client_a.post(reverse(f"console:{name}"), CATALOGUE[name].post(world_a.ids()))
    assert response.status_code in (201, 302), (name, response.status_code)
    assert snapshot(world_b.org) == before_b
    assert snapshot(world_a.org) != before_a


# --- read-only administrators -------------------------------------------------------------


@pytest.fixture
def read_only_world(world_a: World, signed_in_client: Callable[[Administrator], Client]) -> Client:
    auditor = admins.create_admin(
        organization=world_a.org, email="auditor@contoso.com", password=PASSWORD, role=AdminRole.READ_ONLY
    )
    return signed_in_client(auditor)


def test_read_only_admin_sees_every_page_without_write_forms(world_a: World, read_only_world: Client) -> None:
    for name, route in CATALOGUE.items():
        if route.sign_in or route.post_only:
            continue
        args = route.args(world_a.ids()) if route.args else []
        response = read_only_world.get(reverse(f"console:{name}", args=args))
        if route.write_page:
            assert response.status_code == 403, name
            continue
        assert response.status_code == 200, name
        if response.streaming:
            continue
        html = response.content.decode()
        actions = post_form_actions(html)
        assert set(actions) <= {reverse("console:logout")}, (name, actions)
        assert "(+) Manual user entry" not in html


@pytest.mark.parametrize("name", sorted(n for n, r in CATALOGUE.items() if not r.sign_in))
def test_read_only_admin_writes_are_403(name: str, world_a: World, read_only_world: Client) -> None:
    route = CATALOGUE[name]
    before = snapshot(world_a.org)
    args = route.args(world_a.ids()) if route.args else []
    response = read_only_world.post(reverse(f"console:{name}", args=args), route.post(world_a.ids()))
    assert response.status_code == 403, name
    assert b"read-only" in response.content
    assert snapshot(world_a.org) == before

"""Every Microsoft 365 portal URL, exercised programmatically: organization isolation and roles.

The catalogue says how to call each pattern of `lockstep.console.directories.urls`; a pattern it does
not know fails `test_every_portal_url_is_in_the_catalogue`, so a new page cannot escape.

- An administrator of organization A gets 404 for every directory, binding, batch, candidate,
  held write, user and group of organization B, on GET and on POST (POST-only views answer GET
  with 405 whatever the object), and organization B is left exactly as it was.
- A read-only administrator sees every page without write forms, gets 403 on every write and
  on the write-only pages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from unittest import mock

import pytest
from django.test import Client
from django.urls import URLPattern, reverse

from lockstep.console.directories import urls as portal_urls
from lockstep.directory import crypto
from lockstep.directory.actors import Actor
from lockstep.directory.models import Administrator, AdminRole, AuditEvent, Group, Organization, User
from lockstep.directory.services import admins, groups, users
from lockstep.m365.credentials import secret_context
from lockstep.m365.models import (
    Directory,
    DirectoryDomain,
    GroupBinding,
    HeldWrite,
    ImportBatch,
    ImportCandidate,
    ImportScan,
    UserBinding,
)
from lockstep.m365.verification import VerificationReport
from lockstep.testing.url_catalogue import Route, post_form_actions

from .conftest import PASSWORD, signed_in


@dataclass
class World:
    org: Organization
    admin: Administrator
    user: User
    group: Group
    directory: Directory
    binding: UserBinding
    held: HeldWrite
    candidate: ImportCandidate
    batch: ImportBatch

    def ids(self) -> dict[str, int]:
        return {
            "directory": self.directory.pk,
            "user": self.user.pk,
            "group": self.group.pk,
            "binding": self.binding.pk,
            "held": self.held.pk,
            "candidate": self.candidate.pk,
            "batch": self.batch.pk,
        }


def build_world(org: Organization, slug: str) -> World:
    owner = admins.create_admin(
        organization=org, email=f"owner@{slug}.com", password=PASSWORD, role=AdminRole.OWNER
    )
    actor = Actor.for_admin(owner)
    user = users.create_user(actor=actor, fields={"username": f"{slug}-user", "email": f"person@{slug}.com"})
    group = groups.create_group(actor=actor, fields={"name": f"{slug}-group"})
    directory = Directory.objects.create(
        organization=org,
        name=f"{slug}-directory",
        tenant_id=f"tenant-{slug}",
        client_id="client",
        credential_kind="secret",
        cloud="custom",
        login_base_url="https://127.0.0.1:9",
        graph_base_url="https://127.0.0.1:9/v1.0",
    )
    # A real encrypted secret: pages that read Microsoft 365 (the SSO page) get "unreachable".
    directory.client_secret_encrypted = crypto.encrypt("s3cret", context=secret_context(directory, "secret"))
    directory.save(update_fields=["client_secret_encrypted"])
    DirectoryDomain.objects.create(directory=directory, name=f"{slug}.com", is_verified=True, is_default=True)
    binding = UserBinding.objects.create(
        directory=directory,
        user=user,
        remote_id=f"r-{slug}",
        remote_upn=user.email,
        status="restore_offered",
        restore_candidate_id=f"deleted-{slug}",
    )
    GroupBinding.objects.create(directory=directory, group=group, remote_id=f"g-{slug}")
    held = HeldWrite.objects.create(directory=directory, binding=binding, operation="disable")
    scan = ImportScan.objects.create(directory=directory, state="done", users_seen=1)
    candidate = ImportCandidate.objects.create(
        scan=scan, remote_id=f"c-{slug}", upn=f"cand@{slug}.com", sort_key=f"cand@{slug}.com", status="new"
    )
    batch = ImportBatch.objects.create(directory=directory, scan=scan, state="done", requested=1, processed=1)
    return World(org, owner, user, group, directory, binding, held, candidate, batch)


def d(ids: dict[str, int]) -> list[int]:
    return [ids["directory"]]


SSO_DOMAIN = "contoso.com"  # the SSO actions name a domain of the directory's tenant in the URL
IMPORT_FORM = {"scope": "filter", "state": "staged", "confirm_admins": "on"}

CATALOGUE: dict[str, Route] = {
    "list": Route(),
    "cards": Route(),
    "new": Route(
        write_page=True,
        creates=True,
        post=lambda ids: {
            "name": "Made by A",
            "tenant_id": "tenant-new.example.com",
            "client_id": "client",
            "credential_kind": "secret",
            "client_secret": "s3cret",
            "cloud": "custom",
            "login_base_url": "https://127.0.0.1:9",
            "graph_base_url": "https://127.0.0.1:9/v1.0",
        },
    ),
    "detail": Route(args=d),
    "verify": Route(args=d, post_only=True),
    "settings": Route(args=d),
    "managed": Route(args=d, post_only=True, post=lambda ids: {"managed_attributes": ["displayName"]}),
    "brake": Route(args=d, post_only=True, post=lambda ids: {"count": "1", "percent": "1"}),
    "held": Route(args=d),
    "held_decide": Route(
        args=d, post_only=True, post=lambda ids: {"held_ids": [ids["held"]], "decision": "approve"}
    ),
    "import": Route(args=d),
    "import_scan": Route(args=d, post_only=True),
    "import_progress": Route(args=d),
    "candidate": Route(args=lambda ids: [ids["directory"], ids["candidate"]]),
    "import_preview": Route(args=d, post_only=True, post=lambda ids: IMPORT_FORM),
    "import_start": Route(args=d, post_only=True, post=lambda ids: IMPORT_FORM),
    "batch": Route(args=lambda ids: [ids["directory"], ids["batch"]]),
    "batch_progress": Route(args=lambda ids: [ids["directory"], ids["batch"]]),
    "batch_undo": Route(args=lambda ids: [ids["directory"], ids["batch"]], write_page=True),
    "groups": Route(args=d),
    "groups_import": Route(args=d, post_only=True, post=lambda ids: {"remote_ids": ["g-x"]}),
    "plan": Route(args=d),
    "export": Route(args=d),
    "sso": Route(args=d),
    "sso_key_next": Route(args=d, post_only=True),
    "sso_key_promote": Route(args=d, post_only=True),
    "sso_immutable_ids": Route(args=lambda ids: [ids["directory"], SSO_DOMAIN], post_only=True),  # type: ignore[list-item]
    "sso_test": Route(args=lambda ids: [ids["directory"], SSO_DOMAIN], post_only=True),  # type: ignore[list-item]
    "sso_federate": Route(args=lambda ids: [ids["directory"], SSO_DOMAIN], post_only=True),  # type: ignore[list-item]
    "sso_roll_back": Route(args=lambda ids: [ids["directory"], SSO_DOMAIN], write_page=True),  # type: ignore[list-item]
    "sso_signed_requests": Route(args=lambda ids: [ids["directory"], SSO_DOMAIN], post_only=True),  # type: ignore[list-item]
    "deactivate": Route(args=d, write_page=True, post=lambda ids: {"confirmation": "x"}),
    "user": Route(args=lambda ids: [ids["user"]]),
    "user_status": Route(args=lambda ids: [ids["user"]]),
    "user_bind": Route(
        args=lambda ids: [ids["user"]], post_only=True, post=lambda ids: {"directory_id": ids["directory"]}
    ),
    "user_unbind": Route(args=lambda ids: [ids["user"], ids["directory"]], post_only=True),
    "user_delete_account": Route(
        args=lambda ids: [ids["user"], ids["directory"]], write_page=True, post=lambda ids: {"confirm": "on"}
    ),
    "binding_restore": Route(args=lambda ids: [ids["binding"]], post_only=True),
    "group": Route(args=lambda ids: [ids["group"]]),
    "group_status": Route(args=lambda ids: [ids["group"]]),
    "group_bind": Route(
        args=lambda ids: [ids["group"]], post_only=True, post=lambda ids: {"directory_id": ids["directory"]}
    ),
    "group_unbind": Route(args=lambda ids: [ids["group"], ids["directory"]], post_only=True),
}
OBJECT_ROUTES = {name: route for name, route in CATALOGUE.items() if route.args}


def snapshot(org: Organization) -> dict[str, Any]:
    """Everything of an organization that a portal request could change."""
    return {
        "users": list(User.objects.filter(organization=org).order_by("pk").values()),
        "groups": list(Group.objects.filter(organization=org).order_by("pk").values()),
        "directories": list(Directory.objects.filter(organization=org).order_by("pk").values()),
        "domains": list(DirectoryDomain.objects.filter(directory__organization=org).order_by("pk").values()),
        "user_bindings": list(
            UserBinding.objects.filter(directory__organization=org).order_by("pk").values()
        ),
        "group_bindings": list(
            GroupBinding.objects.filter(directory__organization=org).order_by("pk").values()
        ),
        "held": list(HeldWrite.objects.filter(directory__organization=org).order_by("pk").values()),
        "scans": list(ImportScan.objects.filter(directory__organization=org).order_by("pk").values()),
        "batches": list(ImportBatch.objects.filter(directory__organization=org).order_by("pk").values()),
        "audit": AuditEvent.objects.filter(organization=org).count(),
    }


@pytest.fixture(autouse=True)
def _no_tenant() -> Iterator[None]:
    """No Microsoft 365 is reachable here: what would talk to it answers without a network."""
    with (
        mock.patch("lockstep.m365.services.directories.run_verification", return_value=VerificationReport()),
        mock.patch("lockstep.m365.services.imports.list_remote_groups", return_value=[]),
    ):
        yield


def test_every_portal_url_is_in_the_catalogue() -> None:
    names = set()
    for pattern in portal_urls.urlpatterns:
        assert isinstance(pattern, URLPattern) and pattern.name
        names.add(pattern.name)
    assert names == set(CATALOGUE), (sorted(names - set(CATALOGUE)), sorted(set(CATALOGUE) - names))


@pytest.fixture
def world_a(org: Organization) -> World:
    return build_world(org, "contoso")


@pytest.fixture
def world_b(other_org: Organization) -> World:
    return build_world(other_org, "fabrikam")


@pytest.fixture
def client_a(world_a: World) -> Client:
    return signed_in(world_a.admin)


def body_of(response: Any) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.parametrize("name", sorted(OBJECT_ROUTES))
def test_objects_of_another_organization_are_404(
    name: str, world_a: World, world_b: World, client_a: Client
) -> None:
    route = OBJECT_ROUTES[name]
    assert route.args
    before = snapshot(world_b.org)
    url_b = reverse(f"directories:{name}", args=route.args(world_b.ids()))
    get = client_a.get(url_b)
    if route.post_only:
        assert get.status_code == 405
    else:
        assert get.status_code == 404, url_b
        assert world_b.directory.name.encode() not in body_of(get)
    post = client_a.post(url_b, route.post(world_b.ids()))
    assert post.status_code == 404, (url_b, post.status_code)
    assert snapshot(world_b.org) == before


@pytest.mark.parametrize(
    ("name", "args", "post"),
    [
        # A's own objects mixed with B's, in the URL or in the form.
        ("user_bind", lambda a, b: [a.user.pk], lambda a, b: {"directory_id": b.directory.pk}),
        ("group_bind", lambda a, b: [a.group.pk], lambda a, b: {"directory_id": b.directory.pk}),
        ("user_unbind", lambda a, b: [a.user.pk, b.directory.pk], lambda a, b: {}),
        ("group_unbind", lambda a, b: [a.group.pk, b.directory.pk], lambda a, b: {}),
        ("user_delete_account", lambda a, b: [a.user.pk, b.directory.pk], lambda a, b: {"confirm": "on"}),
        ("candidate", lambda a, b: [a.directory.pk, b.candidate.pk], lambda a, b: {}),
        ("batch_undo", lambda a, b: [a.directory.pk, b.batch.pk], lambda a, b: {}),
        (
            "held_decide",
            lambda a, b: [a.directory.pk],
            lambda a, b: {"held_ids": [b.held.pk], "decision": "reject"},
        ),
    ],
)
def test_mixing_own_and_foreign_objects_changes_nothing(
    name: str,
    args: Callable[..., list[int]],
    post: Callable[..., dict[str, Any]],
    world_a: World,
    world_b: World,
    client_a: Client,
) -> None:
    before_a, before_b = snapshot(world_a.org), snapshot(world_b.org)
    url = reverse(f"directories:{name}", args=args(world_a, world_b))
    response = client_a.get(url) if name == "candidate" else client_a.post(url, post(world_a, world_b))
    assert response.status_code in (404, 422), (name, response.status_code)
    assert snapshot(world_b.org) == before_b
    assert snapshot(world_a.org) == before_a


def test_lists_never_show_another_organizations_data(
    world_a: World, world_b: World, client_a: Client
) -> None:
    foreign = [
        world_b.directory.name,
        world_b.directory.tenant_id,
        world_b.user.username,
        world_b.candidate.upn,
    ]
    pages = [
        reverse("directories:list"),
        reverse("directories:import", args=[world_a.directory.pk]) + "?q=cand",
        reverse("directories:user", args=[world_a.user.pk]),
        reverse("directories:group", args=[world_a.group.pk]),
        reverse("directories:export", args=[world_a.directory.pk]),
    ]
    for url in pages:
        response = client_a.get(url)
        assert response.status_code == 200, url
        for text in foreign:
            assert text.encode() not in body_of(response), (url, text)


def test_creating_a_directory_lands_in_own_organization(
    world_a: World, world_b: World, client_a: Client
) -> None:
    before_b = snapshot(world_b.org)
    response = client_a.post(reverse("directories:new"), CATALOGUE["new"].post(world_a.ids()))
    assert response.status_code == 302
    assert Directory.objects.get(name="Made by A").organization_id == world_a.org.pk
    assert snapshot(world_b.org) == before_b


# --- read-only administrators -------------------------------------------------------------


@pytest.fixture
def read_only_a(world_a: World) -> Client:
    auditor = admins.create_admin(
        organization=world_a.org, email="auditor@contoso.com", password=PASSWORD, role=AdminRole.READ_ONLY
    )
    return signed_in(auditor)


def test_read_only_admin_sees_every_page_without_write_forms(world_a: World, read_only_a: Client) -> None:
    for name, route in CATALOGUE.items():
        if route.post_only:
            continue
        url = reverse(f"directories:{name}", args=route.args(world_a.ids()) if route.args else [])
        response = read_only_a.get(url)
        if route.write_page:
            assert response.status_code == 403, name
            continue
        assert response.status_code == 200, (name, response.status_code)
        if response.streaming:
            continue
        html = response.content.decode()
        actions = post_form_actions(html)
        assert set(actions) <= {reverse("console:logout")}, (name, actions)


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_read_only_admin_writes_are_403(name: str, world_a: World, read_only_a: Client) -> None:
    route = CATALOGUE[name]
    before = snapshot(world_a.org)
    url = reverse(f"directories:{name}", args=route.args(world_a.ids()) if route.args else [])
    response = read_only_a.post(url, route.post(world_a.ids()))
    assert response.status_code == 403, name
    assert b"read-only" in response.content
    assert snapshot(world_a.org) == before


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_signed_out_is_sent_to_sign_in(name: str, world_a: World) -> None:
    route = CATALOGUE[name]
    url = reverse(f"directories:{name}", args=route.args(world_a.ids()) if route.args else [])
    response = Client().post(url, route.post(world_a.ids()))
    assert response.status_code == 302 and reverse("console:login") in response["Location"]
    half = Client()
    half.force_login(world_a.admin)  # password passed, MFA not yet
    response = half.get(url)
    assert response.status_code == 302 and response["Location"] == reverse("console:mfa")

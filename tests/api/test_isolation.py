"""Organization isolation (issue 2, point 11) for every REST API route.

Routes are enumerated from the ninja API itself (and cross-checked against the OpenAPI document), so
a new route fails `test_every_route_is_covered` until this file learns how to exercise it. Organization
A's credentials must get 404 for every object of organization B, exactly as for an id that never
existed, must never see B's objects in a list, and must not be able to change or create anything in B.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.db.models import Q
from django.test import Client
from django.utils import timezone

from lockstep.api.main import api
from lockstep.directory.actors import Actor
from lockstep.directory.models import (
    Administrator,
    ApiKey,
    AuditEvent,
    Group,
    GroupMembership,
    Organization,
    User,
)
from lockstep.directory.services import api_keys, groups, users
from lockstep.m365.models import (
    Directory,
    DirectoryDomain,
    GroupBinding,
    HeldWrite,
    ImportBatch,
    ImportCandidate,
    ImportedAccount,
    ImportScan,
    UserBinding,
)
from lockstep.m365.verification import VerificationReport
from lockstep.mail import outbox
from lockstep.mail.models import EmailKind, EmailStatus, OutboundEmail
from lockstep.portal.models import SignInThrottle, ThrottleScope
from lockstep.saml import services as sso_services

from .conftest import GOOD_PASSWORD, JsonClient

pytestmark = pytest.mark.django_db

PREFIX = "/api/v1"
MISSING = 987_654_321  # an id no object has


def ninja_routes() -> set[tuple[str, str]]:
    """(METHOD, path template) for every operation the API serves, converters removed."""
    routes: set[tuple[str, str]] = set()
    for bound in api._get_bound_routers():
        for path, path_view in bound.path_operations.items():
            template = re.sub(r"\{\w+:(\w+)\}", r"{\1}", PREFIX + bound.prefix + path)
            for operation in path_view.operations:
                routes.update((method.upper(), template) for method in operation.methods)
    return routes


def openapi_routes() -> set[tuple[str, str]]:
    schema = api.get_openapi_schema(path_prefix=PREFIX + "/")
    return {(method.upper(), path) for path, ops in schema["paths"].items() for method in ops}


@dataclass
class World:
    """Organization A's caller and ids; organization B's objects."""

    kind: str  # "api_key" or "admin_session"
    a: JsonClient
    org_a: Organization
    org_b: Organization
    user_a: User
    group_a: Group
    event_a: AuditEvent
    user_b: User
    group_b: Group
    event_b: AuditEvent
    key_b: ApiKey
    key_b_secret: str
    m365_a: M365Objects = field(default=None)  # type: ignore[assignment]
    m365_b: M365Objects = field(default=None)  # type: ignore[assignment]
    email_b: OutboundEmail = field(default=None)  # type: ignore[assignment]


@dataclass
class M365Objects:
    """One organization's Microsoft 365 objects, made directly (no tenant is contacted)."""

    directory: Directory
    user_binding: UserBinding
    group_binding: GroupBinding
    held: HeldWrite
    scan: ImportScan
    candidate: ImportCandidate
    batch: ImportBatch


def m365_objects(org: Organization, user: User, group: Group, domain: str) -> M365Objects:
    directory = Directory.objects.create(
        organization=org,
        name=f"{org.name} 365",
        tenant_id=f"tenant-{domain}",
        client_id="client",
        credential_kind="secret",
        cloud="custom",
        login_base_url="https://127.0.0.1:9",
        graph_base_url="https://127.0.0.1:9/v1.0",
    )
    DirectoryDomain.objects.create(directory=directory, name=domain, is_verified=True, is_default=True)
    user_binding = UserBinding.objects.create(
        directory=directory, user=user, remote_id=f"r-{domain}", remote_upn=user.email, status="held"
    )
    group_binding = GroupBinding.objects.create(directory=directory, group=group, remote_id=f"g-{domain}")
    held = HeldWrite.objects.create(directory=directory, binding=user_binding, operation="disable")
    scan = ImportScan.objects.create(directory=directory, state="done", users_seen=1)
    candidate = ImportCandidate.objects.create(
        scan=scan, remote_id=f"c-{domain}", upn=f"cand@{domain}", sort_key=f"cand@{domain}", status="new"
    )
    batch = ImportBatch.objects.create(directory=directory, scan=scan, state="done", requested=1, processed=1)
    ImportedAccount.objects.create(
        batch=batch, remote_id=f"c-{domain}", upn=f"cand@{domain}", outcome="skipped"
    )
    return M365Objects(directory, user_binding, group_binding, held, scan, candidate, batch)


def b_state(org_b: Organization) -> dict[str, Any]:
    """Everything organization B owns (its key's last-use time aside)."""
    return {
        "org": list(Organization.objects.filter(pk=org_b.pk).values()),
        "users": list(User.objects.filter(organization=org_b).order_by("pk").values()),
        "groups": list(Group.objects.filter(organization=org_b).order_by("pk").values()),
        "members": list(
            GroupMembership.objects.filter(Q(group__organization=org_b) | Q(user__organization=org_b))
            .order_by("pk")
            .values()
        ),
        "audit": list(AuditEvent.objects.filter(organization=org_b).order_by("pk").values()),
        "keys": list(
            ApiKey.objects.filter(organization=org_b).order_by("pk").values("pk", "revoked_at", "role")
        ),
        "admins": list(Administrator.objects.filter(organization=org_b).order_by("pk").values()),
        "directories": list(Directory.objects.filter(organization=org_b).order_by("pk").values()),
        "domains": list(
            DirectoryDomain.objects.filter(directory__organization=org_b).order_by("pk").values()
        ),
        "user_bindings": list(
            UserBinding.objects.filter(directory__organization=org_b).order_by("pk").values()
        ),
        "group_bindings": list(
            GroupBinding.objects.filter(directory__organization=org_b).order_by("pk").values()
        ),
        "held": list(HeldWrite.objects.filter(directory__organization=org_b).order_by("pk").values()),
        "scans": list(ImportScan.objects.filter(directory__organization=org_b).order_by("pk").values()),
        "candidates": list(
            ImportCandidate.objects.filter(scan__directory__organization=org_b).order_by("pk").values()
        ),
        "batches": list(ImportBatch.objects.filter(directory__organization=org_b).order_by("pk").values()),
        "imported": list(
            ImportedAccount.objects.filter(batch__directory__organization=org_b).order_by("pk").values()
        ),
        "emails": list(OutboundEmail.objects.filter(organization=org_b).order_by("pk").values()),
    }


def same_as_missing(world: World, method: str, path_b: str, path_missing: str, body: Any = None) -> None:
    """B's object answers 404, byte for byte what an id that never existed answers."""
    answer_b = world.a.request(method, path_b, body)
    answer_missing = world.a.request(method, path_missing, body)
    assert answer_b.status_code == 404, (method, path_b, answer_b.data)
    assert answer_b.data["error"]["code"] == "not_found"
    assert (answer_b.status_code, answer_b.data) == (answer_missing.status_code, answer_missing.data)


def ids(response: Any) -> set[int]:
    assert response.status_code == 200, response.data
    return {item["id"] for item in response.data["items"]}


# ---- one exerciser per route ----------------------------------------------------------------------


def users_list(w: World) -> None:
    assert w.user_b.pk not in ids(w.a.get("users?limit=500"))
    assert ids(w.a.get(f"users?email={w.user_b.email}")) == set()
    assert ids(w.a.get(f"users?group_id={w.group_b.pk}")) == set()
    assert ids(w.a.get(f"users?search={w.user_b.username}")) == set()


def users_create(w: World) -> None:
    # B's username and email are free in A: no 409 tells A that B has them.
    response = w.a.post("users", {"username": w.user_b.username, "email": w.user_b.email})
    assert response.status_code == 201, response.data
    assert User.objects.get(pk=response.data["id"]).organization_id == w.org_a.pk
    sneaky = w.a.post(
        "users", {"username": "sneaky", "email": "s@fabrikam.com", "organization_id": w.org_b.pk}
    )
    assert sneaky.status_code == 422
    assert sneaky.data["error"]["fields"] == {"organization_id": ["Unknown field."]}


def user_get(w: World) -> None:
    same_as_missing(w, "GET", f"users/{w.user_b.pk}", f"users/{MISSING}")


def user_patch(w: World) -> None:
    same_as_missing(w, "PATCH", f"users/{w.user_b.pk}", f"users/{MISSING}", {"job_title": "Pwned"})


def user_delete(w: World) -> None:
    same_as_missing(w, "DELETE", f"users/{w.user_b.pk}", f"users/{MISSING}")


def user_state(w: World) -> None:
    body = {"state": "suspended"}
    same_as_missing(w, "POST", f"users/{w.user_b.pk}/state", f"users/{MISSING}/state", body)


def user_password(w: World) -> None:
    body = {"password": GOOD_PASSWORD}
    same_as_missing(w, "POST", f"users/{w.user_b.pk}/password", f"users/{MISSING}/password", body)


def user_activation_email(w: World) -> None:
    same_as_missing(w, "POST", f"users/{w.user_b.pk}/activation-email", f"users/{MISSING}/activation-email")


def users_activation_emails(w: World) -> None:
    """B's user is refused exactly as an id that never existed (422 naming the id; nothing sent)."""
    answer_b = w.a.post("users/activation-emails", {"user_ids": [w.user_b.pk]})
    answer_missing = w.a.post("users/activation-emails", {"user_ids": [MISSING]})
    assert answer_b.status_code == answer_missing.status_code == 422
    words_b = answer_b.data["error"]["fields"]["user_ids"][0].replace(str(w.user_b.pk), "ID")
    assert words_b == answer_missing.data["error"]["fields"]["user_ids"][0].replace(str(MISSING), "ID")


def groups_list(w: World) -> None:
    assert w.group_b.pk not in ids(w.a.get("groups?limit=500"))
    assert ids(w.a.get(f"groups?search={w.group_b.name}")) == set()


def groups_create(w: World) -> None:
    response = w.a.post("groups", {"name": w.group_b.name})
    assert response.status_code == 201, response.data
    assert Group.objects.get(pk=response.data["id"]).organization_id == w.org_a.pk


def group_get(w: World) -> None:
    same_as_missing(w, "GET", f"groups/{w.group_b.pk}", f"groups/{MISSING}")


def group_patch(w: World) -> None:
    same_as_missing(w, "PATCH", f"groups/{w.group_b.pk}", f"groups/{MISSING}", {"name": "Pwned"})


def group_delete(w: World) -> None:
    same_as_missing(w, "DELETE", f"groups/{w.group_b.pk}", f"groups/{MISSING}")


def members_list(w: World) -> None:
    same_as_missing(w, "GET", f"groups/{w.group_b.pk}/members", f"groups/{MISSING}/members")


def members_add(w: World) -> None:
    # A's user into B's group: B's group does not exist for A.
    body = {"user_ids": [w.user_a.pk]}
    same_as_missing(w, "POST", f"groups/{w.group_b.pk}/members", f"groups/{MISSING}/members", body)
    # B's user into A's group: B's user does not exist for A (the same answer as an unknown id).
    into_a = w.a.post(f"groups/{w.group_a.pk}/members", {"user_ids": [w.user_b.pk]})
    unknown = w.a.post(f"groups/{w.group_a.pk}/members", {"user_ids": [MISSING]})
    assert into_a.status_code == 422
    assert list(into_a.data["error"]["fields"]) == ["user_ids"]
    assert into_a.data["error"]["fields"]["user_ids"] == [
        m.replace(str(MISSING), str(w.user_b.pk)) for m in unknown.data["error"]["fields"]["user_ids"]
    ]
    assert not GroupMembership.objects.filter(group=w.group_a, user=w.user_b).exists()


def members_remove(w: World) -> None:
    body = {"user_ids": [w.user_b.pk]}
    same_as_missing(
        w, "POST", f"groups/{w.group_b.pk}/members/remove", f"groups/{MISSING}/members/remove", body
    )
    response = w.a.post(f"groups/{w.group_a.pk}/members/remove", body)
    assert response.status_code == 200 and response.data["removed"] == []


def member_delete(w: World) -> None:
    b, a = w.group_b.pk, w.group_a.pk
    same_as_missing(
        w, "DELETE", f"groups/{b}/members/{w.user_b.pk}", f"groups/{MISSING}/members/{w.user_b.pk}"
    )
    same_as_missing(w, "DELETE", f"groups/{a}/members/{w.user_b.pk}", f"groups/{a}/members/{MISSING}")
    same_as_missing(
        w, "DELETE", f"groups/{b}/members/{w.user_a.pk}", f"groups/{MISSING}/members/{w.user_a.pk}"
    )


def audit_list(w: World) -> None:
    b_events = set(AuditEvent.objects.filter(organization=w.org_b).values_list("pk", flat=True))
    assert b_events
    assert not b_events & ids(w.a.get("audit-events?limit=500"))
    assert ids(w.a.get(f"audit-events?target_type=user&target_id={w.user_b.pk}")) <= set(
        AuditEvent.objects.filter(organization=w.org_a).values_list("pk", flat=True)
    )


def audit_get(w: World) -> None:
    same_as_missing(w, "GET", f"audit-events/{w.event_b.pk}", f"audit-events/{MISSING}")


def organization_get(w: World) -> None:
    response = w.a.get("organization")
    assert response.status_code == 200 and response.data["id"] == w.org_a.pk


def organization_patch(w: World) -> None:
    response = w.a.patch("organization", {"name": "Renamed by A"})
    assert response.status_code == 200 and response.data["id"] == w.org_a.pk
    assert w.a.patch("organization", {"id": w.org_b.pk}).status_code == 422


def keys_list(w: World) -> None:
    assert w.key_b.pk not in ids(w.a.get("api-keys?limit=500"))


def keys_create(w: World) -> None:
    response = w.a.post("api-keys", {"name": "made by A"})
    if w.kind == "api_key":
        assert response.status_code == 403  # keys never mint keys
    else:
        assert response.status_code == 201, response.data
        assert ApiKey.objects.get(pk=response.data["key"]["id"]).organization_id == w.org_a.pk


def key_get(w: World) -> None:
    same_as_missing(w, "GET", f"api-keys/{w.key_b.pk}", f"api-keys/{MISSING}")


def key_revoke(w: World) -> None:
    same_as_missing(w, "POST", f"api-keys/{w.key_b.pk}/revoke", f"api-keys/{MISSING}/revoke")


def emails_list(w: World) -> None:
    assert w.email_b.pk not in ids(w.a.get("emails?limit=500"))
    assert ids(w.a.get(f"emails?user_id={w.user_b.pk}")) == set()


def email_get(w: World) -> None:
    same_as_missing(w, "GET", f"emails/{w.email_b.pk}", f"emails/{MISSING}")


def email_resend(w: World) -> None:
    same_as_missing(w, "POST", f"emails/{w.email_b.pk}/resend", f"emails/{MISSING}/resend")


def _lock_of(user: User) -> SignInThrottle:
    return SignInThrottle.objects.create(
        organization_id=user.organization_id,
        scope=ThrottleScope.ACCOUNT,
        key=str(user.pk),
        label=user.username,
        failures=5,
        locked_until=timezone.now() + timedelta(minutes=15),
    )


def locks_list(w: World) -> None:
    _lock_of(w.user_b)
    lock_a = _lock_of(w.user_a)
    assert ids(w.a.get("sign-in-locks")) == {lock_a.pk}


def lock_clear(w: World) -> None:
    lock_b = _lock_of(w.user_b)
    same_as_missing(w, "DELETE", f"sign-in-locks/{lock_b.pk}", f"sign-in-locks/{MISSING}")
    assert SignInThrottle.objects.filter(pk=lock_b.pk).exists()


EXERCISERS: dict[tuple[str, str], Callable[[World], None]] = {
    ("GET", "/api/v1/sign-in-locks"): locks_list,
    ("DELETE", "/api/v1/sign-in-locks/{lock_id}"): lock_clear,
    ("GET", "/api/v1/users"): users_list,
    ("POST", "/api/v1/users"): users_create,
    ("GET", "/api/v1/users/{user_id}"): user_get,
    ("PATCH", "/api/v1/users/{user_id}"): user_patch,
    ("DELETE", "/api/v1/users/{user_id}"): user_delete,
    ("POST", "/api/v1/users/{user_id}/state"): user_state,
    ("POST", "/api/v1/users/{user_id}/password"): user_password,
    ("POST", "/api/v1/users/{user_id}/activation-email"): user_activation_email,
    ("POST", "/api/v1/users/activation-emails"): users_activation_emails,
    ("GET", "/api/v1/groups"): groups_list,
    ("POST", "/api/v1/groups"): groups_create,
    ("GET", "/api/v1/groups/{group_id}"): group_get,
    ("PATCH", "/api/v1/groups/{group_id}"): group_patch,
    ("DELETE", "/api/v1/groups/{group_id}"): group_delete,
    ("GET", "/api/v1/groups/{group_id}/members"): members_list,
    ("POST", "/api/v1/groups/{group_id}/members"): members_add,
    ("POST", "/api/v1/groups/{group_id}/members/remove"): members_remove,
    ("DELETE", "/api/v1/groups/{group_id}/members/{user_id}"): member_delete,
    ("GET", "/api/v1/audit-events"): audit_list,
    ("GET", "/api/v1/audit-events/{event_id}"): audit_get,
    ("GET", "/api/v1/organization"): organization_get,
    ("PATCH", "/api/v1/organization"): organization_patch,
    ("GET", "/api/v1/api-keys"): keys_list,
    ("POST", "/api/v1/api-keys"): keys_create,
    ("GET", "/api/v1/api-keys/{key_id}"): key_get,
    ("POST", "/api/v1/api-keys/{key_id}/revoke"): key_revoke,
    ("GET", "/api/v1/emails"): emails_list,
    ("GET", "/api/v1/emails/{email_id}"): email_get,
    ("POST", "/api/v1/emails/{email_id}/resend"): email_resend,
}


# ---- Microsoft 365 routes ---------------------------------------------------------------------------------


def dir_b(w: World) -> int:
    return w.m365_b.directory.pk


def directories_list(w: World) -> None:
    assert dir_b(w) not in ids(w.a.get("directories?limit=500"))


def directories_create(w: World) -> None:
    body = {
        "name": w.m365_b.directory.name,  # B's name is free in A
        "tenant_id": "tenant-a-2.example.com",
        "client_id": "client",
        "client_secret": "s3cret",
        "cloud": "custom",
        "login_base_url": "https://127.0.0.1:9",
        "graph_base_url": "https://127.0.0.1:9/v1.0",
    }
    with mock.patch("lockstep.m365.services.directories.run_verification", return_value=VerificationReport()):
        response = w.a.post("directories", body)
    assert response.status_code == 201, response.data
    assert Directory.objects.get(pk=response.data["directory"]["id"]).organization_id == w.org_a.pk
    sneaky = w.a.post("directories", {**body, "name": "x", "organization_id": w.org_b.pk})
    assert sneaky.status_code == 422 and sneaky.data["error"]["fields"] == {
        "organization_id": ["Unknown field."]
    }


def directory_route(method: str, suffix: str = "", body: Any = None) -> Callable[[World], None]:
    def exercise(w: World) -> None:
        same_as_missing(w, method, f"directories/{dir_b(w)}{suffix}", f"directories/{MISSING}{suffix}", body)

    return exercise


def held_decide(decision: str) -> Callable[[World], None]:
    def exercise(w: World) -> None:
        body = {"held_ids": [w.m365_b.held.pk]}
        path = f"held-writes/{decision}"
        same_as_missing(w, "POST", f"directories/{dir_b(w)}/{path}", f"directories/{MISSING}/{path}", body)
        # B's held write through A's own directory: no such held write (as for an unknown id).
        mine = w.m365_a.directory.pk
        answer_b = w.a.post(f"directories/{mine}/{path}", body)
        answer_missing = w.a.post(f"directories/{mine}/{path}", {"held_ids": [MISSING]})
        assert answer_b.status_code == 404 and answer_missing.status_code == 404

    return exercise


def user_binding_route(method: str, suffix: str = "", body: Any = None) -> Callable[[World], None]:
    """/users/{user}/bindings/{directory}...: B's user, and A's user with B's directory."""

    def exercise(w: World) -> None:
        b_user, a_user = w.user_b.pk, w.user_a.pk
        same_as_missing(
            w,
            method,
            f"users/{b_user}/bindings/{dir_b(w)}{suffix}",
            f"users/{MISSING}/bindings/{dir_b(w)}{suffix}",
            body,
        )
        same_as_missing(
            w,
            method,
            f"users/{a_user}/bindings/{dir_b(w)}{suffix}",
            f"users/{a_user}/bindings/{MISSING}{suffix}",
            body,
        )

    return exercise


def user_bindings_list(w: World) -> None:
    same_as_missing(w, "GET", f"users/{w.user_b.pk}/bindings", f"users/{MISSING}/bindings")
    mine = w.a.get(f"users/{w.user_a.pk}/bindings")
    assert [b["directory_id"] for b in mine.data] == [w.m365_a.directory.pk]


def user_bind(w: World) -> None:
    same_as_missing(
        w,
        "POST",
        f"users/{w.user_b.pk}/bindings",
        f"users/{MISSING}/bindings",
        {"directory_id": w.m365_a.directory.pk},
    )
    into_b = w.a.post(f"users/{w.user_a.pk}/bindings", {"directory_id": dir_b(w)})
    unknown = w.a.post(f"users/{w.user_a.pk}/bindings", {"directory_id": MISSING})
    assert into_b.status_code == 404 and (into_b.status_code, into_b.data) == (
        unknown.status_code,
        unknown.data,
    )


def group_bindings_list(w: World) -> None:
    same_as_missing(w, "GET", f"groups/{w.group_b.pk}/bindings", f"groups/{MISSING}/bindings")


def group_unbind(w: World) -> None:
    """B's group, and A's group with B's directory: both answer as for an unknown id."""
    b_group, a_group = w.group_b.pk, w.group_a.pk
    same_as_missing(
        w, "DELETE", f"groups/{b_group}/bindings/{dir_b(w)}", f"groups/{MISSING}/bindings/{dir_b(w)}"
    )
    same_as_missing(
        w, "DELETE", f"groups/{a_group}/bindings/{dir_b(w)}", f"groups/{a_group}/bindings/{MISSING}"
    )


def group_bind(w: World) -> None:
    same_as_missing(
        w,
        "POST",
        f"groups/{w.group_b.pk}/bindings",
        f"groups/{MISSING}/bindings",
        {"directory_id": w.m365_a.directory.pk},
    )
    into_b = w.a.post(f"groups/{w.group_a.pk}/bindings", {"directory_id": dir_b(w)})
    unknown = w.a.post(f"groups/{w.group_a.pk}/bindings", {"directory_id": MISSING})
    assert into_b.status_code == 404 and (into_b.status_code, into_b.data) == (
        unknown.status_code,
        unknown.data,
    )


def candidate_plan(w: World) -> None:
    same_as_missing(
        w, "GET", f"import-candidates/{w.m365_b.candidate.pk}/plan", f"import-candidates/{MISSING}/plan"
    )


def batch_route(method: str, suffix: str = "") -> Callable[[World], None]:
    def exercise(w: World) -> None:
        same_as_missing(w, method, f"imports/{w.m365_b.batch.pk}{suffix}", f"imports/{MISSING}{suffix}")

    return exercise


def candidates_list(w: World) -> None:
    same_as_missing(w, "GET", f"directories/{dir_b(w)}/candidates", f"directories/{MISSING}/candidates")
    mine = w.a.get(f"directories/{w.m365_a.directory.pk}/candidates?limit=500")
    assert w.m365_b.candidate.pk not in ids(mine)


def usage_report(w: World) -> None:
    report = w.a.get("usage-report")
    assert report.status_code == 200
    assert [d["directory_id"] for d in report.data["directories"]] == [w.m365_a.directory.pk]
    assert report.data["users_now"] == User.objects.filter(organization=w.org_a).count()


M365_EXERCISERS: dict[tuple[str, str], Callable[[World], None]] = {
    ("GET", "/api/v1/usage-report"): usage_report,
    ("GET", "/api/v1/directories"): directories_list,
    ("POST", "/api/v1/directories"): directories_create,
    ("GET", "/api/v1/directories/{directory_id}"): directory_route("GET"),
    ("POST", "/api/v1/directories/{directory_id}/verify"): directory_route("POST", "/verify"),
    ("GET", "/api/v1/directories/{directory_id}/health"): directory_route("GET", "/health"),
    ("GET", "/api/v1/directories/{directory_id}/consent-link"): directory_route("GET", "/consent-link"),
    ("PATCH", "/api/v1/directories/{directory_id}/settings"): directory_route(
        "PATCH", "/settings", {"brake_count": 1, "managed_attributes": ["displayName"]}
    ),
    ("GET", "/api/v1/directories/{directory_id}/plan"): directory_route("GET", "/plan"),
    ("GET", "/api/v1/directories/{directory_id}/settings/managed-attributes/preview"): directory_route(
        "GET", "/settings/managed-attributes/preview?attributes=jobTitle"
    ),
    ("GET", "/api/v1/directories/{directory_id}/export"): directory_route("GET", "/export"),
    ("GET", "/api/v1/directories/{directory_id}/bindings"): directory_route("GET", "/bindings"),
    ("POST", "/api/v1/directories/{directory_id}/deactivate"): directory_route(
        "POST", "/deactivate", {"confirmation": "Fabrikam Inc 365"}
    ),
    ("GET", "/api/v1/directories/{directory_id}/held-writes"): directory_route("GET", "/held-writes"),
    ("POST", "/api/v1/directories/{directory_id}/held-writes/approve"): held_decide("approve"),
    ("POST", "/api/v1/directories/{directory_id}/held-writes/reject"): held_decide("reject"),
    ("GET", "/api/v1/users/{user_id}/bindings"): user_bindings_list,
    ("POST", "/api/v1/users/{user_id}/bindings"): user_bind,
    ("GET", "/api/v1/users/{user_id}/bindings/{directory_id}"): user_binding_route("GET"),
    ("DELETE", "/api/v1/users/{user_id}/bindings/{directory_id}"): user_binding_route("DELETE"),
    ("POST", "/api/v1/users/{user_id}/bindings/{directory_id}/delete-account"): user_binding_route(
        "POST", "/delete-account", {"confirm": True}
    ),
    ("POST", "/api/v1/users/{user_id}/bindings/{directory_id}/restore"): user_binding_route(
        "POST", "/restore"
    ),
    ("GET", "/api/v1/groups/{group_id}/bindings"): group_bindings_list,
    ("POST", "/api/v1/groups/{group_id}/bindings"): group_bind,
    ("DELETE", "/api/v1/groups/{group_id}/bindings/{directory_id}"): group_unbind,
    ("POST", "/api/v1/directories/{directory_id}/scans"): directory_route("POST", "/scans"),
    ("GET", "/api/v1/directories/{directory_id}/scans/latest"): directory_route("GET", "/scans/latest"),
    ("GET", "/api/v1/directories/{directory_id}/candidates"): candidates_list,
    ("GET", "/api/v1/import-candidates/{candidate_id}/plan"): candidate_plan,
    ("POST", "/api/v1/directories/{directory_id}/imports/preview"): directory_route(
        "POST", "/imports/preview", {"filter": {}}
    ),
    ("POST", "/api/v1/directories/{directory_id}/imports"): directory_route(
        "POST", "/imports", {"filter": {}, "confirm_admins": True}
    ),
    ("GET", "/api/v1/directories/{directory_id}/imports"): directory_route("GET", "/imports"),
    ("GET", "/api/v1/imports/{batch_id}"): batch_route("GET"),
    ("GET", "/api/v1/imports/{batch_id}/items"): batch_route("GET", "/items"),
    ("GET", "/api/v1/imports/{batch_id}/undo"): batch_route("GET", "/undo"),
    ("POST", "/api/v1/imports/{batch_id}/undo"): batch_route("POST", "/undo"),
    ("GET", "/api/v1/directories/{directory_id}/remote-groups"): directory_route("GET", "/remote-groups"),
    ("POST", "/api/v1/directories/{directory_id}/remote-groups/import"): directory_route(
        "POST", "/remote-groups/import", {"remote_ids": ["g-fabrikam.com"]}
    ),
}
EXERCISERS.update(M365_EXERCISERS)


# ---- single sign-on routes (api/sso.py) -------------------------------------------------------------


def sso_owner_route(suffix: str, body: Any = None) -> Callable[[World], None]:
    """Owner only: an API key (never an owner) is refused first, whatever the directory;
    an owner's session gets 404 for B's directory, as for one that never existed."""

    def exercise(w: World) -> None:
        if w.kind == "admin_session":
            directory_route("POST", suffix, body)(w)
            return
        answer_b = w.a.post(f"directories/{dir_b(w)}{suffix}", body)
        answer_missing = w.a.post(f"directories/{MISSING}{suffix}", body)
        assert answer_b.status_code == 403, answer_b.data
        assert (answer_b.status_code, answer_b.data) == (answer_missing.status_code, answer_missing.data)

    return exercise


def b_keys(w: World) -> list[tuple[str, str]]:
    return [(key.fingerprint, key.status) for key in sso_services.key_overview(w.org_b)]


def sso_keys_list(w: World) -> None:
    theirs = {fingerprint for fingerprint, _ in b_keys(w)}
    answer = w.a.get("sso/keys")
    assert answer.status_code == 200, answer.data
    assert not theirs & {key["fingerprint"] for key in answer.data}


def sso_key_step(step: str) -> Callable[[World], None]:
    def exercise(w: World) -> None:
        before = b_keys(w)
        answer = w.a.post(f"sso/keys/{step}")
        assert answer.status_code in ((200, 409) if w.kind == "admin_session" else (403,)), answer.data
        assert b_keys(w) == before

    return exercise


SSO_EXERCISERS: dict[tuple[str, str], Callable[[World], None]] = {
    ("GET", "/api/v1/directories/{directory_id}/sso"): directory_route("GET", "/sso"),
    ("GET", "/api/v1/directories/{directory_id}/sso/{domain}/readiness"): directory_route(
        "GET", "/sso/fabrikam.com/readiness"
    ),
    ("POST", "/api/v1/directories/{directory_id}/sso/{domain}/immutable-ids"): directory_route(
        "POST", "/sso/fabrikam.com/immutable-ids"
    ),
    ("POST", "/api/v1/directories/{directory_id}/sso/{domain}/test-sign-in"): directory_route(
        "POST", "/sso/fabrikam.com/test-sign-in"
    ),
    ("POST", "/api/v1/directories/{directory_id}/sso/{domain}/federate"): sso_owner_route(
        "/sso/fabrikam.com/federate"
    ),
    ("POST", "/api/v1/directories/{directory_id}/sso/{domain}/roll-back"): sso_owner_route(
        "/sso/fabrikam.com/roll-back"
    ),
    ("POST", "/api/v1/directories/{directory_id}/sso/{domain}/signed-requests"): sso_owner_route(
        "/sso/fabrikam.com/signed-requests", {"required": True}
    ),
    ("GET", "/api/v1/sso/keys"): sso_keys_list,
    ("POST", "/api/v1/sso/keys/next"): sso_key_step("next"),
    ("POST", "/api/v1/sso/keys/promote"): sso_key_step("promote"),
}
EXERCISERS.update(SSO_EXERCISERS)


def test_every_route_is_covered() -> None:
    """Fails when a route exists that this file does not know how to exercise (or one is gone)."""
    served = ninja_routes()
    assert served == openapi_routes(), "every route must be in the OpenAPI document"
    assert served - EXERCISERS.keys() == set(), "new route(s): add an isolation exerciser"
    assert EXERCISERS.keys() - served == set(), "stale exerciser(s): the route is gone"


@pytest.fixture(params=["api_key", "admin_session"])
def world(
    request: pytest.FixtureRequest,
    org: Organization,
    actor: Actor,
    api_key_secret: str,
    admin_client: Client,
    other_org: Organization,
    other_owner_actor: Actor,
) -> World:
    caller = Client(headers={"Authorization": f"Bearer {api_key_secret}"})
    if request.param == "admin_session":
        caller = admin_client
    user_a = users.create_user(actor=actor, fields={"username": "adele", "email": "adele@contoso.com"})
    group_a = groups.create_group(actor=actor, fields={"name": "Sales"})
    groups.add_members(actor=actor, group_id=group_a.pk, user_ids=[user_a.pk])
    user_b = users.create_user(
        actor=other_owner_actor, fields={"username": "bianca", "email": "bianca@fabrikam.com"}
    )
    group_b = groups.create_group(actor=other_owner_actor, fields={"name": "Fabrikam Finance"})
    groups.add_members(actor=other_owner_actor, group_id=group_b.pk, user_ids=[user_b.pk])
    key_b, key_b_secret = api_keys.create_api_key(actor=other_owner_actor, name="fabrikam")
    m365_a = m365_objects(org, user_a, group_a, "contoso.com")
    m365_b = m365_objects(other_org, user_b, group_b, "fabrikam.com")
    email_b = outbox.send(
        organization=other_org, kind=EmailKind.TEST, to=user_b.email, context={}, user=user_b
    )
    OutboundEmail.objects.filter(pk=email_b.pk).update(status=EmailStatus.FAILED)  # resendable by B
    return World(
        kind=request.param,
        a=JsonClient(caller),
        org_a=org,
        org_b=other_org,
        user_a=user_a,
        group_a=group_a,
        event_a=AuditEvent.objects.filter(organization=org).latest("id"),
        user_b=user_b,
        group_b=group_b,
        event_b=AuditEvent.objects.filter(organization=other_org).latest("id"),
        key_b=key_b,
        key_b_secret=key_b_secret,
        m365_a=m365_a,
        m365_b=m365_b,
        email_b=email_b,
    )


@pytest.mark.parametrize("route", sorted(EXERCISERS), ids=lambda r: f"{r[0]} {r[1]}")
def test_organization_a_cannot_reach_organization_b(world: World, route: tuple[str, str]) -> None:
    before = b_state(world.org_b)
    EXERCISERS[route](world)
    assert b_state(world.org_b) == before, "organization B changed"
    b_client = JsonClient(Client(headers={"Authorization": f"Bearer {world.key_b_secret}"}))
    assert b_client.get(f"users/{world.user_b.pk}").status_code == 200, "B's key and user still work"
    assert world.user_a.pk not in ids(b_client.get("users"))


def test_every_route_requires_authentication(org: Organization) -> None:
    anonymous = JsonClient(Client())
    for method, template in sorted(ninja_routes()):
        path = re.sub(r"\{\w+\}", "1", template)
        response = anonymous.request(method, path, {} if method in ("POST", "PATCH") else None)
        assert response.status_code == 401, (method, path)
        assert response.data["error"]["code"] == "not_authenticated"


def test_read_only_keys_get_403_on_every_write(
    read_only_client: JsonClient, db_state: Callable[[], Any], actor: Actor
) -> None:
    user = users.create_user(actor=actor, fields={"username": "adele", "email": "adele@contoso.com"})
    group = groups.create_group(actor=actor, fields={"name": "Sales"})
    groups.add_members(actor=actor, group_id=group.pk, user_ids=[user.pk])
    key, _secret = api_keys.create_api_key(actor=actor, name="writer")
    values = {
        "user_id": user.pk,
        "group_id": group.pk,
        "key_id": key.pk,
        "event_id": 1,
        "directory_id": MISSING,  # writes are refused before any object is looked at
        "batch_id": MISSING,
        "candidate_id": MISSING,
        "email_id": MISSING,
        "lock_id": MISSING,
        "domain": "contoso.com",
    }
    bodies: dict[tuple[str, str], Any] = {
        ("POST", "/api/v1/users"): {"username": "megan", "email": "megan@contoso.com"},
        ("PATCH", "/api/v1/users/{user_id}"): {"job_title": "x"},
        ("POST", "/api/v1/users/{user_id}/state"): {"state": "active"},
        ("POST", "/api/v1/users/{user_id}/password"): {"password": GOOD_PASSWORD},
        ("POST", "/api/v1/users/activation-emails"): {"user_ids": [user.pk]},
        ("POST", "/api/v1/groups"): {"name": "HR"},
        ("PATCH", "/api/v1/groups/{group_id}"): {"name": "HR"},
        ("POST", "/api/v1/groups/{group_id}/members"): {"user_ids": [user.pk]},
        ("POST", "/api/v1/groups/{group_id}/members/remove"): {"user_ids": [user.pk]},
        ("PATCH", "/api/v1/organization"): {"password_takeover": False},
        ("POST", "/api/v1/api-keys"): {"name": "more"},
        ("POST", "/api/v1/directories"): {
            "name": "d",
            "tenant_id": "t",
            "client_id": "c",
            "client_secret": "s",
        },
        ("PATCH", "/api/v1/directories/{directory_id}/settings"): {"brake_count": 1},
        ("POST", "/api/v1/directories/{directory_id}/deactivate"): {"confirmation": "x"},
        ("POST", "/api/v1/directories/{directory_id}/held-writes/approve"): {"held_ids": [1]},
        ("POST", "/api/v1/directories/{directory_id}/held-writes/reject"): {"held_ids": [1]},
        ("POST", "/api/v1/users/{user_id}/bindings"): {"directory_id": 1},
        ("POST", "/api/v1/users/{user_id}/bindings/{directory_id}/delete-account"): {"confirm": True},
        ("POST", "/api/v1/groups/{group_id}/bindings"): {"directory_id": 1},
        ("POST", "/api/v1/directories/{directory_id}/imports/preview"): {"candidate_ids": [1]},
        ("POST", "/api/v1/directories/{directory_id}/imports"): {"candidate_ids": [1]},
        ("POST", "/api/v1/directories/{directory_id}/remote-groups/import"): {"remote_ids": ["x"]},
        ("POST", "/api/v1/directories/{directory_id}/sso/{domain}/signed-requests"): {"required": True},
    }
    before = db_state()
    writes = sorted(route for route in ninja_routes() if route[0] != "GET")
    for method, template in writes:
        path = template.format(**values)
        response = read_only_client.request(method, path, bodies.get((method, template)))
        assert response.status_code == 403, (method, path, response.data)
        assert response.data["error"]["code"] == "permission_denied"
    assert db_state() == before
    for _method, template in sorted(route for route in ninja_routes() if route[0] == "GET"):
        assert read_only_client.get(template.format(**values)).status_code in (200, 404)

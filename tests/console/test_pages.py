"""Dashboard, Directories, audit log, and what every page's HTML must (not) contain."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.test import Client
from django.urls import reverse

from lockstep.directory.actors import Actor
from lockstep.directory.models import User, UserState
from lockstep.directory.services import groups, users

MakeUser = Callable[..., User]


def test_dashboard_counts_by_state_in_one_query(
    admin_client: Client, actor: Actor, make_user: MakeUser, django_assert_num_queries: Any
) -> None:
    make_user("adele")
    alex = make_user("alex")
    users.change_state(actor=actor, user_id=alex.pk, to_state=UserState.ACTIVE)
    admin_client.get(reverse("console:index"))  # warm up
    # session, administrator, organization (name in the header), the one aggregate, session save
    # (savepoint + update + release inside the test transaction), the directory cards (none here)
    # and the status banner (one query each)
    with django_assert_num_queries(9) as captured:
        html = admin_client.get(reverse("console:index")).content.decode()
    assert sum('FROM "directory_user"' in q["sql"] for q in captured.captured_queries) == 1
    counts = {
        label: int(n)
        for n, label in re.findall(
            r'<span class="number">(\d+)</span> <span class="label">([\w ]+)</span>', html
        )
    }
    assert counts == {"All users": 2, "Staged": 1, "Active": 1, "Suspended": 0}
    assert "Contoso Ltd" in html and "owner@contoso.com" in html


def test_audit_log_newest_first_with_filters_and_pages(
    admin_client: Client, actor: Actor, make_user: MakeUser
) -> None:
    adele = make_user("adele")
    users.update_user(actor=actor, user_id=adele.pk, changes={"job_title": "Director"})
    groups.create_group(actor=actor, fields={"name": "Retail"})
    html = admin_client.get(reverse("console:audit")).content.decode()
    actions = re.findall(r"<code>([\w.]+)</code>", html)
    assert actions.index("group.create") < actions.index("user.update") < actions.index("user.create")
    assert "Director" in html  # before/after shown
    only_users = admin_client.get(reverse("console:audit"), {"action": "user."}).content.decode()
    assert "group.create" not in only_users and "user.update" in only_users
    by_target = admin_client.get(reverse("console:audit"), {"target": "Retail"}).content.decode()
    assert "group.create" in by_target and "user.create" not in by_target
    for n in range(60):
        groups.create_group(actor=actor, fields={"name": f"g{n:02d}"})
    first = admin_client.get(reverse("console:audit")).content.decode()
    next_url = re.search(r'<a href="([^"]+)" rel="next">', first)
    assert next_url and "g59" in first and "user.create" not in first
    second = admin_client.get(
        reverse("console:audit") + next_url.group(1).replace("&amp;", "&")
    ).content.decode()
    assert "user.create" in second and "g59" not in second
    assert admin_client.get(reverse("console:audit"), {"cursor": "garbage"}).status_code == 200


def test_pages_follow_the_content_security_policy(
    admin_client: Client, actor: Actor, make_user: MakeUser
) -> None:
    """No inline scripts, style attributes or on* handlers; CSRF header on <body>; CSP sent."""
    user = make_user("adele")
    group = groups.create_group(actor=actor, fields={"name": "Retail"})
    urls = (
        [
            reverse(name)
            for name in (
                "console:index",
                "console:users",
                "console:user_new",
                "console:groups",
                "console:group_new",
                "directories:list",
                "console:settings",
                "console:administrators",
                "console:api_keys",
                "console:audit",
                "console:mfa_enrol",
            )
        ]
        + [
            reverse(name, args=[user.pk])
            for name in (
                "console:user_detail",
                "console:user_edit",
                "console:user_password",
                "console:user_delete",
            )
        ]
        + [
            reverse(name, args=[group.pk])
            for name in ("console:group_detail", "console:group_edit", "console:group_delete")
        ]
    )
    for url in urls:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert "script-src 'self'" in response["Content-Security-Policy"], url
        for script in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in script, url
        assert not re.search(r"<script\b[^>]*>(?!</script>)", html), url
        assert not re.search(r"\sstyle=", html), url
        assert not re.search(r"<style\b", html), url
        assert not re.search(r"\son[a-z]+=", html), url
        assert 'hx-headers=\'{"X-CSRFToken": "' in html, url
        for form in re.findall(r"<form\b[^>]*method=\"post\"[^>]*>.*?</form>", html, re.S):
            assert "csrfmiddlewaretoken" in form, (url, form[:80])
    login = Client().get(reverse("console:login")).content.decode()
    assert "<script" in login and not re.search(r"\sstyle=|\son[a-z]+=", login)


def test_csrf_is_enforced_and_the_htmx_header_carries_the_token(
    owner: Any, signed_in_client: Callable[..., Client]
) -> None:
    client = signed_in_client(owner)
    client.handler.enforce_csrf_checks = True  # type: ignore[attr-defined]
    url = reverse("console:group_new")
    assert client.post(url, {"name": "No token", "description": ""}).status_code == 403
    html = client.get(reverse("console:users")).content.decode()
    token = re.search(r'hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'', html)
    assert token
    response = client.post(
        url, {"name": "With header", "description": ""}, headers={"X-CSRFToken": token.group(1)}
    )
    assert response.status_code == 302
    form_token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', client.get(url).content.decode())
    assert form_token
    response = client.post(
        url, {"name": "With field", "description": "", "csrfmiddlewaretoken": form_token.group(1)}
    )
    assert response.status_code == 302

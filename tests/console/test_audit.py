"""Audit log page and CSV export: filters at their edges, linked targets, formula-safe cells."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime

from django.test import Client
from django.urls import reverse

from lockstep.directory.actors import Actor
from lockstep.directory.models import AuditEvent, User
from lockstep.directory.services import groups, users


def at(event_id: int, moment: datetime) -> None:
    AuditEvent.objects.filter(pk=event_id).update(at=moment)


def page(client: Client, **params: str) -> str:
    response = client.get(reverse("console:audit"), params)
    assert response.status_code == 200
    return response.content.decode()


def export(client: Client, **params: str) -> list[dict[str, str]]:
    response = client.get(reverse("console:audit_export"), params)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    return list(csv.DictReader(io.StringIO(text)))


def test_date_range_includes_both_end_days_whole(admin_client: Client, actor: Actor) -> None:
    made = {}
    for name, moment in {
        "before-range": datetime(2026, 3, 9, 23, 59, 59, tzinfo=UTC),
        "first-second": datetime(2026, 3, 10, 0, 0, 0, tzinfo=UTC),
        "last-second": datetime(2026, 3, 12, 23, 59, 59, 999999, tzinfo=UTC),
        "after-range": datetime(2026, 3, 13, 0, 0, 0, tzinfo=UTC),
    }.items():
        group = groups.create_group(actor=actor, fields={"name": name})
        made[name] = group
        at(AuditEvent.objects.get(action="group.create", target_id=str(group.pk)).pk, moment)
    html = page(admin_client, since="2026-03-10", until="2026-03-12")
    assert "first-second" in html and "last-second" in html
    assert "before-range" not in html and "after-range" not in html
    one_day = page(admin_client, since="2026-03-10", until="2026-03-10")
    assert "first-second" in one_day and "last-second" not in one_day
    rows = export(admin_client, since="2026-03-10", until="2026-03-12")
    assert sorted(r["target"] for r in rows) == ["first-second", "last-second"]


def test_end_before_start_is_refused_with_the_field_named(admin_client: Client) -> None:
    html = page(admin_client, since="2026-03-12", until="2026-03-10")
    assert "The end date must be on or after the start date." in html


def test_who_category_and_target_filters(
    admin_client: Client, actor: Actor, make_user: Callable[..., User]
) -> None:
    adele = make_user("adele")
    groups.create_group(actor=actor, fields={"name": "Retail"})
    AuditEvent.objects.create(
        organization_id=actor.organization_id,
        actor_kind="system",
        actor_label="Microsoft 365 sync (Contoso 365)",
        action="m365.update_user",
        target_type="user",
        target_id=str(adele.pk),
        target_label="adele",
        after={"directory": 1, "jobTitle": None},
    )
    by_sync = page(admin_client, actor="365 sync")
    assert "m365.update_user" in by_sync and "group.create" not in by_sync
    assert "Job title: (cleared)" in by_sync and "Update the account" in by_sync
    assert "owner@contoso.com" not in page(admin_client, actor="365 sync").split("<tbody>")[1]
    writes = page(admin_client, category="m365_writes")
    assert "m365.update_user" in writes and "user.create" not in writes
    only_groups = page(admin_client, category="groups")
    assert "group.create" in only_groups and "user.create" not in only_groups
    by_target = page(admin_client, target="adel")
    assert "user.create" in by_target and "group.create" not in by_target
    assert "Select a valid choice" in page(admin_client, category="nonsense")


def test_targets_link_to_their_pages_while_they_exist(
    admin_client: Client, actor: Actor, make_user: Callable[..., User]
) -> None:
    adele = make_user("adele")
    gone = make_user("gone")
    group = groups.create_group(actor=actor, fields={"name": "Retail"})
    users.delete_user(actor=actor, user_id=gone.pk)
    html = page(admin_client)
    assert f'href="{reverse("console:user_detail", args=[adele.pk])}"' in html
    assert f'href="{reverse("console:group_detail", args=[group.pk])}"' in html
    assert reverse("console:user_detail", args=[gone.pk]) not in html and "gone" in html


def test_csv_export_has_every_filtered_row_and_neutralises_formulas(
    admin_client: Client, actor: Actor
) -> None:
    for n in range(60):  # more than one page
        groups.create_group(actor=actor, fields={"name": f"g{n:02d}"})
    for name in ("=HYPERLINK(1)", "+cmd", "-2", "@SUM(A1)"):
        AuditEvent.objects.create(
            organization_id=actor.organization_id,
            actor_kind="admin",
            actor_label=name,
            action="group.create",
            target_type="group",
            target_id="999",
            target_label=name,
        )
    rows = export(admin_client, category="groups")
    assert len(rows) == 64
    risky = [r for r in rows if r["target_id"] == "999"]
    assert {r["target"] for r in risky} == {"'=HYPERLINK(1)", "'+cmd", "'-2", "'@SUM(A1)"}
    assert {r["who"] for r in risky} == {"'=HYPERLINK(1)", "'+cmd", "'-2", "'@SUM(A1)"}
    assert all(r["category"] == "Groups" for r in rows)
    assert export(admin_client, category="users") == []


def test_csv_export_is_scoped_to_the_organization(
    admin_client: Client, actor: Actor, other_org: object
) -> None:
    AuditEvent.objects.create(
        organization_id=other_org.pk,  # type: ignore[attr-defined]
        actor_kind="admin",
        action="group.create",
        target_label="theirs",
    )
    groups.create_group(actor=actor, fields={"name": "ours"})
    targets = [r["target"] for r in export(admin_client)]
    assert "ours" in targets and "theirs" not in targets

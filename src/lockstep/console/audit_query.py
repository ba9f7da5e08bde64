"""The audit log's filters (date range, who, category, target, action) and its rows in words.

Shared by the page and its CSV export, so both show exactly the same events.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django import forms
from django.db.models import Q, QuerySet
from django.urls import reverse

from lockstep.console import plain_writes
from lockstep.console.forms import ConsoleForm
from lockstep.directory.models import AuditEvent
from lockstep.m365.write_words import PlainWrite

# Category -> (label, action prefixes). The first match names an event's category.
CATEGORIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "users": ("Users", ("user.",)),
    "groups": ("Groups", ("group.",)),
    "m365_writes": (
        "Microsoft 365 writes",
        (
            "m365.create_",
            "m365.update_",
            "m365.set_password",
            "m365.revoke_sessions",
            "m365.add_member",
            "m365.remove_member",
            "m365.drift_repair",
        ),
    ),
    "directories": ("Directories and imports", ("directory.", "m365.")),
    "administrators": ("Administrators and API keys", ("admin.", "api_key.")),
    "settings": ("Organization settings", ("organization.",)),
    "email": ("Email", ("email.",)),
}


class DateInput(forms.DateInput):
    input_type = "date"


class AuditFilterForm(ConsoleForm):
    since = forms.DateField(label="From (UTC)", required=False, widget=DateInput)
    until = forms.DateField(label="To (UTC, included)", required=False, widget=DateInput)
    actor = forms.CharField(label="Who", required=False, max_length=254)
    category = forms.ChoiceField(
        label="Category",
        required=False,
        choices=[("", "All"), *((key, label) for key, (label, _) in CATEGORIES.items())],
    )
    target = forms.CharField(label="Target (name or id)", required=False, max_length=300)
    action = forms.CharField(label="Action starts with", required=False, max_length=64)
    cursor = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", "The end date must be on or after the start date.")
        return data


FILTER_KEYS = ("since", "until", "actor", "category", "target", "action")


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def filtered(organization_id: int, data: dict[str, Any]) -> QuerySet[AuditEvent]:
    """The organization's events matching the cleaned filter values; both dates are included."""
    events = AuditEvent.objects.filter(organization_id=organization_id)
    if data.get("since"):
        events = events.filter(at__gte=_day_start(data["since"]))
    if data.get("until"):
        events = events.filter(at__lt=_day_start(data["until"] + timedelta(days=1)))
    if data.get("actor"):
        term = data["actor"].strip()
        events = events.filter(Q(actor_label__icontains=term) | Q(actor_id=term))
    if data.get("category") in CATEGORIES:
        prefixes = CATEGORIES[data["category"]][1]
        match = Q()
        for prefix in prefixes:
            match |= Q(action__startswith=prefix)
        if data["category"] == "directories":  # the Microsoft 365 writes have their own category
            for prefix in CATEGORIES["m365_writes"][1]:
                match &= ~Q(action__startswith=prefix)
        events = events.filter(match)
    if data.get("action"):
        events = events.filter(action__startswith=data["action"].strip())
    if data.get("target"):
        term = data["target"].strip()
        events = events.filter(Q(target_id=term) | Q(target_label__istartswith=term))
    return events


def filter_params(data: dict[str, Any]) -> dict[str, str]:
    """The filter values as query parameters (for the pages' and the export's links)."""
    out: dict[str, str] = {}
    for key in FILTER_KEYS:
        value = data.get(key)
        if value:
            out[key] = value.isoformat() if isinstance(value, date) else str(value)
    return out


def category_of(action: str) -> str:
    for key in ("m365_writes", *CATEGORIES):
        if any(action.startswith(prefix) for prefix in CATEGORIES[key][1]):
            return CATEGORIES[key][0]
    return "Other"


def target_url(event: AuditEvent) -> str:
    """The page of the event's target (user, group or directory), or "" when it has none."""
    if not event.target_id.isdigit():
        return ""
    names = {
        "user": "console:user_detail",
        "group": "console:group_detail",
        "directory": "directories:detail",
    }
    name = names.get(event.target_type)
    return reverse(name, args=[int(event.target_id)]) if name else ""


def live_targets(events: list[AuditEvent]) -> set[tuple[str, str]]:
    """(type, id) of the targets that still exist: a deleted one is named, not linked."""
    from lockstep.directory.models import Group, User
    from lockstep.m365.models import Directory

    wanted: dict[str, set[int]] = {}
    for event in events:
        if event.target_id.isdigit():
            wanted.setdefault(event.target_type, set()).add(int(event.target_id))
    live: set[tuple[str, str]] = set()
    organization_id = events[0].organization_id if events else 0
    models: dict[str, Any] = {"user": User, "group": Group, "directory": Directory}
    for kind, model in models.items():
        if wanted.get(kind):
            ids = model.objects.filter(organization_id=organization_id, pk__in=wanted[kind]).values_list(
                "pk", flat=True
            )
            live |= {(kind, str(pk)) for pk in ids}
    return live


@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str


def _show(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def changes_of(event: AuditEvent) -> list[Change]:
    before = event.before or {}
    after = event.after or {}
    keys = list(dict.fromkeys([*before, *after]))
    return [Change(k, _show(before.get(k)), _show(after.get(k))) for k in keys]


@dataclass(frozen=True)
class AuditRow:
    event: AuditEvent
    category: str
    target_url: str
    plain: PlainWrite | None  # a Microsoft 365 write in words
    changes: list[Change]  # every other row: before and after per field

    @property
    def words(self) -> str:
        """The change in one line of words (for the CSV export)."""
        if self.plain is not None:
            return "; ".join([self.plain.summary, *(c.text for c in self.plain.changes)])
        return "; ".join(
            f"{c.field}: {c.before or '(empty)'} → {c.after or '(empty)'}"
            if c.before
            else f"{c.field}: {c.after}"
            for c in self.changes
        )


def rows(events: list[AuditEvent]) -> list[AuditRow]:
    live = live_targets(events)
    out = []
    for event in events:
        plain = plain_writes.audit_write(event)
        linked = (event.target_type, event.target_id) in live
        out.append(
            AuditRow(
                event=event,
                category=category_of(event.action),
                target_url=target_url(event) if linked else "",
                plain=plain,
                changes=[] if plain is not None else changes_of(event),
            )
        )
    return out

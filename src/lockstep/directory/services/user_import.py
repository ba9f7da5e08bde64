"""Import users from CSV rows: a plan per row first, then one transaction for every valid row.

A row whose username is new creates a user (state from the `state` column, default staged);
a row whose username exists updates that user's non-empty cells (an empty cell never clears a
value). The field rules are the manual form's (`validation.clean_user_fields`), and so are the
uniqueness rules (username without regard to case, company email). Rows with errors are never
written; the valid ones are written all together or, if anything changed since the preview,
not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from lockstep.directory import audit, events
from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict, ValidationFailed
from lockstep.directory.models import IssuedImmutableId, Organization, User, UserState
from lockstep.directory.services.bulk import chunks
from lockstep.directory.services.users import snapshot
from lockstep.directory.user_csv import CsvRow
from lockstep.directory.validation import clean_user_fields

CREATE, UPDATE, UNCHANGED, ERROR = "create", "update", "unchanged", "error"


@dataclass
class RowPlan:
    line: int
    values: dict[str, str]
    status: str = CREATE
    changes: dict[str, Any] = field(default_factory=dict)  # cleaned values to write
    errors: list[str] = field(default_factory=list)  # "email: Must be an email address ..."
    user: User | None = None  # the user an update changes
    state: str = UserState.STAGED

    @property
    def writes(self) -> bool:
        return self.status in (CREATE, UPDATE)


@dataclass(frozen=True)
class ImportPlan:
    rows: list[RowPlan]

    def count(self, status: str) -> int:
        return sum(1 for row in self.rows if row.status == status)

    @property
    def written_lines(self) -> list[int]:
        return [row.line for row in self.rows if row.writes]


@dataclass(frozen=True)
class ImportResult:
    created: list[int]
    updated: list[int]
    unchanged: int
    errors: int


def _existing(actor: Actor, rows: Sequence[CsvRow]) -> tuple[dict[str, User], dict[str, User]]:
    names = sorted({row.values.get("username", "").strip().lower() for row in rows} - {""})
    emails = sorted({row.values.get("email", "").strip().lower() for row in rows} - {""})
    mine = User.objects.filter(organization_id=actor.organization_id)
    by_name: dict[str, User] = {}
    by_email: dict[str, User] = {}
    for chunk in chunks(names):
        for found in mine.annotate(lower_name=Lower("username")).filter(lower_name__in=chunk):
            by_name[found.username.lower()] = found
    for chunk in chunks(emails):
        for user in mine.filter(email__in=chunk):
            by_email[user.email] = user
    return by_name, by_email


def _field_errors(errors: dict[str, list[str]]) -> list[str]:
    return [f"{name}: {message}" for name, messages in errors.items() for message in messages]


def _plan_row(row: CsvRow, by_name: dict[str, User], by_email: dict[str, User]) -> RowPlan:
    values = {k: v for k, v in row.values.items() if k != "state"}
    plan = RowPlan(line=row.line, values=dict(row.values))
    if row.problem:
        plan.errors.append(row.problem)
    state = row.values.get("state", "").strip().lower()
    existing = by_name.get(values.get("username", "").strip().lower())
    filled = {k: v for k, v in values.items() if v.strip()}
    if existing is None:
        if state and state not in UserState.values:
            plan.errors.append(f"state: Must be one of: {', '.join(UserState.values)}.")
        plan.state = state or UserState.STAGED
        cleaned, errors = clean_user_fields(filled, partial=False)
        plan.errors.extend(_field_errors(errors))
        if not errors and cleaned["email"] in by_email:
            plan.errors.append(f"email: A user with the company email {cleaned['email']!r} already exists.")
        if not cleaned.get("display_name") and not errors:
            full = f"{cleaned.get('first_name', '')} {cleaned.get('last_name', '')}".strip()
            cleaned["display_name"] = full or cleaned["username"]
        plan.changes = cleaned
    else:
        filled.pop("username", None)
        cleaned, errors = clean_user_fields(filled, partial=True)
        plan.errors.extend(_field_errors(errors))
        owner = by_email.get(cleaned.get("email", ""))
        if not errors and owner is not None and owner.pk != existing.pk:
            plan.errors.append(f"email: {owner.username} already has the company email {cleaned['email']!r}.")
        plan.user = existing
        plan.changes = {k: v for k, v in cleaned.items() if getattr(existing, k) != v}
        plan.status = UPDATE if plan.changes else UNCHANGED
    if plan.errors:
        plan.status = ERROR
    return plan


def plan_import(*, actor: Actor, rows: Sequence[CsvRow]) -> ImportPlan:
    """What importing these rows would do, row by row (nothing is written)."""
    by_name, by_email = _existing(actor, rows)
    plans = [_plan_row(row, by_name, by_email) for row in rows]
    first_name: dict[str, int] = {}
    first_email: dict[str, int] = {}
    for plan in plans:
        for key, seen, label in (
            (plan.values.get("username", "").strip().lower(), first_name, "username"),
            (plan.values.get("email", "").strip().lower(), first_email, "email"),
        ):
            if not key:
                continue
            if key in seen:
                plan.errors.append(f"{label}: Also in line {seen[key]} of this file.")
                plan.status = ERROR
            else:
                seen[key] = plan.line
    return ImportPlan(rows=plans)


def _new_immutable_ids(count: int) -> list[str]:
    """`count` ids never issued before (as `users.new_immutable_id`, in one INSERT)."""
    values = [uuid.uuid4().hex for _ in range(count)]
    IssuedImmutableId.objects.bulk_create([IssuedImmutableId(value=v) for v in values], batch_size=500)
    return values


@transaction.atomic
def apply_import(*, actor: Actor, rows: Sequence[CsvRow], expected_lines: Sequence[int]) -> ImportResult:
    """Write every valid row, or nothing if the rows that would be written differ from the preview's."""
    actor.require_write()
    organization = Organization.objects.get(pk=actor.organization_id)
    plan = plan_import(actor=actor, rows=rows)
    if plan.written_lines != list(expected_lines):
        raise Conflict(
            "file",
            "Users changed since the preview, so nothing was imported: check the new preview and confirm again.",
        )
    creates = [row for row in plan.rows if row.status == CREATE]
    updates = [row for row in plan.rows if row.status == UPDATE]
    now = timezone.now()
    new_users = [
        User(
            organization=organization,
            state=row.state,
            immutable_id=immutable_id,
            created_at=now,
            updated_at=now,
            **row.changes,
        )
        for row, immutable_id in zip(creates, _new_immutable_ids(len(creates)), strict=True)
    ]
    try:
        with transaction.atomic():
            User.objects.bulk_create(new_users, batch_size=500)
    except IntegrityError:
        raise Conflict(
            "file", "Another change created some of these users meanwhile: nothing was imported."
        ) from None
    audits = [
        audit.build(
            actor=actor,
            action="user.create",
            target_type="user",
            target_id=user.pk,
            target_label=user.username,
            after={**snapshot(user), "password_setup": user.password_setup, "source": "CSV import"},
        )
        for user in new_users
    ]
    fields_changed: dict[tuple[str, ...], list[int]] = {}
    for row in updates:
        user = row.user
        assert user is not None
        before = {k: getattr(user, k) for k in row.changes}
        for name, value in row.changes.items():
            setattr(user, name, value)
        user.updated_at = now
        user.save(update_fields=[*row.changes, "updated_at"])
        audits.append(
            audit.build(
                actor=actor,
                action="user.update",
                target_type="user",
                target_id=user.pk,
                target_label=user.username,
                before=before,
                after={**row.changes},
            )
        )
        fields_changed.setdefault(tuple(sorted(row.changes)), []).append(user.pk)
    audit.record_many(audits)
    created = [user.pk for user in new_users]
    if created:
        events.emit(events.users_changed, organization_id=organization.pk, user_ids=created, fields=["*"])
    for names, user_ids in fields_changed.items():
        events.emit(
            events.users_changed, organization_id=organization.pk, user_ids=user_ids, fields=list(names)
        )
    if any(row.status == ERROR for row in plan.rows) and not (creates or updates):
        raise ValidationFailed({"file": ["No row can be imported: fix the errors shown and upload again."]})
    return ImportResult(
        created=created,
        updated=[row.user.pk for row in updates if row.user is not None],
        unchanged=plan.count(UNCHANGED),
        errors=plan.count(ERROR),
    )

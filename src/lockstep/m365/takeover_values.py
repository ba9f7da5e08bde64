"""Safe takeover: an empty Lockstep value never silently clears a Microsoft 365 value.

When an import binds an existing Lockstep user to an existing account, Lockstep's values win, so
an empty Lockstep field would clear the account's value. This module names those values in plain
words (`lost_properties`, `count_words`) for the import preview, fills empty Lockstep fields from
the account (`fills`, the import's "Fill empty Lockstep fields from Microsoft 365" option), and
describes what Lockstep changed in an account (`changed_properties`) for an undo that puts the old
values back.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lockstep.directory.models import User
from lockstep.directory.validation import clean_user_fields
from lockstep.m365 import write_words
from lockstep.m365.models import ImportCandidate
from lockstep.m365.reconcile import NOT_CLEARABLE, Operation

USER_FIELDS: dict[str, str] = {
    "displayName": "display_name",
    "givenName": "first_name",
    "surname": "last_name",
    "jobTitle": "job_title",
    "department": "department",
    "businessPhones": "business_phone",
    "mobilePhone": "mobile_phone",
    "employeeId": "employee_id",
    "usageLocation": "usage_location",
}
"""Graph property -> the Lockstep user field it is written from (`mapping.desired_user`)."""

LABELS: dict[str, str] = {**write_words.LABELS, "accountEnabled": "Sign-in allowed"}
"""Graph property -> what an admin calls it (`write_words.LABELS`); here `accountEnabled` reads
"Sign-in allowed", as its values show as Yes/No."""


def label_of(prop: str) -> str:
    return LABELS.get(prop, prop)


def is_empty(value: Any) -> bool:
    return value in (None, "", [])


def same(a: Any, b: Any) -> bool:
    """Equal as Microsoft 365 sees it: empty, null and [] are one value; lists compare as lists."""
    if isinstance(a, list) or isinstance(b, list):
        return list(a or []) == list(b or [])
    return (a if not is_empty(a) else None) == (b if not is_empty(b) else None)


def shown(value: Any) -> str:
    """A value in words: "(empty)", "Yes"/"No", a list's items."""
    if is_empty(value):
        return "(empty)"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def remote_values(candidate: ImportCandidate, properties: Iterable[str]) -> dict[str, Any]:
    """The account's values before a takeover, for `properties` (what an undo can put back)."""
    current = {
        **candidate.attributes,
        "userPrincipalName": candidate.upn,
        "accountEnabled": candidate.enabled,
    }
    out = {p: current.get(p) for p in properties}
    if "businessPhones" in out:
        out["businessPhones"] = list(out["businessPhones"] or [])
    return out


def _remote_text(attributes: Mapping[str, Any], prop: str) -> str:
    value = attributes.get(prop)
    if isinstance(value, list):
        return str(value[0]) if value else ""
    return "" if value is None else str(value)


def fills(user: User, attributes: Mapping[str, Any], managed: Iterable[str]) -> dict[str, str]:
    """Lockstep field -> the account's value, for each managed attribute empty in Lockstep and set
    in Microsoft 365 (only values Lockstep accepts: a value it refuses stays a listed loss)."""
    out: dict[str, str] = {}
    for prop in managed:
        field = USER_FIELDS.get(prop)
        if field is None or getattr(user, field) or not _remote_text(attributes, prop).strip():
            continue
        cleaned, errors = clean_user_fields({field: _remote_text(attributes, prop)}, partial=True)
        if not errors and cleaned.get(field):
            out[field] = str(cleaned[field])
    return out


def filled(user: User, values: Mapping[str, str]) -> User:
    """An unsaved copy of `user` with `values` filled in (what the plan of a filled takeover uses)."""
    twin = copy.copy(user)
    for field, value in values.items():
        setattr(twin, field, value)
    return twin


def lost_properties(attributes: Mapping[str, Any], operations: Iterable[Operation]) -> list[str]:
    """Properties the planned writes clear although the account has a value."""
    lost: list[str] = []
    for operation in operations:
        if operation.kind != "update_user" or not operation.body:
            continue
        for prop, value in operation.body.items():
            if prop in USER_FIELDS and is_empty(value) and not is_empty(attributes.get(prop)):
                lost.append(prop)
    return lost


def count_words(counts: Mapping[str, int], verb: str, verb_one: str = "") -> str:
    """ "12 accounts would lose their Job title, 3 their Mobile phone" (largest first; "" if none)."""
    parts = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    words = [
        f"{count} {'account' if count == 1 else 'accounts'} {(verb_one or verb) if count == 1 else verb} "
        f"their {prop_label}"
        if n == 0
        else f"{count} their {prop_label}"
        for n, (prop_label, count) in enumerate(parts)
    ]
    return ", ".join(words)


@dataclass(frozen=True)
class RemoteChange:
    """One property Lockstep changed in an account: its value before the takeover and now."""

    attribute: str  # the Graph property
    before: Any
    now: Any
    restorable: bool  # the old value can be written back
    why_not: str = ""

    @property
    def label(self) -> str:
        return label_of(self.attribute)

    @property
    def words(self) -> str:
        """ "Job title: (empty) → Manager" read as before → now; a cleared value is "(cleared)"."""
        now = "(cleared)" if is_empty(self.now) and not is_empty(self.before) else shown(self.now)
        return f"{self.label}: {shown(self.before)} → {now}"


def changed_properties(before: Mapping[str, Any], now: Mapping[str, Any]) -> list[RemoteChange]:
    """What differs between the account's values before the takeover and Lockstep's last known ones."""
    out = []
    for prop, old in before.items():
        if prop not in now or same(old, now[prop]):
            continue
        if is_empty(old) and prop in NOT_CLEARABLE:
            why = f"Microsoft 365 does not allow clearing the {label_of(prop)} once it is set."
            out.append(RemoteChange(prop, old, now[prop], False, why))
        else:
            out.append(RemoteChange(prop, old, now[prop], True))
    return out


def restore_body(changes: Iterable[RemoteChange]) -> dict[str, Any]:
    """The PATCH body that writes the old values back (Graph clears with null, not "")."""
    body: dict[str, Any] = {}
    for change in changes:
        if change.restorable:
            value = change.before
            body[change.attribute] = (
                list(value or [])
                if change.attribute == "businessPhones"
                else (None if is_empty(value) else value)
            )
    return body

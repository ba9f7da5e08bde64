"""Microsoft 365 writes in plain words: "Job title: Manager → (cleared)".

Pure: no Django, no I/O. Every page of the Admin Portal that shows a Graph write (pending
writes, held writes, the import preview and a candidate's plan, audit rows of Microsoft 365
writes) turns it into a `PlainWrite` here: a one-line summary, one line per property, and the
raw request (method, path, JSON body) for the "Technical details". A password is never shown,
in the words or in the body.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

GRAPH_ROOT = re.compile(r"^https://[^/]+/(v1\.0|beta)")
HIDDEN = "(not shown)"
CLEARED = "(cleared)"
EMPTY = "(empty)"

LABELS: dict[str, str] = {
    "accountEnabled": "Account",
    "displayName": "Display name",
    "givenName": "First name",
    "surname": "Last name",
    "jobTitle": "Job title",
    "department": "Department",
    "businessPhones": "Business phone",
    "mobilePhone": "Mobile phone",
    "employeeId": "Employee ID",
    "usageLocation": "Usage location",
    "userPrincipalName": "Sign-in name",
    "mail": "Email",
    "mailNickname": "Mail alias",
    "onPremisesImmutableId": "Immutable ID",
    "passwordProfile": "Password",
    "description": "Description",
    "mailEnabled": "Mail-enabled",
    "securityEnabled": "Security group",
    "groupTypes": "Group types",
}
"""Graph property -> what an admin calls it; a property not listed keeps its Graph name."""

_MISSING: Any = object()


def label(name: str) -> str:
    return LABELS.get(name, name)


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def show(name: str, value: Any) -> str:
    """A value as words: booleans as enabled/blocked or yes/no, lists joined, passwords hidden."""
    if name == "passwordProfile" or name == "password":
        return HIDDEN
    if isinstance(value, bool):
        if name == "accountEnabled":
            return "enabled" if value else "blocked"
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or EMPTY
    if is_empty(value):
        return EMPTY
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


@dataclass(frozen=True)
class FieldChange:
    """One property of a write. `before` None: the value Microsoft 365 held is not known."""

    name: str  # the Graph property
    label: str
    before: str | None
    after: str
    put_back: bool = False  # a drift repair: `before` is what someone set in Microsoft 365

    @property
    def text(self) -> str:
        if self.put_back:
            return f"{self.label}: {self.after} — put back: was {self.before} in Microsoft 365"
        if self.after == HIDDEN:
            return f"{self.label}: set {HIDDEN}"
        if self.before is None or self.before == EMPTY:
            return (
                f"{self.label}: {CLEARED}" if self.after == CLEARED else f"{self.label}: set to {self.after}"
            )
        return f"{self.label}: {self.before} → {self.after}"

    def __str__(self) -> str:
        return self.text


def field_change(name: str, after: Any, before: Any = _MISSING, *, put_back: bool = False) -> FieldChange:
    """One property set, changed or cleared; `before` left out when it is not known."""
    shown_after = show(name, after)
    if shown_after == EMPTY and name not in ("passwordProfile", "password"):
        shown_after = CLEARED
    shown_before = None if before is _MISSING else show(name, before)
    return FieldChange(name, label(name), shown_before, shown_after, put_back)


def changes(
    body: Mapping[str, Any] | None, before: Mapping[str, Any] | None = None, *, put_back: bool = False
) -> tuple[FieldChange, ...]:
    """A line per property of a write body; `before` gives the values Microsoft 365 held."""
    known = before if before is not None else {}
    return tuple(
        field_change(name, value, known.get(name, _MISSING), put_back=put_back)
        for name, value in (body or {}).items()
        if not name.startswith("@odata")
    )


def hide_passwords(value: Any) -> Any:
    """A copy of a request body with every password replaced by "(not shown)"."""
    if isinstance(value, Mapping):
        return {k: HIDDEN if k == "password" else hide_passwords(v) for k, v in value.items()}
    if isinstance(value, list):
        return [hide_passwords(v) for v in value]
    return value


@dataclass(frozen=True)
class PlainWrite:
    summary: str  # "Update the account", "Add member: adele", ...
    changes: tuple[FieldChange, ...]
    method: str
    path: str
    body: str  # the JSON body with passwords hidden; "" when the request has none

    @property
    def request(self) -> str:
        return f"{self.method} {self.path}"


def graph_path(url: str) -> str:
    """The request path without the Graph host and version: /users/{id}."""
    return GRAPH_ROOT.sub("", url) or "/"


def _member(ref: str, names: Mapping[str, str]) -> str:
    member = ref.rstrip("/").rsplit("/", 1)[-1]
    return names.get(member, member)


def _summary(method: str, segments: list[str], body: Mapping[str, Any], names: Mapping[str, str]) -> str:
    kind = segments[0] if segments else ""
    if kind == "users":
        if method == "POST" and len(segments) == 1:
            return "Create the account"
        if method == "POST" and segments[-1] == "revokeSignInSessions":
            return "End all sign-in sessions"
        if method == "DELETE" and len(segments) == 2:
            return "Delete the account (to the recycle bin)"
        if method == "PATCH" and set(body) == {"passwordProfile"}:
            return "Set the password"
        if method == "PATCH" and body.get("accountEnabled") is False:
            return "Block sign-in"
        if method == "PATCH":
            return "Update the account"
    if kind == "groups":
        if method == "POST" and len(segments) == 1 and body.get("members@odata.bind"):
            refs = body["members@odata.bind"]
            return "Create the security group with members: " + ", ".join(
                _member(str(r), names) for r in refs
            )
        if method == "POST" and len(segments) == 1:
            return "Create the security group"
        if method == "POST" and segments[-1] == "$ref" and "members" in segments:
            return f"Add member: {_member(str(body.get('@odata.id', '')), names)}"
        if method == "DELETE" and segments[-1] == "$ref" and "members" in segments:
            return f"Remove member: {names.get(segments[-2], segments[-2])}"
        if method == "PATCH" and "members@odata.bind" in body:
            refs = body.get("members@odata.bind") or []
            return "Add members: " + ", ".join(_member(str(ref), names) for ref in refs)
        if method == "PATCH":
            return "Update the group"
    if kind == "directory" and segments[-1] == "restore":
        return "Restore the deleted account"
    return f"{method} {'/'.join(segments)}"


def _without_binds(body: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The body's properties: member references are said in the summary, not as a field change."""
    if body is None:
        return None
    return {k: v for k, v in body.items() if not k.endswith("@odata.bind")}


def describe(
    method: str,
    url: str,
    body: Mapping[str, Any] | None = None,
    *,
    before: Mapping[str, Any] | None = None,
    member_names: Mapping[str, str] | None = None,
) -> PlainWrite:
    """One Graph request in plain words, with the raw request for the technical details.

    `before`: the values Microsoft 365 held (a property left out is "not known");
    `member_names`: remote id -> a name for group member references.
    """
    method = method.upper()
    path = graph_path(url)
    segments = [s for s in path.split("?", 1)[0].split("/") if s]
    shown = hide_passwords(dict(body)) if body is not None else None
    return PlainWrite(
        summary=_summary(method, segments, body or {}, member_names or {}),
        changes=changes(_without_binds(body), before)
        if method in ("POST", "PATCH") and "$ref" not in segments
        else (),
        method=method,
        path=path,
        body=json.dumps(shown, indent=2, sort_keys=True, ensure_ascii=False) if shown is not None else "",
    )

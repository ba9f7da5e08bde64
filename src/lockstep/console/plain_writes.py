"""Microsoft 365 writes of the Admin Portal's pages in plain words (`m365.write_words`).

Each page has its own shape of a write (a pending write, a held one, an import's planned one,
an audit row); these functions find the "before" values each one has and describe it. The
templates show the result with `console/_write.html`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

from lockstep.directory.models import AuditEvent
from lockstep.m365 import write_words
from lockstep.m365.models import ImportCandidate, UserBinding
from lockstep.m365.write_plans import PendingWrite
from lockstep.m365.write_words import PlainWrite


class _Planned(Protocol):
    candidate_id: int
    method: str
    url: str
    body: dict[str, Any] | None


def pending(writes: Iterable[PendingWrite]) -> list[tuple[PendingWrite, PlainWrite | None]]:
    """Pending writes with their words (a held or membership line has no request: None)."""
    out: list[tuple[PendingWrite, PlainWrite | None]] = []
    for w in writes:
        op = w.request
        plain = write_words.describe(op.method, op.url, op.body, before=w.before) if op is not None else None
        out.append((w, plain))
    return out


def held_disable(remote_id: str) -> PlainWrite:
    """A disable held by the deletion brake: the account was enabled and would be blocked (the
    engine ends its sessions right after, as for every disable)."""
    plain = write_words.describe(
        "PATCH", f"/users/{remote_id}", {"accountEnabled": False}, before={"accountEnabled": True}
    )
    return replace(plain, summary="Block sign-in and end all sessions")


def held(rows: Sequence[Any]) -> list[tuple[Any, PlainWrite]]:
    remote = dict(
        UserBinding.objects.filter(pk__in=[r.binding_id for r in rows]).values_list("pk", "remote_id")
    )
    return [(row, held_disable(remote.get(row.binding_id) or "")) for row in rows]


def _candidate_before(candidate: ImportCandidate) -> dict[str, Any]:
    return {**candidate.attributes, "userPrincipalName": candidate.upn, "accountEnabled": candidate.enabled}


def planned(writes: Sequence[_Planned]) -> list[tuple[_Planned, PlainWrite]]:
    """An import preview's writes, with the values each account holds in Microsoft 365 now."""
    candidates = ImportCandidate.objects.filter(pk__in={w.candidate_id for w in writes}).only(
        "pk", "upn", "enabled", "attributes"
    )
    before = {c.pk: _candidate_before(c) for c in candidates}
    return [
        (w, write_words.describe(w.method, w.url, w.body, before=before.get(w.candidate_id))) for w in writes
    ]


def candidate_plan(writes: Sequence[_Planned], current: Mapping[str, Any]) -> list[PlainWrite]:
    """One candidate's writes; `current` is what the account holds now (property -> value)."""
    return [write_words.describe(w.method, w.url, w.body, before=current) for w in writes]


# --- audit rows -----------------------------------------------------------------------------------

M365_WRITE_ACTIONS = {
    "m365.create_user": ("POST", "/users"),
    "m365.update_user": ("PATCH", "/users/{id}"),
    "m365.set_password": ("PATCH", "/users/{id}"),
    "m365.revoke_sessions": ("POST", "/users/{id}/revokeSignInSessions"),
}
DRIFT_REPAIR = "m365.drift_repair"
AUDIT_BOOKKEEPING = frozenset({"directory", "request", "remote_id"})


def audit_write(event: AuditEvent) -> PlainWrite | None:
    """An audit row of a Microsoft 365 write in words; None for any other row.

    User writes keep their body (passwords already replaced by the engine); group writes keep
    the request line. A drift repair keeps what Microsoft 365 held and what Lockstep put back.
    """
    after = dict(event.after or {})
    before = dict(event.before or {})
    if event.action == DRIFT_REPAIR:
        values = {k: v for k, v in after.items() if k not in AUDIT_BOOKKEEPING}
        return write_words.PlainWrite(
            summary="Put back in Microsoft 365 (changed there by hand)",
            changes=write_words.changes(values, before, put_back=True),
            method="PATCH",
            path=f"/users/{after.get('remote_id', '{id}')}",
            body=write_words.describe("PATCH", "/users", values).body,
        )
    if not event.action.startswith("m365."):
        return None
    request = str(after.get("request") or "")
    if request and " " in request:
        method, url = request.split(" ", 1)
        return write_words.describe(method, url)
    if event.action not in M365_WRITE_ACTIONS:
        return None
    method, path = M365_WRITE_ACTIONS[event.action]
    body = {k: v for k, v in after.items() if k not in AUDIT_BOOKKEEPING}
    if "password" in body:  # the engine records a delivered password as "password": "(delivered)"
        body.pop("password")
        body["passwordProfile"] = {"password": ""}
    return write_words.describe(method, path, body or None, before=before or None)

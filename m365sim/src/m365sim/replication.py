"""Replication lag (graph-facts §12.2): Entra ID is an eventually consistent, replicated store.

A request routed to a replica that has not yet seen a recent change behaves as if the change
had not happened. m365sim models one such lagging replica that serves *every* request:

* an object created or restored less than N seconds ago does not exist yet: GET, PATCH and
  DELETE of it, ``$ref`` add/remove naming it (as group or member), its ``members`` and
  ``memberOf`` reads answer 404 ``Request_ResourceNotFound`` with the real body;
* collections (``/users``, ``/groups``, with or without ``$filter``, ``$count``) leave it out;
* a membership change less than N seconds old is not in the group's member lists yet (an add
  is missing, a removal is still listed);
* delta rounds stop before the first change that has not replicated yet (the round's
  deltaLink starts there, so the change shows up in a later round, never lost), and full
  rounds leave unreplicated objects out.

Writes are judged on the real state (uniqueness conflicts, "already a member"): only reads and
the addressing of a not-yet-replicated object lag.

N comes from ``Settings.replication_lag_seconds`` (every object; default 0 = no lag) and from
``replication_lag`` faults (``sim.faults.add("replication_lag", seconds=3, target="alice@")``),
whose ``target`` regex picks objects by id, userPrincipalName, displayName or mailNickname.
The lag of a change is decided when it happens (``Tenant.log_change`` calls :meth:`noted`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from m365sim.errors import not_found
from m365sim.state import Change, Tenant, now

if TYPE_CHECKING:
    from m365sim.simulator import Simulator


@dataclass(frozen=True)
class _MemberChange:
    until: float  # replicated from this time on
    added: bool
    member: str


class Replication:
    """The lagging replica's view of one tenant (attached as ``tenant.replication``)."""

    def __init__(self, sim: Simulator, tenant: Tenant) -> None:
        self.sim = sim
        self.tenant = tenant
        self._objects: dict[str, float] = {}  # object id -> when its create/restore replicates
        self._members: dict[str, list[_MemberChange]] = {}  # group id -> pending membership changes
        self._holds: list[tuple[float, int]] = []  # (until, change seq) for delta rounds

    # ----- deciding the lag of a change ---------------------------------------------------------
    def lag_for(self, obj: dict[str, Any] | None) -> float:
        """Seconds a change to `obj` takes to replicate: the setting, or a matching fault."""
        seconds = float(self.sim.settings.replication_lag_seconds or 0.0)
        faults = getattr(self.sim, "faults", None)
        if obj is not None and faults is not None and hasattr(faults, "replication_lag"):
            seconds = max(seconds, float(faults.replication_lag(obj)))
        return seconds

    def noted(self, change: Change) -> None:
        """Called for every change-log entry: remember the ones that lag."""
        at = change.at or now()
        if len(self._objects) > 10_000:  # long runs: forget what replicated long ago
            self._objects = {oid: until for oid, until in self._objects.items() if until > at}
        if change.op == "upsert" and not change.props:  # created or restored
            lag = self.lag_for(self._object(change.id))
            if lag > 0:
                self._objects[change.id] = at + lag
                self._holds.append((at + lag, change.seq))
        elif change.op in ("member_add", "member_remove") and change.member:
            lag = max(
                self.lag_for(self._object(change.id)),
                self.lag_for(self._object(change.member)),
                self._objects.get(change.id, 0.0) - at,
                self._objects.get(change.member, 0.0) - at,
            )
            if lag > 0:
                pending = self._members.setdefault(change.id, [])
                pending.append(_MemberChange(at + lag, change.op == "member_add", change.member))
                self._holds.append((at + lag, change.seq))

    def _object(self, oid: str) -> dict[str, Any] | None:
        t = self.tenant
        return t.users.get(oid) or t.groups.get(oid)

    # ----- the lagging view ----------------------------------------------------------------------
    def hidden(self, oid: str) -> bool:
        """True while `oid`'s create or restore has not replicated."""
        until = self._objects.get(oid)
        if until is None:
            return False
        if until <= now():
            del self._objects[oid]
            return False
        return True

    def visible(self, objects: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """`objects` without the ones that have not replicated (collections, `$filter`)."""
        if not self._objects:
            yield from objects
            return
        for obj in objects:
            if not self.hidden(obj["id"]):
                yield obj

    def member_ids(self, gid: str) -> list[str]:
        """The group's direct members as the replica lists them (recent changes undone)."""
        live = list(self.tenant.members.get(gid, {}))
        pending = self._members.get(gid)
        if not pending:
            return [m for m in live if not self.hidden(m)] if self._objects else live
        current = now()
        pending[:] = [c for c in pending if c.until > current]
        view = dict.fromkeys(live)
        for change in reversed(pending):
            if change.added:
                view.pop(change.member, None)
            else:
                view[change.member] = None
        return [m for m in view if not self.hidden(m)]

    def pending_seconds(self) -> float:
        """Seconds until every change made so far has replicated (0: the replica is current)."""
        untils = [*self._objects.values(), *(c.until for p in self._members.values() for c in p)]
        untils += [until for until, _ in self._holds]
        return max([0.0, *(until - now() for until in untils)])

    def delta_end(self, seq: int) -> int:
        """The last change-log sequence number the replica has (delta rounds end there)."""
        if not self._holds:
            return seq
        current = now()
        self._holds = [h for h in self._holds if h[0] > current]
        return min([seq, *(s - 1 for _, s in self._holds)])


# ----- helpers for the route handlers ---------------------------------------------------------------


def of(t: Tenant) -> Replication | None:
    replication = getattr(t, "replication", None)
    return replication if isinstance(replication, Replication) else None


def hidden(t: Tenant, oid: str) -> bool:
    replication = of(t)
    return replication is not None and replication.hidden(oid)


def require_replicated(t: Tenant, oid: str, key: str | None = None) -> None:
    """404 ``Request_ResourceNotFound`` (naming `key`, default `oid`) while `oid` lags."""
    if hidden(t, oid):
        raise not_found(key or oid)


def visible(t: Tenant, objects: Iterable[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    replication = of(t)
    return objects if replication is None else replication.visible(objects)


def member_ids(t: Tenant, gid: str) -> list[str]:
    replication = of(t)
    return list(t.members.get(gid, {})) if replication is None else replication.member_ids(gid)


def delta_end(t: Tenant, seq: int) -> int:
    replication = of(t)
    return seq if replication is None else replication.delta_end(seq)


def attach(sim: Simulator, tenant: Tenant) -> Tenant:
    """Give `tenant` its lagging replica (the simulator calls this for every tenant it serves)."""
    tenant.replication = Replication(sim, tenant)
    return tenant

"""The in-memory tenant model of m365sim.

Everything the simulator knows lives in one :class:`Tenant`:

* ``domains``: ``{name_lower: Domain}`` with authenticationType/isVerified/isDefault/isInitial
  and, for federated domains, ``federation`` (an internalDomainFederation dict, Graph shape).
* ``users`` / ``groups``: ``{id: dict}`` where the dict holds Graph property names and values
  (exactly what ``$select`` can return). Internal data that Graph never shows (passwords,
  change counters) lives in side tables (``passwords``).
* secondary indexes kept in step by :meth:`Tenant.index_user` / :meth:`Tenant.unindex_user`
  (and the group equivalents) so lookups by id, UPN, mail, proxy address, immutable id and
  mailNickname are O(1) at 100,000 users.
* memberships: ``members[group_id]`` is an insertion-ordered dict of member ids;
  ``member_of[object_id]`` the reverse set.
* ``deleted``: soft-deleted users and Microsoft 365 groups (``deletedDateTime`` set).
* ``apps``: app registrations (:class:`AppRegistration`) keyed by appId, each with its
  service principal object id, secrets, certificates, granted application permissions.
* ``role_assignments``: unifiedRoleAssignment dicts (principalId -> roleDefinitionId).
* ``changes``: monotonic change log used by delta queries (:class:`Change`).
* ``request_log``: one :class:`LoggedRequest` per Graph/login request (with its RU cost).

``Tenant.to_json()`` / ``Tenant.from_json()`` save and load the whole model (``--state FILE``).
The records besides users and groups are in `records`.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import deque
from pathlib import Path
from typing import Any

from m365sim.records import (
    DIRECTORY_WRITERS,
    DOMAIN_NAME_ADMIN,
    EXTERNAL_IDP_ADMIN,
    GLOBAL_ADMIN,
    GLOBAL_READER,
    GROUPS_ADMIN,
    HELPDESK_ADMIN,
    HYBRID_IDENTITY_ADMIN,
    LICENSE_ADMIN,
    PASSWORD_ADMIN,
    PRIVILEGED_AUTH_ADMIN,
    PRIVILEGED_ROLE_ADMIN,
    ROLE_NAMES,
    USER_ADMIN,
    WIDS_CONSTANT,
    AppRegistration,
    Certificate,
    Change,
    Domain,
    LoggedRequest,
    Secret,
    Settings,
    Sku,
    iso,
    new_id,
    now,
)

# The tenant model's names: the records are re-exported, callers import them from here.
__all__ = [
    "DIRECTORY_WRITERS",
    "DOMAIN_NAME_ADMIN",
    "EXTERNAL_IDP_ADMIN",
    "GLOBAL_ADMIN",
    "GLOBAL_READER",
    "GROUPS_ADMIN",
    "HELPDESK_ADMIN",
    "HYBRID_IDENTITY_ADMIN",
    "LICENSE_ADMIN",
    "PASSWORD_ADMIN",
    "PRIVILEGED_AUTH_ADMIN",
    "PRIVILEGED_ROLE_ADMIN",
    "ROLE_NAMES",
    "USER_ADMIN",
    "WIDS_CONSTANT",
    "AppRegistration",
    "Certificate",
    "Change",
    "Domain",
    "LoggedRequest",
    "Secret",
    "Settings",
    "Sku",
    "Tenant",
    "iso",
    "load_tenant",
    "new_id",
    "now",
    "save_tenant",
]


class Tenant:
    """One Microsoft 365 tenant. All maps are plain dicts so large seeds build fast."""

    def __init__(self, tenant_id: str, display_name: str, initial_domain: str) -> None:
        self.id = tenant_id
        self.display_name = display_name
        self.initial_domain = initial_domain.lower()
        self.created = now()
        self.domains: dict[str, Domain] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, dict[str, Any]] = {}
        self.passwords: dict[str, str] = {}
        # forceChangePasswordNextSignIn of each account's last passwordProfile (Graph's default: true)
        self.password_force_change: dict[str, bool] = {}
        self.members: dict[str, dict[str, None]] = {}
        self.owners: dict[str, dict[str, None]] = {}
        self.member_of: dict[str, set[str]] = {}
        self.deleted: dict[str, dict[str, Any]] = {}  # id -> object (users + M365 groups)
        self.deleted_kind: dict[str, str] = {}  # id -> 'user' | 'group'
        self.apps: dict[str, AppRegistration] = {}
        self.sp_index: dict[str, str] = {}  # servicePrincipal object id -> appId
        self.role_assignments: dict[str, dict[str, Any]] = {}
        self.role_assigned_at: dict[str, float] = {}  # assignment id -> when (not served by Graph)
        self.skus: dict[str, Sku] = {}
        self.changes: list[Change] = []
        self.seq = 0
        self.request_log: deque[LoggedRequest] = deque(maxlen=100_000)
        self.replication: Any = None  # replication.Replication: the lagging replica's view (§12.2)
        # indexes
        self.by_upn: dict[str, str] = {}
        self.by_mail: dict[str, str] = {}  # users' and groups' mail
        self.by_proxy: dict[str, str] = {}  # address without prefix, lower -> object id
        self.by_immutable: dict[str, str] = {}
        self.user_nick: dict[str, set[str]] = {}
        self.group_nick: dict[str, str] = {}
        self.by_name: dict[str, str] = {}  # tenant display name etc.: unused placeholder

    # ----- domains -----------------------------------------------------------------------------
    def add_domain(self, name: str, **kw: Any) -> Domain:
        d = Domain(id=name, **kw)
        self.domains[name.lower()] = d
        return d

    def domain_of(self, upn: str) -> Domain | None:
        return self.domains.get(upn.rsplit("@", 1)[-1].lower())

    def default_domain(self) -> Domain:
        for d in self.domains.values():
            if d.isDefault:
                return d
        return self.domains[self.initial_domain]

    def verified_domains(self) -> list[Domain]:
        return [d for d in self.domains.values() if d.isVerified]

    # ----- indexes ------------------------------------------------------------------------------
    def index_user(self, u: dict[str, Any]) -> None:
        uid = u["id"]
        self.by_upn[u["userPrincipalName"].lower()] = uid
        if u.get("mail"):
            self.by_mail[u["mail"].lower()] = uid
        for p in u.get("proxyAddresses") or []:
            self.by_proxy[p.split(":", 1)[-1].lower()] = uid
        if u.get("onPremisesImmutableId"):
            self.by_immutable[u["onPremisesImmutableId"]] = uid
        if u.get("mailNickname"):
            self.user_nick.setdefault(u["mailNickname"].lower(), set()).add(uid)

    def unindex_user(self, u: dict[str, Any]) -> None:
        uid = u["id"]
        if self.by_upn.get(u["userPrincipalName"].lower()) == uid:
            del self.by_upn[u["userPrincipalName"].lower()]
        if u.get("mail") and self.by_mail.get(u["mail"].lower()) == uid:
            del self.by_mail[u["mail"].lower()]
        for p in u.get("proxyAddresses") or []:
            key = p.split(":", 1)[-1].lower()
            if self.by_proxy.get(key) == uid:
                del self.by_proxy[key]
        imm = u.get("onPremisesImmutableId")
        if imm and self.by_immutable.get(imm) == uid:
            del self.by_immutable[imm]
        if u.get("mailNickname"):
            self.user_nick.get(u["mailNickname"].lower(), set()).discard(uid)

    def index_group(self, g: dict[str, Any]) -> None:
        gid = g["id"]
        if g.get("mail"):
            self.by_mail[g["mail"].lower()] = gid
        for p in g.get("proxyAddresses") or []:
            self.by_proxy[p.split(":", 1)[-1].lower()] = gid
        if g.get("mailNickname"):
            self.group_nick[g["mailNickname"].lower()] = gid

    def unindex_group(self, g: dict[str, Any]) -> None:
        gid = g["id"]
        if g.get("mail") and self.by_mail.get(g["mail"].lower()) == gid:
            del self.by_mail[g["mail"].lower()]
        for p in g.get("proxyAddresses") or []:
            key = p.split(":", 1)[-1].lower()
            if self.by_proxy.get(key) == gid:
                del self.by_proxy[key]
        nick = (g.get("mailNickname") or "").lower()
        if nick and self.group_nick.get(nick) == gid:
            del self.group_nick[nick]

    # ----- lookups ------------------------------------------------------------------------------
    def find_user(self, key: str) -> dict[str, Any] | None:
        """By id or userPrincipalName (what /users/{id|upn} accepts)."""
        u = self.users.get(key)
        if u is None and "@" in key:
            uid = self.by_upn.get(key.lower())
            u = self.users.get(uid) if uid else None
        return u

    def find_by_mail(self, mail: str) -> dict[str, Any] | None:
        oid = self.by_mail.get(mail.lower())
        return self.users.get(oid) or self.groups.get(oid) if oid else None

    def find_by_immutable_id(self, immutable_id: str) -> dict[str, Any] | None:
        uid = self.by_immutable.get(immutable_id)
        return self.users.get(uid) if uid else None

    def find_object(self, oid: str) -> tuple[str, dict[str, Any]] | None:
        if oid in self.users:
            return "user", self.users[oid]
        if oid in self.groups:
            return "group", self.groups[oid]
        if oid in self.sp_index:
            return "servicePrincipal", self.service_principal(self.sp_index[oid])
        return None

    # ----- memberships --------------------------------------------------------------------------
    def add_member(self, gid: str, mid: str) -> None:
        self.members.setdefault(gid, {})[mid] = None
        self.member_of.setdefault(mid, set()).add(gid)

    def remove_member(self, gid: str, mid: str) -> None:
        self.members.get(gid, {}).pop(mid, None)
        self.member_of.get(mid, set()).discard(gid)

    # ----- apps / roles -------------------------------------------------------------------------
    def app_by_sp(self, sp_id: str) -> AppRegistration | None:
        app_id = self.sp_index.get(sp_id)
        return self.apps.get(app_id) if app_id else None

    def add_app(self, app: AppRegistration) -> None:
        self.apps[app.appId] = app
        self.sp_index[app.servicePrincipalId] = app.appId

    def service_principal(self, app_id: str) -> dict[str, Any]:
        app = self.apps[app_id]
        return {
            "id": app.servicePrincipalId,
            "appId": app.appId,
            "displayName": app.displayName,
            "accountEnabled": True,
            "appOwnerOrganizationId": self.id,
            "servicePrincipalType": "Application",
            "servicePrincipalNames": [app.appId],
            "appRoleAssignmentRequired": False,
        }

    def assign_role(self, principal_id: str, role_id: str, scope: str = "/") -> dict[str, Any]:
        ra = {
            "id": new_id(),
            "principalId": principal_id,
            "roleDefinitionId": role_id,
            "directoryScopeId": scope,
        }
        self.role_assignments[ra["id"]] = ra
        self.role_assigned_at[ra["id"]] = time.time()
        return ra

    def roles_in_token(self, principal_id: str, lag_s: float) -> set[str]:
        """The tenant-wide roles old enough to appear in a token issued now (`wids`)."""
        cutoff = time.time() - lag_s
        return {
            ra["roleDefinitionId"]
            for ra in self.role_assignments.values()
            if ra["principalId"] == principal_id
            and ra["directoryScopeId"] == "/"
            and self.role_assigned_at.get(ra["id"], 0.0) <= cutoff
        }

    def roles_of(self, principal_id: str) -> set[str]:
        return {
            ra["roleDefinitionId"]
            for ra in self.role_assignments.values()
            if ra["principalId"] == principal_id and ra["directoryScopeId"] == "/"
        }

    # ----- change log ---------------------------------------------------------------------------
    def log_change(
        self,
        kind: str,
        oid: str,
        op: str,
        props: list[str] | None = None,
        member: str | None = None,
        member_type: str | None = None,
    ) -> None:
        self.seq += 1
        change = Change(self.seq, kind, oid, op, props or [], member, member_type, now())
        self.changes.append(change)
        if self.replication is not None:
            self.replication.noted(change)

    # ----- persistence --------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "display_name": self.display_name,
            "initial_domain": self.initial_domain,
            "created": self.created,
            "domains": [dataclasses.asdict(d) for d in self.domains.values()],
            "users": list(self.users.values()),
            "groups": list(self.groups.values()),
            "passwords": self.passwords,
            "members": {g: list(m) for g, m in self.members.items()},
            "owners": {g: list(m) for g, m in self.owners.items()},
            "deleted": self.deleted,
            "deleted_kind": self.deleted_kind,
            "apps": [dataclasses.asdict(a) for a in self.apps.values()],
            "role_assignments": list(self.role_assignments.values()),
            "skus": [dataclasses.asdict(s) for s in self.skus.values()],
            "changes": [dataclasses.asdict(c) for c in self.changes],
            "seq": self.seq,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Tenant:
        t = cls(data["id"], data["display_name"], data["initial_domain"])
        t.created = data.get("created", now())
        for d in data["domains"]:
            t.domains[d["id"].lower()] = Domain(**d)
        for u in data["users"]:
            t.users[u["id"]] = u
            t.index_user(u)
        for g in data["groups"]:
            t.groups[g["id"]] = g
            t.index_group(g)
        t.passwords = dict(data.get("passwords", {}))
        for gid, mids in data.get("members", {}).items():
            for mid in mids:
                t.add_member(gid, mid)
        t.owners = {g: dict.fromkeys(m) for g, m in data.get("owners", {}).items()}
        t.deleted = data.get("deleted", {})
        t.deleted_kind = data.get("deleted_kind", {})
        for a in data["apps"]:
            a["secrets"] = [Secret(**s) for s in a["secrets"]]
            a["certificates"] = [Certificate(**c) for c in a["certificates"]]
            t.add_app(AppRegistration(**a))
        t.role_assignments = {ra["id"]: ra for ra in data.get("role_assignments", [])}
        t.skus = {s["skuId"]: Sku(**s) for s in data.get("skus", [])}
        t.changes = [Change(**c) for c in data.get("changes", [])]
        t.seq = data.get("seq", 0)
        return t


def save_tenant(tenant: Tenant, path: str | Path) -> None:
    tmp = Path(str(path) + ".tmp")
    tmp.write_text(json.dumps(tenant.to_json()))
    tmp.replace(path)


def load_tenant(path: str | Path) -> Tenant:
    return Tenant.from_json(json.loads(Path(path).read_text()))

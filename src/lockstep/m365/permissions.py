"""Every Microsoft Graph call Lockstep makes, and the application permissions they need.

The catalogue is the single source of truth: `REQUIRED_PERMISSIONS` (what the set-up guide asks
for and Verify checks), which granted permission satisfies which required one, and which
features a missing permission disables are all derived from it. The permission table in
docs/m365-setup.md §3 is `permissions_table()` (`lockstep permissions-table`; a test keeps
the two equal).

`documented` is Microsoft's application-permission list for the call, least privileged first
(graph-facts §12.1 and the "Permissions" section of each Graph v1.0 API page). `lockstep_uses`
is the one permission of Lockstep's set that covers the call. The set is the smallest one
covering every call:

- Group.ReadWrite.All is needed anyway (PATCH /groups/{id} has no narrower permission) and
  covers member writes (`$ref`, `members@odata.bind`), so GroupMember.ReadWrite.All is not asked
  for. Binding members when creating a group also needs User.Read.All or higher, which
  User.ReadWrite.All is.
- User.ReadWrite.All is needed anyway (POST /users has no narrower permission) and, with the
  User Administrator role, covers passwordProfile, revokeSignInSessions, delete and restore,
  so User-PasswordProfile.ReadWrite.All, User.RevokeSessions.All and User.DeleteRestore.All are
  not asked for.
- Domain.Read.All covers both the domain list and a domain's federationConfiguration list.
- Domain-InternalFederation.ReadWrite.All is the least privileged permission that creates,
  updates and deletes a domain's federation configuration (Domain.ReadWrite.All, the only
  other one, would also let Lockstep add, verify and delete domains).
- The app's own service principal id is the token's `oid` claim, and the health probe reads
  one user: Application.Read.All, Organization.Read.All and Directory.Read.All are not needed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# Features, as the set-up guide and Verify name them.
VERIFY_ROLES = "the check of the app's directory role"
IMPORT_ADMIN_FLAG = "the import's admin-role flag"
DOMAINS = "reading the tenant's domains (binding users, the domain-overlap check, GoDaddy detection)"
HEALTH = "the health probe"
IMPORT = "importing existing accounts"
PROVISION = "provisioning and account sync"
PASSWORDS = "setting passwords"
DISABLE = "blocking sign-in and revoking sessions"
DELETE_RESTORE = "deleting and restoring accounts"
GROUP_IMPORT = "importing groups"
GROUP_SYNC = "group sync"
DRIFT_USERS = "drift detection of accounts"
DRIFT_GROUPS = "drift detection of groups"
ALL = "every write (sent as JSON batches)"
FEDERATION = "federating domains for single sign-on (SAML), rolling back and rotating its certificate"
FEDERATION_CHECKS = "the federation readiness check and test sign-in"

USER_ADMINISTRATOR_ROLE = "User Administrator"

_USER_READ = (
    "User.ReadBasic.All",
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
)
_USER_READ_FULL = ("User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
_GROUP_READ = (
    "GroupMember.Read.All",
    "Group.Read.All",
    "Directory.Read.All",
    "Group.ReadWrite.All",
    "Directory.ReadWrite.All",
)
_MEMBERS_READ = (
    "GroupMember.Read.All",
    "Group.Read.All",
    "Directory.Read.All",
    "GroupMember.ReadWrite.All",
    "Group.ReadWrite.All",
    "Directory.ReadWrite.All",
)
_MEMBER_WRITE = ("GroupMember.ReadWrite.All", "Group.ReadWrite.All", "Directory.ReadWrite.All")
_ROLE_READ = (
    "RoleManagement.Read.Directory",
    "RoleManagement.Read.All",
    "Directory.Read.All",
    "RoleManagement.ReadWrite.Directory",
)
# create/update/delete internalDomainFederation (Graph v1.0 pages, graph-facts §8.1, §12.1)
_FEDERATION_WRITE = ("Domain-InternalFederation.ReadWrite.All", "Domain.ReadWrite.All")
BASIC_ONLY = "User.ReadBasic.All returns basic properties only; Lockstep reads onPremisesImmutableId and proxyAddresses."


@dataclass(frozen=True)
class GraphCall:
    method: str
    path: str
    features: tuple[str, ...]
    documented: tuple[str, ...]  # Microsoft's application permissions, least privileged first
    lockstep_uses: str  # "" only for $batch, which is authorized request by request
    directory_role: str = ""  # a directory role the call needs on top of the permission
    note: str = ""

    @property
    def least_privileged(self) -> str:
        return self.documented[0] if self.documented else ""


CATALOGUE: tuple[GraphCall, ...] = (
    GraphCall("GET", "/users?$top=1&$select=id", (HEALTH,), _USER_READ, "User.ReadWrite.All"),
    GraphCall("GET", "/users/$count", (IMPORT,), _USER_READ, "User.ReadWrite.All"),
    GraphCall("GET", "/users?$select=…", (IMPORT,), _USER_READ, "User.ReadWrite.All", note=BASIC_ONLY),
    GraphCall(
        "GET",
        "/users?$filter=…",
        (PROVISION, IMPORT, FEDERATION_CHECKS),
        _USER_READ,
        "User.ReadWrite.All",
        note=BASIC_ONLY,
    ),
    GraphCall(
        "GET",
        "/users/{id}",
        (DELETE_RESTORE, FEDERATION_CHECKS),
        _USER_READ,
        "User.ReadWrite.All",
        note=BASIC_ONLY,
    ),
    GraphCall(
        "POST",
        "/users",
        (PROVISION,),
        ("User.ReadWrite.All", "Directory.ReadWrite.All"),
        "User.ReadWrite.All",
    ),
    GraphCall(
        "PATCH",
        "/users/{id}",
        (PROVISION, DISABLE),
        ("User.ReadWrite.All", "Directory.ReadWrite.All"),
        "User.ReadWrite.All",
    ),
    GraphCall(
        "PATCH",
        "/users/{id} (passwordProfile)",
        (PASSWORDS,),
        ("User-PasswordProfile.ReadWrite.All", "User.ReadWrite.All", "Directory.ReadWrite.All"),
        "User.ReadWrite.All",
        directory_role=USER_ADMINISTRATOR_ROLE,
    ),
    GraphCall(
        "POST",
        "/users/{id}/revokeSignInSessions",
        (DISABLE,),
        ("User.RevokeSessions.All", "User.ReadWrite.All", "Directory.ReadWrite.All"),
        "User.ReadWrite.All",
    ),
    GraphCall(
        "DELETE",
        "/users/{id}",
        (DELETE_RESTORE,),
        ("User.DeleteRestore.All", "User.ReadWrite.All", "Directory.ReadWrite.All"),
        "User.ReadWrite.All",
    ),
    GraphCall(
        "GET",
        "/directory/deletedItems/microsoft.graph.user",
        (PROVISION, DELETE_RESTORE),
        _USER_READ_FULL,
        "User.ReadWrite.All",
    ),
    GraphCall(
        "POST",
        "/directory/deletedItems/{id}/restore",
        (DELETE_RESTORE,),
        ("User.DeleteRestore.All", "User.ReadWrite.All", "Directory.ReadWrite.All"),
        "User.ReadWrite.All",
    ),
    GraphCall("GET", "/users/delta", (DRIFT_USERS,), _USER_READ_FULL, "User.ReadWrite.All"),
    GraphCall("GET", "/groups", (GROUP_IMPORT,), _GROUP_READ, "Group.ReadWrite.All"),
    GraphCall("GET", "/groups/{id}", (GROUP_IMPORT,), _GROUP_READ, "Group.ReadWrite.All"),
    GraphCall(
        "GET", "/groups/{id}/members", (GROUP_SYNC, GROUP_IMPORT), _MEMBERS_READ, "Group.ReadWrite.All"
    ),
    GraphCall(
        "POST",
        "/groups",
        (GROUP_SYNC,),
        ("Group.Create", "Group.ReadWrite.All", "Directory.ReadWrite.All"),
        "Group.ReadWrite.All",
    ),
    GraphCall(
        "PATCH",
        "/groups/{id}",
        (GROUP_SYNC,),
        ("Group.ReadWrite.All", "Directory.ReadWrite.All"),
        "Group.ReadWrite.All",
    ),
    GraphCall(
        "PATCH", "/groups/{id} (members@odata.bind)", (GROUP_SYNC,), _MEMBER_WRITE, "Group.ReadWrite.All"
    ),
    GraphCall("POST", "/groups/{id}/members/$ref", (GROUP_SYNC,), _MEMBER_WRITE, "Group.ReadWrite.All"),
    GraphCall(
        "DELETE", "/groups/{id}/members/{id}/$ref", (GROUP_SYNC,), _MEMBER_WRITE, "Group.ReadWrite.All"
    ),
    GraphCall("GET", "/groups/delta", (DRIFT_GROUPS,), _GROUP_READ, "Group.ReadWrite.All"),
    GraphCall(
        "GET",
        "/domains",
        (DOMAINS, FEDERATION_CHECKS),
        ("Domain.Read.All", "Directory.Read.All", "Domain.ReadWrite.All", "Directory.ReadWrite.All"),
        "Domain.Read.All",
    ),
    GraphCall(
        "GET",
        "/domains/{name}/federationConfiguration",
        (DOMAINS, FEDERATION_CHECKS),
        ("Domain.Read.All", "Domain.ReadWrite.All"),
        "Domain.Read.All",
    ),
    GraphCall(
        "POST",
        "/domains/{name}/federationConfiguration",
        (FEDERATION,),
        _FEDERATION_WRITE,
        "Domain-InternalFederation.ReadWrite.All",
    ),
    GraphCall(
        "PATCH",
        "/domains/{name}/federationConfiguration/{id}",
        (FEDERATION,),
        _FEDERATION_WRITE,
        "Domain-InternalFederation.ReadWrite.All",
    ),
    GraphCall(
        "DELETE",
        "/domains/{name}/federationConfiguration/{id}",
        (FEDERATION,),
        _FEDERATION_WRITE,
        "Domain-InternalFederation.ReadWrite.All",
    ),
    GraphCall(
        "GET",
        "/roleManagement/directory/roleAssignments?$filter=roleDefinitionId eq '{id}'",
        (FEDERATION_CHECKS,),
        _ROLE_READ,
        "RoleManagement.Read.Directory",
        note="Global Administrators: a break-glass account on the .onmicrosoft.com domain must exist.",
    ),
    GraphCall(
        "GET",
        "/roleManagement/directory/roleAssignments?$filter=principalId eq '{oid}'",
        (VERIFY_ROLES,),
        _ROLE_READ,
        "RoleManagement.Read.Directory",
    ),
    GraphCall(
        "GET",
        "/roleManagement/directory/roleAssignments",
        (IMPORT_ADMIN_FLAG,),
        _ROLE_READ,
        "RoleManagement.Read.Directory",
    ),
    GraphCall(
        "POST",
        "/$batch",
        (ALL,),
        (),
        "",
        note="No permission of its own: each request inside is authorized as if sent alone.",
    ),
)


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


REQUIRED_SET: tuple[str, ...] = _unique(c.lockstep_uses for c in CATALOGUE if c.lockstep_uses)


def calls_needing(permission: str) -> tuple[GraphCall, ...]:
    return tuple(c for c in CATALOGUE if c.lockstep_uses == permission)


def satisfying(permission: str) -> tuple[str, ...]:
    """The permissions that allow every call `permission` covers (itself first)."""
    calls = calls_needing(permission)
    common = [p for p in calls[0].documented if all(p in c.documented for c in calls)]
    return _unique([permission, *common])


# Required permission -> the granted permissions that satisfy it.
REQUIRED_PERMISSIONS: dict[str, tuple[str, ...]] = {p: satisfying(p) for p in REQUIRED_SET}

# Required permission -> the features its absence disables.
FEATURES_NEEDING: dict[str, tuple[str, ...]] = {
    p: _unique(f for c in calls_needing(p) for f in c.features) for p in REQUIRED_SET
}


def _path_pattern(path: str) -> re.Pattern[str]:
    """`/users/{id} (passwordProfile)` -> a regex for the request path (query and note dropped)."""
    bare = re.sub(r" \(.*\)$", "", path).split("?", 1)[0]
    parts = [re.escape(part) for part in re.split(r"\{[a-z]+\}", bare)]
    return re.compile("^" + "[^/]+".join(parts) + "/?$", re.IGNORECASE)


_PATTERNS = tuple((call, _path_pattern(call.path)) for call in CATALOGUE)


def calls_matching(method: str, path: str) -> tuple[GraphCall, ...]:
    """The catalogue entries a request (method, path without query) may be; () if none."""
    return tuple(c for c, pattern in _PATTERNS if c.method == method.upper() and pattern.match(path))


def missing_from(granted: Iterable[str]) -> list[str]:
    """The required permissions that `granted` does not satisfy, in catalogue order."""
    held = set(granted)
    return [p for p, ok in REQUIRED_PERMISSIONS.items() if not held & set(ok)]


def disabled_features(missing: Iterable[str]) -> list[str]:
    return list(_unique(f for p in missing for f in FEATURES_NEEDING.get(p, ())))


TABLE_START = "<!-- permissions-table:start (generated by `lockstep permissions-table`; do not edit) -->"
TABLE_END = "<!-- permissions-table:end -->"


def permissions_table() -> str:
    """The Markdown table of docs/m365-setup.md §3, markers included."""
    lines = [
        TABLE_START,
        "| Graph call | Least-privileged permission (Microsoft) | Lockstep asks for | Needed for |",
        "|---|---|---|---|",
    ]
    for call in CATALOGUE:
        least = f"`{call.least_privileged}`" if call.least_privileged else "none"
        asks = f"`{call.lockstep_uses}`" if call.lockstep_uses else "none"
        if call.directory_role:
            least += f" + {call.directory_role} role"
            asks += f" + {call.directory_role} role"
        need = "; ".join(call.features)
        if call.note:
            need += f" ({call.note})"
        lines.append(f"| `{call.method} {call.path}` | {least} | {asks} | {need} |")
    lines.append(TABLE_END)
    return "\n".join(lines) + "\n"

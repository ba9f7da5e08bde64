"""Import (takeover) mechanics: scan a tenant's users, match them, plan and perform the takeover.

No permission checks here: `lockstep.m365.services.imports` is the public, typed API that
validates input, checks the actor and writes the audit rows, then calls into this module.

* `run_scan` pages through `/users` once ($top=999, only the properties Lockstep needs) and
  lists role assignments once, streaming each page into `ImportCandidate` rows, so a
  50,000-user tenant costs about 52 Graph requests and one page of memory.
* `match_accounts` matches remote accounts to the organization's users by primary email:
  `mail`, then `userPrincipalName`, then SMTP proxy addresses; never by display name.
* `plan_operations` asks the sync engine's own planner (`reconcile.plan_user`) what it will
  write once the account is bound, so a plan preview is exactly what the engine will do.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from django.db.models import Count
from django.utils import timezone

from lockstep.directory.models import User, UserState
from lockstep.directory.validation import clean_user_fields
from lockstep.m365 import immutable_ids, mapping, reconcile
from lockstep.m365.graph.client import GraphClient
from lockstep.m365.graph.errors import AccessDenied, GraphError
from lockstep.m365.graph.odata import select as odata_select
from lockstep.m365.graph.paging import MAX_PAGE_SIZE, iter_pages
from lockstep.m365.models import Directory, ImportCandidate, ImportScan, UserBinding

log = logging.getLogger(__name__)

SCAN_SELECT = (*mapping.ACCOUNT_SELECT, "assignedLicenses")
"""The only properties a scan asks for (each one is returned only when selected)."""

KEPT = (
    "userPrincipalName",
    "displayName",
    "givenName",
    "surname",
    "jobTitle",
    "department",
    "businessPhones",
    "mobilePhone",
    "employeeId",
    "usageLocation",
    "accountEnabled",
    "onPremisesImmutableId",
    "onPremisesSyncEnabled",
)
"""Remote values kept per candidate: what the engine compares (and `last_applied` starts from)."""

ROLE_ASSIGNMENTS = "/roleManagement/directory/roleAssignments"
NEW, MATCHED, AMBIGUOUS, BOUND = "new", "matched", "ambiguous", "bound"
STATUSES = (NEW, MATCHED, AMBIGUOUS, BOUND)
ADDRESS_CHUNK = 500
PLACEHOLDER_IMMUTABLE_ID = "(new immutable id)"
USERNAME_MAX = 64
_USERNAME_UNSAFE = re.compile(r"[^A-Za-z0-9.\-_'!#^~]")


# --- remote accounts ---------------------------------------------------------------------------


def smtp_addresses(proxies: Iterable[Any] | None) -> list[str]:
    """The SMTP proxy addresses (primary `SMTP:` and secondary `smtp:`), lower-cased."""
    found: list[str] = []
    for proxy in proxies or ():
        text = str(proxy)
        if text[:5].lower() == "smtp:" and text[5:]:
            address = text[5:].strip().lower()
            if address not in found:
                found.append(address)
    return found


@dataclass(frozen=True)
class RemoteAccount:
    """The addresses of one Microsoft 365 account, for matching."""

    remote_id: str
    upn: str
    mail: str = ""
    proxies: tuple[str, ...] = ()

    def addresses(self) -> list[tuple[str, str]]:
        """(kind, lower-cased address) in matching order: mail, then UPN, then proxy addresses."""
        out = [("mail", self.mail.lower()), ("userPrincipalName", self.upn.lower())]
        out += [("proxyAddresses", p) for p in self.proxies]
        return [(kind, address) for kind, address in out if address]


def account_of(candidate: ImportCandidate) -> RemoteAccount:
    return RemoteAccount(
        remote_id=candidate.remote_id,
        upn=candidate.upn,
        mail=candidate.mail,
        proxies=tuple(candidate.attributes.get("proxyAddresses") or ()),
    )


def candidate_from(item: Mapping[str, Any], admins: set[str]) -> ImportCandidate:
    """An unsaved candidate from one Graph user object (match fields are filled in later)."""
    upn = str(item.get("userPrincipalName") or "")
    attributes = {k: item.get(k) for k in KEPT if item.get(k) not in (None, "", [])}
    proxies = smtp_addresses(item.get("proxyAddresses"))
    if proxies:
        attributes["proxyAddresses"] = proxies
    attributes.setdefault("accountEnabled", bool(item.get("accountEnabled", True)))
    remote_id = str(item.get("id") or "")
    return ImportCandidate(
        remote_id=remote_id,
        upn=upn[:113],
        sort_key=upn.lower()[:113],
        mail=str(item.get("mail") or "")[:254],
        display_name=str(item.get("displayName") or "")[:256],
        licensed=bool(item.get("assignedLicenses")),
        enabled=item.get("accountEnabled") is not False,
        admin=remote_id in admins,
        attributes=attributes,
    )


# --- matching ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    status: str
    user_id: int | None = None
    matched_by: str = ""
    reason: str = ""
    pending_binding: bool = False  # the user is bound here without an account yet: the import links it


def _chunks(values: Sequence[str], size: int = ADDRESS_CHUNK) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def match_accounts(*, directory: Directory, accounts: Sequence[RemoteAccount]) -> dict[str, Match]:
    """Match remote accounts to the organization's users (a few queries per call, any size).

    `bound`: a binding of this directory already holds the account. `matched`: exactly one
    user has one of its addresses as company email. `ambiguous`: several users match
    different addresses, or the one user is bound to another account of this tenant, or
    the account is still being blocked after an unbind. `new`: no user matches.
    """
    addresses = sorted({address for account in accounts for _, address in account.addresses()})
    users: dict[str, tuple[int, str]] = {}
    for chunk in _chunks(addresses):
        found = User.objects.filter(organization_id=directory.organization_id, email__in=chunk)
        for email, user_id, username in found.values_list("email", "id", "username"):
            users[email] = (user_id, username)
    remote_ids = [a.remote_id for a in accounts]
    by_remote: dict[str, tuple[int | None, bool]] = {}
    for chunk in _chunks(remote_ids):
        rows = UserBinding.objects.filter(directory=directory, remote_id__in=chunk)
        for remote_id, user_id, unbound in rows.values_list("remote_id", "user_id", "unbound"):
            if remote_id not in by_remote or (user_id and not unbound):
                by_remote[remote_id] = (user_id, unbound)
    user_ids = sorted({user_id for user_id, _ in users.values()})
    by_user: dict[int, tuple[str, str, bool]] = {}
    for start in range(0, len(user_ids), ADDRESS_CHUNK):
        rows = UserBinding.objects.filter(
            directory=directory, user_id__in=user_ids[start : start + ADDRESS_CHUNK]
        )
        for user_id, remote_id, remote_upn, unbound in rows.values_list(
            "user_id", "remote_id", "remote_upn", "unbound"
        ):
            by_user[user_id] = (remote_id, remote_upn, unbound)
    usernames = {user_id: username for user_id, username in users.values()}
    return {a.remote_id: _match_one(a, users, by_remote, by_user, usernames) for a in accounts}


def _match_one(
    account: RemoteAccount,
    users: Mapping[str, tuple[int, str]],
    by_remote: Mapping[str, tuple[int | None, bool]],
    by_user: Mapping[int, tuple[str, str, bool]],
    usernames: Mapping[int, str],
) -> Match:
    bound = by_remote.get(account.remote_id)
    if bound is not None:
        user_id, unbound = bound
        if user_id and not unbound:
            return Match(BOUND, user_id, "", "Already bound to this Microsoft 365 account.")
        return Match(
            AMBIGUOUS,
            None,
            "",
            "Lockstep is still blocking this account after an unbind or a user deletion; "
            "import it once that has finished.",
        )
    found: dict[int, str] = {}
    for kind, address in account.addresses():
        if address in users:
            found.setdefault(users[address][0], kind)
    if not found:
        return Match(NEW)
    if len(found) > 1:
        shown = ", ".join(f"{usernames[u]} (by {kind})" for u, kind in found.items())
        return Match(
            AMBIGUOUS, None, "", f"Matches several Lockstep users through different addresses: {shown}."
        )
    [(user_id, kind)] = found.items()
    binding = by_user.get(user_id)
    if binding is not None:
        remote_id, remote_upn, unbound = binding
        if unbound:
            return Match(
                AMBIGUOUS,
                user_id,
                kind,
                f"{usernames[user_id]} is being unbound from this directory; import once that has finished.",
            )
        if remote_id and remote_id != account.remote_id:
            return Match(
                AMBIGUOUS,
                user_id,
                kind,
                f"{usernames[user_id]} is already bound to another Microsoft 365 account "
                f"({remote_upn or remote_id}).",
            )
        return Match(
            MATCHED,
            user_id,
            kind,
            f"{usernames[user_id]} is bound to this directory but not yet provisioned: "
            "the import links it to this account.",
            pending_binding=True,
        )
    return Match(MATCHED, user_id, kind)


def mark_duplicate_matches(scan: ImportScan) -> int:
    """Accounts of one scan that match the same Lockstep user are all ambiguous (shown, not guessed)."""
    duplicated = (
        ImportCandidate.objects.filter(scan=scan, status=MATCHED)
        .values("matched_user")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .values_list("matched_user", flat=True)
    )
    changed = 0
    for user_id in list(duplicated):
        rows = ImportCandidate.objects.filter(scan=scan, status=MATCHED, matched_user_id=user_id)
        upns = sorted(rows.values_list("upn", flat=True))
        username = User.objects.filter(pk=user_id).values_list("username", flat=True).first() or str(user_id)
        changed += rows.update(
            status=AMBIGUOUS,
            reason=f"Several Microsoft 365 accounts match {username}: {', '.join(upns)}.",
        )
    return changed


# --- scanning ----------------------------------------------------------------------------------


def admin_principal_ids(client: GraphClient) -> set[str]:
    """Principals holding any Entra directory role (one paged listing of role assignments).

    Only direct assignments: a role held through a role-assignable group is not seen here.
    """
    items = client.iterate(ROLE_ASSIGNMENTS)
    return {str(item.get("principalId")) for item in items if item.get("principalId")}


def parse_count(content: bytes) -> int:
    """A `$count` answer: a number as text/plain, possibly after a UTF-8 byte-order mark
    (some OData services send one; graph-facts §12.3). Raises ValueError if it is no number."""
    return int(content.decode("utf-8-sig").strip())


ADMINS_UNKNOWN = (
    "Admin-role holders could not be identified ({reason}): no account is flagged as an admin, so "
    "check admin accounts yourself before importing them."
)


def admin_principal_ids_or_warning(client: GraphClient) -> tuple[set[str], str]:
    """The admin-role holders, or none and a warning when the role assignments cannot be read.

    Without RoleManagement.Read.Directory the scan still lists every account (its other
    permission, User.ReadWrite.All, covers that); only the admin flag degrades.
    """
    try:
        return admin_principal_ids(client), ""
    except AccessDenied as error:
        log.warning("role assignments unreadable, admin flag degrades: %s", error)
        return set(), ADMINS_UNKNOWN.format(reason="RoleManagement.Read.Directory is missing")


def count_users(client: GraphClient) -> int | None:
    """The tenant's user count for the progress bar (`/users/$count`, eventually consistent), or None."""
    try:
        response = client.transport.request("GET", "/users/$count", headers={"ConsistencyLevel": "eventual"})
        return parse_count(response.content)
    except (GraphError, ValueError):
        return None


def run_scan(scan: ImportScan, client: GraphClient) -> ImportScan:
    """Fill `scan` with one candidate per tenant user, updating its progress row per page."""
    directory = scan.directory
    started = client.stats.http_requests
    ImportCandidate.objects.filter(scan=scan).delete()  # a scan re-run after a worker died
    ImportScan.objects.filter(pk=scan.pk).update(
        state="running", started_at=timezone.now(), pages_done=0, users_seen=0, admins_found=0, error=""
    )
    try:
        ImportScan.objects.filter(pk=scan.pk).update(users_total=count_users(client))
        admins, warning = admin_principal_ids_or_warning(client)
        ImportScan.objects.filter(pk=scan.pk).update(error=warning)  # a warning while the scan is done
        params: dict[str, str | int] = {"$select": odata_select(SCAN_SELECT), "$top": MAX_PAGE_SIZE}
        users = admins_found = 0
        for pages, page in enumerate(iter_pages(client.transport, "/users", params=params), start=1):
            candidates = [candidate_from(item, admins) for item in page.items if item.get("id")]
            matches = match_accounts(directory=directory, accounts=[account_of(c) for c in candidates])
            for candidate in candidates:
                match = matches[candidate.remote_id]
                candidate.scan = scan
                candidate.status = match.status
                candidate.matched_user_id = match.user_id
                candidate.matched_by = match.matched_by
                candidate.reason = match.reason
                if synced(candidate) and match.status != BOUND:
                    candidate.reason = " ".join(filter(None, [mapping.SYNCED_FROM_ON_PREMISES, match.reason]))
            ImportCandidate.objects.bulk_create(candidates, batch_size=500, ignore_conflicts=True)
            users += len(candidates)
            admins_found += sum(1 for c in candidates if c.admin)
            ImportScan.objects.filter(pk=scan.pk).update(
                pages_done=pages,
                users_seen=users,
                admins_found=admins_found,
                graph_requests=client.stats.http_requests - started,
            )
        mark_duplicate_matches(scan)
    except GraphError as error:
        log.warning("import scan %s of directory %s failed: %s", scan.pk, directory.pk, error)
        ImportScan.objects.filter(pk=scan.pk).update(
            state="failed",
            finished_at=timezone.now(),
            error=error.plain_words or error.message or str(error),
            graph_requests=client.stats.http_requests - started,
        )
        scan.refresh_from_db()
        return scan
    except Exception as problem:  # recorded on the row for the admin, then the job fails too
        log.exception("import scan %s of directory %s stopped", scan.pk, directory.pk)
        ImportScan.objects.filter(pk=scan.pk).update(
            state="failed", finished_at=timezone.now(), error=f"The listing stopped: {problem}"
        )
        raise
    ImportScan.objects.filter(pk=scan.pk).update(
        state="done", finished_at=timezone.now(), graph_requests=client.stats.http_requests - started
    )
    # The newest finished scan is the current list; older ones go (their candidates with them).
    ImportScan.objects.filter(directory=directory).exclude(pk=scan.pk).exclude(
        state__in=("queued", "running")
    ).delete()
    scan.refresh_from_db()
    return scan


# --- the Lockstep side of a takeover -----------------------------------------------------------


def username_base(upn: str) -> str:
    """A username from the UPN's local part (Lockstep's username rules; never empty)."""
    local = _USERNAME_UNSAFE.sub("", upn.split("@", 1)[0])
    local = local.lstrip(".-_'!#^~")
    return (local or "user")[:USERNAME_MAX]


def unique_username(upn: str, organization_id: int) -> str:
    """`username_base(upn)`, with -2, -3 ... appended while another user has it."""
    base = username_base(upn)
    taken = User.objects.filter(organization_id=organization_id)
    candidate, n = base, 1
    while taken.filter(username__iexact=candidate).exists():
        n += 1
        suffix = f"-{n}"
        candidate = base[: USERNAME_MAX - len(suffix)] + suffix
    return candidate


def new_user_fields(candidate: ImportCandidate, username: str) -> dict[str, str]:
    """The fields of the Lockstep user an import creates: everything from the remote account.

    The company email is the UPN (so the sign-in name does not change); names and the
    other attributes are the remote values.
    """
    a = candidate.attributes
    phones = a.get("businessPhones") or []
    return {
        "username": username,
        "email": candidate.upn,
        "first_name": str(a.get("givenName") or ""),
        "last_name": str(a.get("surname") or ""),
        "display_name": str(a.get("displayName") or ""),
        "job_title": str(a.get("jobTitle") or ""),
        "department": str(a.get("department") or ""),
        "business_phone": str(phones[0]) if phones else "",
        "mobile_phone": str(a.get("mobilePhone") or ""),
        "employee_id": str(a.get("employeeId") or ""),
        "usage_location": str(a.get("usageLocation") or ""),
    }


def new_user_state(candidate: ImportCandidate, chosen: str) -> str:
    """A disabled account becomes a suspended user: importing it never enables sign-in."""
    return UserState.SUSPENDED if not candidate.enabled else chosen


def unsaved_user(candidate: ImportCandidate, state: str) -> tuple[User | None, dict[str, list[str]]]:
    """The user an import would create for a `new` candidate (unsaved), or the field errors."""
    cleaned, errors = clean_user_fields(
        new_user_fields(candidate, username_base(candidate.upn)), partial=False
    )
    if errors:
        return None, errors
    if not cleaned.get("display_name"):
        full = f"{cleaned.get('first_name', '')} {cleaned.get('last_name', '')}".strip()
        cleaned["display_name"] = full or cleaned["username"]
    user = User(state=new_user_state(candidate, state), immutable_id=PLACEHOLDER_IMMUTABLE_ID, **cleaned)
    return user, {}


def tracked_properties(directory: Directory) -> list[str]:
    """Graph properties a takeover can change: the sign-in name, the anchor and the managed set."""
    out = ["userPrincipalName", "onPremisesImmutableId", "accountEnabled"]
    return out + [p for p in directory.managed() if p not in out]


def last_known(
    candidate: ImportCandidate, directory: Directory, desired: reconcile.DesiredUser
) -> dict[str, Any]:
    """The binding's starting `last_applied`: the remote values, so the engine writes only real differences.

    A UPN equal but for letter case counts as equal (Entra compares UPNs case-insensitively).
    """
    a = candidate.attributes
    known: dict[str, Any] = {p: a.get(p) for p in tracked_properties(directory)}
    known["userPrincipalName"] = candidate.upn
    known["accountEnabled"] = candidate.enabled
    if candidate.upn.lower() == desired.user_principal_name.lower():
        known["userPrincipalName"] = desired.user_principal_name
    known["businessPhones"] = list(a.get("businessPhones") or [])
    return known


def _preview_password() -> str:
    """A plan preview never holds a real password (an import creates no account; a UPN moving
    out of a federated domain gets a random one when the engine plans it)."""
    return "(random password)"


def federated_domains(directory: Directory) -> set[str]:
    return set(directory.domains.filter(authentication_type="Federated").values_list("name", flat=True))


def verified_domains(directory: Directory) -> set[str]:
    return set(directory.domains.filter(is_verified=True).values_list("name", flat=True))


def plan_operations(
    candidate: ImportCandidate, directory: Directory, user: User, *, federated: set[str]
) -> tuple[list[reconcile.Operation], dict[str, Any]]:
    """The writes the sync engine makes after binding `user` to the candidate's account.

    The account's own onPremisesImmutableId stays: the user takes it over (`immutable_ids`).
    """
    desired = mapping.desired_user(user)
    desired = replace(desired, immutable_id=immutable_ids.kept(user, candidate.attributes))
    known = last_known(candidate, directory, desired)
    operations = reconcile.plan_user(
        desired=desired,
        remote_id=candidate.remote_id,
        last_known=known,
        managed=directory.managed(),
        password=None,
        random_password=_preview_password,
        federated=mapping.email_domain(user.email) in federated,
        federated_before=mapping.email_domain(candidate.upn) in federated,
    )
    return operations, known


@dataclass(frozen=True)
class AttributeChange:
    """One Graph property: the current remote value and the value Lockstep will write."""

    property: str
    current: Any
    planned: Any
    changes: bool


def attribute_changes(
    candidate: ImportCandidate, directory: Directory, operations: Sequence[reconcile.Operation]
) -> list[AttributeChange]:
    patch: dict[str, Any] = {}
    for operation in operations:
        if operation.kind == "update_user" and operation.body:
            patch.update(operation.body)
    current = {
        **candidate.attributes,
        "userPrincipalName": candidate.upn,
        "accountEnabled": candidate.enabled,
    }
    out = []
    for prop in tracked_properties(directory):
        now = current.get(prop)
        if prop == "businessPhones":
            now = list(now or [])
        out.append(AttributeChange(prop, now, patch.get(prop, now), prop in patch))
    return out


@dataclass
class Eligibility:
    """Why a candidate would be skipped by an import with these options ("" if it would not)."""

    reasons: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.reasons


def synced(candidate: ImportCandidate) -> bool:
    """The account is synced from on-premises AD by Entra Connect (never imported)."""
    return mapping.synced_from_on_premises(candidate.attributes)


def eligibility(
    candidate: ImportCandidate, *, confirm_admins: bool, include_unlicensed: bool, include_disabled: bool
) -> Eligibility:
    """Why an import skips the candidate. An account synced from on-premises AD is always
    skipped, whatever the options: its source of authority is Entra Connect, which would undo
    (or refuse) every change Lockstep makes, so no option adopts it silently."""
    result = Eligibility()
    if synced(candidate):
        result.reasons.append(mapping.SYNCED_FROM_ON_PREMISES)
    if candidate.admin and not confirm_admins:
        result.reasons.append(
            "Holds an Entra admin role: admin-role holders are imported only with explicit confirmation."
        )
    if not candidate.licensed and not include_unlicensed:
        result.reasons.append("Unlicensed: imported only when unlicensed accounts are included.")
    if not candidate.enabled and not include_disabled:
        result.reasons.append(
            "Sign-in is blocked (disabled): imported only when disabled accounts are included."
        )
    return result
